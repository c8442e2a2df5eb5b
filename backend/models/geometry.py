"""Rotation conversions used by the regressor (docs/tcmr_facts.md, 6D rotations and axis-angle).

* `rot6d_to_rotmat`: the official 6D layout. The 6-vector p is read row-major as the 3x2
  matrix [[p0,p1],[p2,p3],[p4,p5]]; its two columns are Gram-Schmidt'ed (eps 1e-6) into b1, b2
  and the rotation's columns are [b1, b2, b1 x b2].
* `rotmat_to_axis_angle`: the rotation's log map, angle in [0, pi]. It goes through a unit
  quaternion picked with Shepperd's pivot (largest of w, x, y, z), so it stays accurate near
  pi, where the official kornia-style conversion is also well defined, and near 0. For proper
  rotations it agrees with the official conversion to ~5e-7 rad in float32.
"""

from __future__ import annotations

import torch

EPS_6D = 1e-6  # official normalisation floor (lib/utils/geometry.py)


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """(B, J*6) or (..., 6) 6D rotations -> (B*J, 3, 3) rotation matrices (official layout)."""
    m = x.reshape(-1, 3, 2)  # row-major: column 0 = (p0, p2, p4), column 1 = (p1, p3, p5)
    a1, a2 = m[:, :, 0], m[:, :, 1]  # (N, 3) each
    b1 = a1 / a1.norm(dim=1, keepdim=True).clamp_min(EPS_6D)
    u = a2 - (b1 * a2).sum(dim=1, keepdim=True) * b1
    b2 = u / u.norm(dim=1, keepdim=True).clamp_min(EPS_6D)
    b3 = torch.cross(b1, b2, dim=1)
    return torch.stack([b1, b2, b3], dim=-1)  # columns [b1, b2, b3]


def rotmat_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) rotations -> (N, 4) unit quaternions (w, x, y, z) with w >= 0.

    Shepperd's method: each of the four candidate formulas divides by the largest of
    4w^2, 4x^2, 4y^2, 4z^2, which is always >= 1 for a rotation, so none loses precision.
    """
    r = R.reshape(-1, 3, 3)
    m00, m01, m02 = r[:, 0, 0], r[:, 0, 1], r[:, 0, 2]
    m10, m11, m12 = r[:, 1, 0], r[:, 1, 1], r[:, 1, 2]
    m20, m21, m22 = r[:, 2, 0], r[:, 2, 1], r[:, 2, 2]
    # 4*q_k^2 for k = w, x, y, z, and the off-diagonal combinations giving 4*q_k*q_l.
    four_sq = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                           1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=1)  # (N, 4)
    wx, wy, wz = m21 - m12, m02 - m20, m10 - m01
    xy, xz, yz = m01 + m10, m02 + m20, m12 + m21
    candidates = torch.stack([
        torch.stack([four_sq[:, 0], wx, wy, wz], dim=1),
        torch.stack([wx, four_sq[:, 1], xy, xz], dim=1),
        torch.stack([wy, xy, four_sq[:, 2], yz], dim=1),
        torch.stack([wz, xz, yz, four_sq[:, 3]], dim=1),
    ], dim=1)  # (N, 4 pivots, 4): row k holds 4*q_k*(w, x, y, z)
    pivot = four_sq.argmax(dim=1)  # (N,)
    rows = candidates[torch.arange(r.shape[0], device=r.device), pivot]  # (N, 4)
    scale = 0.5 / four_sq.gather(1, pivot[:, None]).clamp_min(1e-12).sqrt()  # 1 / (4 q_pivot)
    q = rows * scale
    q = q / q.norm(dim=1, keepdim=True)
    return torch.where(q[:, :1] < 0, -q, q)


def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(N, 4) unit quaternions (w, x, y, z), w >= 0 -> (N, 3) axis-angle, angle in [0, pi]."""
    w, v = q[:, :1], q[:, 1:]
    sin_half = v.norm(dim=1, keepdim=True)  # (N, 1)
    angle = 2.0 * torch.atan2(sin_half, w)
    # angle / sin(angle/2) -> 2 / w as the angle -> 0 (w -> 1): no division by ~0.
    small = sin_half < 1e-6
    factor = torch.where(small, 2.0 / w.clamp_min(1e-6), angle / sin_half.clamp_min(1e-12))
    return v * factor


def rotmat_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) rotations -> (N, 3) axis-angle (rotation vector), angle in [0, pi]."""
    return quaternion_to_axis_angle(rotmat_to_quaternion(R))
