"""Math of the bake's foot pass (pure numpy): pins for planted feet and two-bone leg IK.

Used by target_foot_ik.py after the rotations are copied onto the user's rig: the rig's legs
have other lengths than SMPL's, so a planted source foot can still slide on the target. Each
planted run of a foot gets one pin (the run's mean ankle position); smoothstep blends over
`blend` frames ramp it in and out; a two-bone IK (thigh about the hip, shin about the knee,
knee kept in its bend plane) brings the ankle onto the pin. Positions in metres, any frame.
(The backend has its own copy, backend/footlock; the add-on and the backend never import
each other.)
"""

from __future__ import annotations

import numpy as np

from .retarget_math import rotation_between

EPS = 1e-9


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end exclusive) of each True run of a 1-D bool array."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.nonzero(np.diff(m.astype(np.int8)))[0]
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def ankle_goals(ankle: np.ndarray, planted: np.ndarray, blend: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """ankle (F,3), planted (F,) bool -> goals (F,3) and weights (F,): the run's mean position
    inside a run, blended towards the free ankle over `blend` frames outside it."""
    f_count = len(ankle)
    weight = np.zeros(f_count)
    pin = ankle.copy()
    frames = np.arange(f_count)
    for s, e in runs(planted):
        mean = ankle[s:e].mean(axis=0)
        gap = np.maximum(s - frames, frames - (e - 1)).clip(min=0)
        x = np.clip(1.0 - gap / (blend + 1.0), 0.0, 1.0)
        w = x * x * (3.0 - 2.0 * x)
        better = w > weight
        weight[better] = w[better]
        pin[better] = mean
    return ankle + weight[:, None] * (pin - ankle), weight


def two_bone(hip, knee, ankle, goal, bend_hint, reach: float = 0.999):
    """(N,3) world positions -> (thigh rotation (N,3,3) about the hip, shin rotation (N,3,3)
    about the new knee, new knee (N,3), new ankle (N,3)). Out of reach: the leg straightens
    towards the goal."""
    l1 = np.linalg.norm(knee - hip, axis=-1)
    l2 = np.linalg.norm(ankle - knee, axis=-1)
    to_goal = goal - hip
    dist = np.linalg.norm(to_goal, axis=-1)
    e = to_goal / np.maximum(dist, EPS)[:, None]
    d = np.clip(dist, np.abs(l1 - l2) * 1.001 + 1e-6, (l1 + l2) * reach)
    q = (knee - hip) - np.sum((knee - hip) * e, axis=-1, keepdims=True) * e
    weak = np.linalg.norm(q, axis=-1) < 1e-4 * np.maximum(l1, EPS)
    hint = bend_hint - np.sum(bend_hint * e, axis=-1, keepdims=True) * e
    q[weak] = hint[weak]
    q /= np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), EPS)
    cos_a = np.clip((l1 ** 2 + d ** 2 - l2 ** 2) / np.maximum(2.0 * l1 * d, EPS), -1.0, 1.0)
    new_knee = hip + l1[:, None] * (cos_a[:, None] * e + np.sqrt(1.0 - cos_a ** 2)[:, None] * q)
    new_ankle = hip + d[:, None] * e
    r1 = rotation_between(knee - hip, new_knee - hip)
    r2 = rotation_between(np.einsum("nab,nb->na", r1, ankle - knee), new_ankle - new_knee)
    return r1, r2, new_knee, new_ankle


def about(rotation: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """4x4 world transforms (N,4,4) rotating by rotation (N,3,3) about pivot (N,3)."""
    out = np.tile(np.eye(4), (len(pivot), 1, 1))
    out[:, :3, :3] = rotation
    out[:, :3, 3] = pivot - np.einsum("nab,nb->na", rotation, pivot)
    return out
