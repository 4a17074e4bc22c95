"""Offscreen frames of a MuJoCo model from a tracking camera: one renderer for backends, play and sim2sim.

Torch-free (sim2sim imports it). Needs an OpenGL context: ``MUJOCO_GL=egl`` on a machine with no display.
"""

from __future__ import annotations

import mujoco
import numpy as np

from fpo_locomotion.errors import UserError


class FrameRecorder:
    """RGB frames of a model from a camera that follows a point (``mujoco.Renderer``, offscreen with MUJOCO_GL=egl).

    Shadow maps are capped at 1024 px: on a CPU (llvmpipe) the MJCF's 4096 px map is most of a frame's cost.
    """

    def __init__(self, model: mujoco.MjModel, width: int = 640, height: int = 480, distance: float = 3.0):
        vis = model.vis.global_
        vis.offwidth, vis.offheight = max(vis.offwidth, width), max(vis.offheight, height)
        model.vis.quality.shadowsize = min(model.vis.quality.shadowsize, 1024)
        try:
            self.renderer = mujoco.Renderer(model, height, width)
        except Exception as e:  # no OpenGL context: no display and no EGL/OSMesa
            raise UserError(f"Cannot render ({type(e).__name__}: {e}). Without a display set MUJOCO_GL=egl (needs "
                            "libegl1, libgl1-mesa-dri) or MUJOCO_GL=osmesa (needs libosmesa6).") from None
        self.camera = mujoco.MjvCamera()
        self.camera.distance, self.camera.azimuth, self.camera.elevation = distance, 135.0, -20.0

    def frame(self, data: mujoco.MjData, lookat: np.ndarray) -> np.ndarray:
        self.camera.lookat[:] = lookat
        self.renderer.update_scene(data, self.camera)
        return self.renderer.render().copy()

    def close(self) -> None:
        self.renderer.close()
