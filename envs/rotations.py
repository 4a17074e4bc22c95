"""Rotation matrices of unit quaternions (w, x, y, z) as one linear map of the quaternion's pairwise products.

Every entry of a rotation matrix is quadratic in its quaternion, so ``R = I + (q q^T).flatten() @ ROTATION_FORM``:
a batch of rotations costs one outer product and one matmul instead of ~40 elementwise array operations,
which is what matters for small batches on a CPU (numpy in the MuJoCo backend, torch in the tasks, which
take the columns they need). ``quat_apply`` / ``quat_apply_inverse`` rotate torch vectors directly (the MuJoCo
Warp backend, the accelerometer term).
"""

from __future__ import annotations

import numpy as np
import torch


def _rotation_form() -> np.ndarray:
    """[16, 9]: row 4 i + j is the product q_i q_j ((w, x, y, z) = (0, 1, 2, 3)), column the entry of R (row-major)."""
    form = np.zeros((16, 9))
    for entry, terms in enumerate([{10: -2, 15: -2}, {6: 2, 3: -2}, {7: 2, 2: 2},
                                   {6: 2, 3: 2}, {5: -2, 15: -2}, {11: 2, 1: -2},
                                   {7: 2, 2: -2}, {11: 2, 1: 2}, {5: -2, 10: -2}]):
        for product, coefficient in terms.items():
            form[product, entry] = coefficient
    return form


ROTATION_FORM = _rotation_form()
"""[16, 9] coefficients of R - I (body to world, row-major) in the products q_i q_j."""
IDENTITY = np.eye(3)


def rotation_matrices(quat: np.ndarray) -> np.ndarray:
    """Rotation matrices [N, 3, 3] (body to world) of unit quaternions ``quat`` [N, 4] (w, x, y, z)."""
    products = (quat[:, :, None] * quat[:, None, :]).reshape(-1, 16)
    return (products @ ROTATION_FORM).reshape(-1, 3, 3) + IDENTITY


def quat_apply(quat: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    """Rotate ``vec`` [..., 3] by unit quaternions ``quat`` [..., 4] (w, x, y, z)."""
    w, xyz = quat[..., :1], quat[..., 1:]
    t = 2.0 * torch.cross(xyz, vec, dim=-1)
    return vec + w * t + torch.cross(xyz, t, dim=-1)


def quat_apply_inverse(quat: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    """Rotate ``vec`` [..., 3] by the inverse of unit quaternions ``quat`` [..., 4] (w, x, y, z)."""
    return quat_apply(torch.cat([quat[..., :1], -quat[..., 1:]], dim=-1), vec)
