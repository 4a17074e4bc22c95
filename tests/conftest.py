import os

# MuJoCo picks its OpenGL backend at first import: headless EGL for the render/play/video tests.
os.environ.setdefault("MUJOCO_GL", "egl")

import torch  # noqa: E402

# One intra-op thread: the test networks are small (threads only add overhead) and results stay
# independent of how busy the machine is.
torch.set_num_threads(1)
