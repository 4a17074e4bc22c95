# fpo-locomotion on an NVIDIA GPU: MuJoCo Warp backend, CUDA torch.
#   docker build -t fpo-locomotion .
#   docker run --rm --gpus all -v "$PWD/logs:/app/logs" fpo-locomotion train --task G1-Flat --backend mjwarp --device cuda --num-envs 4096
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    MUJOCO_GL=egl \
    PATH=/opt/venv/bin:$PATH

# Python, and EGL for headless MuJoCo rendering (play, videos); the base image pins the distribution.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12 python3.12-venv libegl1 libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && python3.12 -m venv /opt/venv

WORKDIR /app
RUN pip install torch==2.9.1 --index-url https://download.pytorch.org/whl/cu128
COPY pyproject.toml README.md ./
COPY fpo_locomotion ./fpo_locomotion
COPY envs ./envs
COPY tasks ./tasks
COPY resources ./resources
# The package itself, its dependency ranges come from pyproject.toml.
# hadolint ignore=DL3013
RUN pip install ".[gpu]"

ENTRYPOINT ["fpo-loco"]
CMD ["--help"]
