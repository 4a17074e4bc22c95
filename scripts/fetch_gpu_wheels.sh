#!/usr/bin/env bash
# Download the wheels that a borrowed GPU machine (CPython 3.12, Linux x86_64, no internet) needs beyond
# its image, into the git-ignored folder wheels/, laid out for carrying across device calls of < 64 MiB:
#
#   wheels/part1 .. wheels/partK  warp-lang's wheel (~150 MB) cut by `split -b $PART_SIZE` (default 50M)
#   wheels/small                  every other wheel (~30 MB), carried with the last part
#
# The image already holds torch, numpy, onnx, onnxruntime, onnxscript, tensorboard, tqdm, pyyaml, absl-py,
# etils, zipp, cloudpickle, matplotlib and imageio; scripts/gpu_check.sh joins the parts and installs all.
# Usage: scripts/fetch_gpu_wheels.sh            (PYTHON=... to pick the python whose pip downloads)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PART_SIZE=${PART_SIZE:-50M}
WARP=warp-lang==1.19.0
SMALL=(mujoco==4.0.0 mujoco-core==4.0.0 mujoco-warp==4.0.0 rsl-rl-lib==5.5.1 tensordict==0.15.3 pyvers==0.2.3
       GitPython==3.2.1 gitdb==4.0.12 smmap==5.0.3)

download() {  # download DEST SPEC...: binary wheels for CPython 3.12 on manylinux x86_64, no dependencies
    local dest=$1; shift
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$dest" "$@"
}

rm -rf wheels/small wheels/part* wheels/tmp
mkdir -p wheels/small wheels/tmp
download wheels/small "${SMALL[@]}"
download wheels/tmp "$WARP"
warp_wheel=$(ls wheels/tmp/warp_lang-*.whl)
name=$(basename "$warp_wheel")
(cd wheels/tmp && split -b "$PART_SIZE" -d -a 1 "$name" "$name.part")
k=0
for part in wheels/tmp/"$name".part*; do
    k=$((k + 1))
    mkdir -p "wheels/part$k"
    mv "$part" "wheels/part$k/"
done
sha256sum "$warp_wheel" | awk '{print $1}' >"wheels/small/$name.sha256"
rm -rf wheels/tmp

git check-ignore -q wheels/small || echo "warning: wheels/ is not git-ignored: it would travel with every device call" >&2
du -sh wheels/small wheels/part* | sed 's/^/  /'
echo "carry one wheels/partN per device call (in order, while the machine stays warm), then wheels/small with the last part"
