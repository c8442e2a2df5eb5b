"""Two-bone leg IK (hip, knee, ankle) in world space, vectorised over frames.

The knee stays in the leg's current bend plane (the plane through hip, knee and goal), so the
knee keeps pointing where the network put it. Out-of-reach goals straighten the leg towards
the goal (the ankle then stops short). Results are world-space rotations to apply on top of
the current global rotations: the thigh's about the hip, then the shin's about the new knee.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-9


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimal rotations (N,3,3) taking directions a (N,3) onto b (N,3)."""
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), EPS)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), EPS)
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    vx = np.zeros((*a.shape[:-1], 3, 3))
    vx[..., 0, 1], vx[..., 0, 2], vx[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    vx[..., 1, 0], vx[..., 2, 0], vx[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    scale = 1.0 / np.maximum(1.0 + c, EPS)
    out = np.eye(3) + vx + (vx @ vx) * scale[..., None, None]
    opposite = c < -1.0 + 1e-9  # half turn about any axis perpendicular to a
    if np.any(opposite):
        ax = np.cross(a[opposite], np.array([1.0, 0.0, 0.0]))
        weak = np.linalg.norm(ax, axis=-1) < 1e-6
        ax[weak] = np.cross(a[opposite][weak], np.array([0.0, 1.0, 0.0]))
        ax /= np.linalg.norm(ax, axis=-1, keepdims=True)
        out[opposite] = 2.0 * ax[:, :, None] * ax[:, None, :] - np.eye(3)
    return out


def two_bone(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, goal: np.ndarray,
             bend_hint: np.ndarray, reach: float = 0.999) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """hip, knee, ankle, goal (N,3) world positions; bend_hint (N,3) a direction the knee
    bends towards when the leg is straight (e.g. the body's forward). Returns (thigh rotation
    (N,3,3), shin rotation (N,3,3), reached (N,) bool). New knee = hip + R1 (knee - hip); new
    ankle = new knee + R2 R1 (ankle - knee) = goal where reached."""
    l1 = np.linalg.norm(knee - hip, axis=-1)
    l2 = np.linalg.norm(ankle - knee, axis=-1)
    to_goal = goal - hip
    dist = np.linalg.norm(to_goal, axis=-1)
    e = to_goal / np.maximum(dist, EPS)[:, None]
    lo, hi = np.abs(l1 - l2) * 1.001 + 1e-6, (l1 + l2) * reach
    reached = (dist >= lo) & (dist <= hi)
    d = np.clip(dist, lo, hi)
    # bend direction: the current knee's offset from the hip->goal line, else the hint
    q = (knee - hip) - np.sum((knee - hip) * e, axis=-1, keepdims=True) * e
    weak = np.linalg.norm(q, axis=-1) < 1e-4 * np.maximum(l1, EPS)
    hint = bend_hint - np.sum(bend_hint * e, axis=-1, keepdims=True) * e
    q[weak] = hint[weak]
    q /= np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), EPS)
    cos_a = np.clip((l1 ** 2 + d ** 2 - l2 ** 2) / np.maximum(2.0 * l1 * d, EPS), -1.0, 1.0)
    sin_a = np.sqrt(1.0 - cos_a ** 2)
    new_knee = hip + l1[:, None] * (cos_a[:, None] * e + sin_a[:, None] * q)
    new_ankle = hip + d[:, None] * e
    r1 = rotation_between(knee - hip, new_knee - hip)
    shin = np.einsum("nab,nb->na", r1, ankle - knee)
    r2 = rotation_between(shin, new_ankle - new_knee)
    return r1, r2, reached
