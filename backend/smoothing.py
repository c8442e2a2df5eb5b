"""Optional temporal smoothing of a track (off by default: the official demo does none).

Rotations are filtered as unit quaternions, never as axis-angle (which flips near pi, and TCMR
roots sit near pi about x): each joint's quaternion sequence is first made sign-continuous
(q and -q are the same rotation), then filtered and renormalised, so every output is a valid
rotation. Translation is filtered separately, per component.

    "oneeuro": the one-euro filter (Casiez et al. 2012) with VIBE's pose defaults, time in frames
               (docs/tcmr_facts.md, Smoothing: lib/utils/smooth_pose.py, dead code in TCMR).
    "slerp":   TCMR's evaluate.py --filter (MEVA style): q_t <- slerp(q_{t-1}, q_t, 0.3),
               translation by the same exponential weight.
Shapes: F frames, J joints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

METHODS = ("none", "oneeuro", "slerp")


@dataclass(frozen=True)
class SmoothingConfig:
    method: str = "none"
    # one-euro, rotations (VIBE smooth_pose defaults; time unit = one frame)
    rot_min_cutoff: float = 0.004
    rot_beta: float = 0.7
    # one-euro, translation in metres per frame: cut noise at rest, follow real motion
    transl_min_cutoff: float = 0.02
    transl_beta: float = 1.0
    d_cutoff: float = 1.0
    # slerp / exponential weight of the new sample
    slerp_weight: float = 0.3

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown smoothing '{self.method}', use one of {METHODS}")


def aa_to_quat(aa: np.ndarray) -> np.ndarray:
    """(F,J,3) axis-angle -> (F,J,4) quaternions (x,y,z,w)."""
    aa = np.asarray(aa, dtype=np.float64)
    return Rotation.from_rotvec(aa.reshape(-1, 3)).as_quat().reshape(*aa.shape[:-1], 4)


def quat_to_aa(q: np.ndarray) -> np.ndarray:
    """(F,J,4) quaternions (x,y,z,w), any norm > 0 -> (F,J,3) axis-angle."""
    q = np.asarray(q, dtype=np.float64)
    return Rotation.from_quat(q.reshape(-1, 4)).as_rotvec().reshape(*q.shape[:-1], 3)


def sign_continuous(q: np.ndarray) -> np.ndarray:
    """(F,J,4): flip q_t to -q_t where it points away from the (already flipped) q_{t-1}."""
    q = np.array(q, dtype=np.float64)
    for t in range(1, len(q)):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0  # (J,)
        q[t, flip] *= -1.0
    return q


def _alpha(cutoff, te: float = 1.0):
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / te)


def one_euro(x: np.ndarray, min_cutoff: float, beta: float, d_cutoff: float = 1.0,
             group_axis_last: bool = True) -> np.ndarray:
    """One-euro filter along axis 0 of x (F,...,C); the speed that adapts the cutoff is the norm
    over the last axis (one cutoff per quaternion / per vector), time unit one frame."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    out[0] = x[0]
    dx_hat = np.zeros_like(x[0])
    a_d = _alpha(d_cutoff)
    for t in range(1, len(x)):
        dx = x[t] - out[t - 1]
        dx_hat = a_d * dx + (1.0 - a_d) * dx_hat
        speed = np.linalg.norm(dx_hat, axis=-1, keepdims=True) if group_axis_last else np.abs(dx_hat)
        a = _alpha(min_cutoff + beta * speed)
        out[t] = a * x[t] + (1.0 - a) * out[t - 1]
    return out


def slerp_filter(q: np.ndarray, weight: float) -> np.ndarray:
    """(F,J,4) sign-continuous unit quaternions -> recursive q_t <- slerp(q_{t-1}, q_t, weight)."""
    out = np.empty_like(q)
    out[0] = q[0]
    for t in range(1, len(q)):
        a, b = out[t - 1], q[t].copy()
        dot = np.sum(a * b, axis=-1)  # (J,)
        b[dot < 0] *= -1.0
        dot = np.clip(np.abs(dot), -1.0, 1.0)
        theta = np.arccos(dot)[:, None]  # (J, 1)
        small = theta[:, 0] < 1e-6
        sin = np.where(small[:, None], 1.0, np.sin(theta))
        wa = np.where(small[:, None], 1.0 - weight, np.sin((1.0 - weight) * theta) / sin)
        wb = np.where(small[:, None], weight, np.sin(weight * theta) / sin)
        r = wa * a + wb * b
        out[t] = r / np.linalg.norm(r, axis=-1, keepdims=True)
    return out


def smooth_rotations(aa: np.ndarray, config: SmoothingConfig) -> np.ndarray:
    """(F,J,3) axis-angle -> (F,J,3) smoothed axis-angle (unchanged for method 'none' or F < 2)."""
    aa = np.asarray(aa, dtype=np.float64)
    if config.method == "none" or len(aa) < 2:
        return aa.copy()
    q = sign_continuous(aa_to_quat(aa))
    if config.method == "oneeuro":
        q = one_euro(q, config.rot_min_cutoff, config.rot_beta, config.d_cutoff)
        q /= np.linalg.norm(q, axis=-1, keepdims=True)
    else:
        q = slerp_filter(q, config.slerp_weight)
    return quat_to_aa(q)


def smooth_translation(transl: np.ndarray, config: SmoothingConfig) -> np.ndarray:
    """(F,3) metres -> (F,3) smoothed (unchanged for method 'none' or F < 2)."""
    transl = np.asarray(transl, dtype=np.float64)
    if config.method == "none" or len(transl) < 2:
        return transl.copy()
    if config.method == "oneeuro":
        return one_euro(transl, config.transl_min_cutoff, config.transl_beta, config.d_cutoff)
    out = np.empty_like(transl)
    out[0] = transl[0]
    w = config.slerp_weight
    for t in range(1, len(transl)):
        out[t] = (1.0 - w) * out[t - 1] + w * transl[t]
    return out
