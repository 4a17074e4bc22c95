#!/usr/bin/env bash
# One prepared command for a borrowed GPU machine (no internet; torch, numpy, onnx, onnxruntime in its image):
#   1. install the wheels carried in wheels/ (scripts/fetch_gpu_wheels.sh: warp-lang in parts, joined here)
#      and this package (pip install --no-deps -e .);
#   2. run tests/test_mjwarp_parity.py with the MJWarp side on the GPU (MuJoCo CPU is the reference);
#   3. measure (fpo_locomotion.bench.gpu_check): raw backend and full G1-Flat env-steps/s per env count,
#      FPO iteration times; print ONE JSON line last (also written to $OUT/gpu_check.json when $OUT is set).
#
# Usage, from the repository root:  scripts/gpu_check.sh [arguments of python -m fpo_locomotion.bench.gpu_check]
# Environment: PYTHON (python3), DEVICE (cuda), SKIP_INSTALL=1 (use what is installed), SKIP_TESTS=1.
# On a CPU-only machine, to check the script itself:
#   SKIP_INSTALL=1 PYTHON=.venv/bin/python DEVICE=cpu scripts/gpu_check.sh --sizes 16 --fpo-envs 16 --fpo-iters 2
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
LOGS=${OUT:-/tmp/fpo_gpu_check}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1
log() { echo "[gpu_check] $*" >&2; }

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    parts=(wheels/part*/warp_lang-*.whl.part*)  # part1/..part0, part2/..part1, ...: glob order is join order
    small=(wheels/small/*.whl)
    if [ ! -e "${parts[0]}" ] || [ ! -e "${small[0]}" ]; then
        log "no wheels: run scripts/fetch_gpu_wheels.sh here and carry wheels/partN, then wheels/small"; exit 2
    fi
    name=$(basename "${parts[0]}")
    name=${name%.part*}
    cat "${parts[@]}" >"/tmp/$name"
    echo "$(cat "wheels/small/$name.sha256")  /tmp/$name" | sha256sum -c --quiet || { log "joined $name is damaged"; exit 2; }
    log "installing $name (${#parts[@]} parts) and ${#small[@]} wheels"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-cache-dir "/tmp/$name" "${small[@]}"
    if ! "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation -e . >"$LOGS/install.log" 2>&1; then
        # E.g. an old setuptools without the wheel package. Python runs from this folder (cwd first on
        # sys.path): links put envs/, tasks/, resources/ where the installed package would have them.
        log "pip install -e . failed (see $LOGS/install.log): linking envs, tasks, resources into fpo_locomotion/"
        for d in envs tasks resources; do [ -e "fpo_locomotion/$d" ] || ln -s "../$d" "fpo_locomotion/$d"; done
    fi
fi

if [ "${SKIP_TESTS:-0}" != 1 ]; then
    log "parity tests on $DEVICE"
    # Rendering needs PyOpenGL and an EGL driver, which the GPU image does not carry.
    FPO_MJWARP_TEST_DEVICE=$DEVICE "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_mjwarp_parity.py \
        -k "not render" >"$LOGS/parity.log" 2>&1 || true
    tail -n 25 "$LOGS/parity.log" >&2
    parity=(--parity-log "$LOGS/parity.log")
else
    parity=()
fi

log "measuring on $DEVICE"
"$PYTHON" -m fpo_locomotion.bench.gpu_check --device "$DEVICE" "${parity[@]}" "$@" | tee "$LOGS/gpu_check.json"
