"""Pure math of the rig baker: rest alignment, root path, key continuity and simplification.

numpy only. Vectors are world-space (Blender: Z up, metres). F = frames, C = channels.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def rotation_between(a, b) -> np.ndarray:
    """(...,3,3) smallest rotations taking directions a (...,3) onto directions b (...,3), any
    lengths; exactly opposite directions: a half turn about an axis across a. The add-on's one
    copy (the bake's rest alignment, the foot pins' leg IK, the lifted rig's bone swings).

    E.g. it poses a target bone from its own rest direction (an A-pose arm) onto the source's
    rest direction (SMPL's T-pose arm) before the helper offsets are taken."""
    a = np.asarray(a, dtype=np.float64)
    shape = a.shape[:-1]
    a = a.reshape(-1, 3)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 3)
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), _EPS)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), _EPS)
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    vx = np.zeros((len(a), 3, 3))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx[:, 1, 0], vx[:, 2, 0], vx[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    out = np.eye(3) + vx + (vx @ vx) / np.maximum(1.0 + c, _EPS)[:, None, None]
    opposite = c < -1.0 + 1e-9
    if np.any(opposite):
        axis = np.cross(a[opposite], [1.0, 0.0, 0.0])
        weak = np.linalg.norm(axis, axis=-1) < 1e-6
        axis[weak] = np.cross(a[opposite][weak], [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        out[opposite] = 2.0 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return out.reshape(*shape, 3, 3)


def facing_turn(source_side, target_side) -> tuple[float, float]:
    """(turn, yaw) in radians about world Z: yaw is the signed angle from the target's
    right-to-left hip vector to the source's, seen from above; turn is yaw snapped to a
    multiple of 90 degrees (rigs face +-X or +-Y; small asymmetries must not tilt the motion).

    source_side, target_side: (3,) or (2,) vectors from the right hip to the left hip."""
    a = np.asarray(target_side, dtype=np.float64)[:2]
    b = np.asarray(source_side, dtype=np.float64)[:2]
    if np.linalg.norm(a) < 1e-9 or np.linalg.norm(b) < 1e-9:
        return 0.0, 0.0
    yaw = float(np.arctan2(a[0] * b[1] - a[1] * b[0], a @ b))
    turn = float(np.round(yaw / (np.pi / 2)) * (np.pi / 2))
    if np.isclose(abs(turn), np.pi):
        turn = float(np.pi)
    return turn, yaw


def hip_height(hips, feet) -> float:
    """Height of the hips joint above the lowest foot joint (world Z), metres.

    hips: (3,) position; feet: (N,3) ankle/toe joint positions of the same rig at rest."""
    feet = np.asarray(feet, dtype=np.float64).reshape(-1, 3)
    return float(np.asarray(hips, dtype=np.float64)[2] - feet[:, 2].min())


def root_path(source, source_ref, target_ref, scale: float, in_place: bool = False) -> np.ndarray:
    """(F,3) world positions for the target's hips.

    source: (F,3) source pelvis world positions; source_ref: (3,) the source position that
    corresponds to target_ref (3,), the target hips rest position. The displacement from
    source_ref is scaled by `scale` (the hip-height ratio). in_place keeps X and Y at
    target_ref (no horizontal root motion) and keeps the scaled vertical motion."""
    source = np.asarray(source, dtype=np.float64).reshape(-1, 3)
    offset = (source - np.asarray(source_ref, dtype=np.float64)) * float(scale)
    if in_place:
        offset[:, :2] = 0.0
    return np.asarray(target_ref, dtype=np.float64) + offset


def simplify_keys(values, tolerance: float) -> np.ndarray:
    """Indices of the keys to keep so that linear interpolation between kept keys reproduces
    every frame within `tolerance` (max abs error per channel). First and last always stay.

    values: (F,C) one property's channels sampled every frame (e.g. a quaternion's 4 curves,
    kept together so they share key frames). Ramer-Douglas-Peucker on the frame axis."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    count = len(v)
    if count <= 2:
        return np.arange(count)
    keep = np.zeros(count, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, count - 1)]
    while stack:
        lo, hi = stack.pop()
        if hi - lo < 2:
            continue
        t = (np.arange(lo + 1, hi) - lo) / (hi - lo)  # (n,)
        line = v[lo] + t[:, None] * (v[hi] - v[lo])  # (n,C)
        error = np.abs(v[lo + 1:hi] - line).max(axis=1)
        worst = int(np.argmax(error))
        if error[worst] > tolerance:
            mid = lo + 1 + worst
            keep[mid] = True
            stack.append((lo, mid))
            stack.append((mid, hi))
    return np.flatnonzero(keep)
