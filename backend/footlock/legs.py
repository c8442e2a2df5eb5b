"""Pin planted feet and re-pose the legs (two-bone IK), per leg, on world-frame joints.

Per leg and contact run (ankle or foot joint planted), the pin is the run's mean joint
position with its height set so that the sole touches z = 0. Blends of `blend` frames on
each side ramp the pin in and out (smoothstep), so a pinned foot never jumps. While both
joints of a foot are planted the foot is turned flat (canonical up -> world up) at the run's
mean heading. Only hip, knee and ankle local rotations change; the pelvis does not move.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from backend.smpl_file import SMPL_PARENTS as PARENTS

from .body import LEGS, BodyModel
from .contacts import runs
from .leg_ik import two_bone

# Canonical SMPL (x left, y up, z forward) -> world (z up) for a body facing -Y: +90 deg about x.
UPRIGHT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def schedule(mask: np.ndarray, blend: int) -> tuple[np.ndarray, np.ndarray]:
    """mask (T,) bool planted -> (run index per frame or -1, weight (T,) in [0,1]): 1 inside a
    run, a smoothstep ramp over `blend` frames either side, the nearer run where ramps meet."""
    t_count = len(mask)
    index = np.full(t_count, -1)
    weight = np.zeros(t_count)
    planted = [(s, e) for s, e, v in runs(mask) if v]
    frames = np.arange(t_count)
    for i, (s, e) in enumerate(planted):
        gap = np.maximum(s - frames, frames - (e - 1)).clip(min=0)  # frames outside the run
        x = np.clip(1.0 - gap / (blend + 1.0), 0.0, 1.0)
        w = x * x * (3.0 - 2.0 * x)
        better = w > weight
        index[better], weight[better] = i, w[better]
    return index, weight


def _pins(points: np.ndarray, heights: np.ndarray, mask: np.ndarray, floor_height: float | None):
    """Mean position per run of `mask`: points (T,3), heights (T,) of the sole below. Pin z =
    floor_height (a flat foot's joint height) or the run's median joint height above its sole."""
    pins = []
    for s, e, v in runs(mask):
        if not v:
            continue
        p = points[s:e].mean(axis=0)
        p[2] = floor_height if floor_height is not None else float(np.median(points[s:e, 2] - heights[s:e]))
        pins.append(p)
    return np.array(pins).reshape(-1, 3)


def _heading(rot: np.ndarray) -> np.ndarray:
    """Yaw (T,) of the canonical forward axis of rotations (T,3,3), about world z."""
    fwd = rot[:, :, 2]
    return np.arctan2(fwd[:, 1], fwd[:, 0])


def _flat(yaw: np.ndarray) -> np.ndarray:
    """Flat foot rotations (T,3,3) whose forward has heading `yaw`."""
    turn = Rotation.from_euler("z", (yaw + np.pi / 2.0)[:, None]).as_matrix()  # UPRIGHT's forward is -Y
    return turn @ UPRIGHT


def _slerp_to(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    ra = Rotation.from_matrix(a)
    rel = (ra.inv() * Rotation.from_matrix(b)).as_rotvec() * w[:, None]
    return (ra * Rotation.from_rotvec(rel)).as_matrix()


def flat_ankle_height(body: BodyModel, ankle_col: int, foot_col: int) -> float:
    """Height of the ankle above the lowest sole vertex of its foot in the rest pose (flat)."""
    lowest = min(body.sole_rest[ankle_col, :, 1].min(), body.sole_rest[foot_col, :, 1].min())
    return float(body.rest_joints[(7, 8, 10, 11)[ankle_col], 1] - lowest)


def lock_leg(side: str, body: BodyModel, local: np.ndarray, pos: np.ndarray, glob: np.ndarray,
             heights: np.ndarray, planted: np.ndarray, blend: int, flat_feet: bool) -> dict:
    """Re-pose one leg in place. local/glob (T,24,3,3), pos (T,24,3) world joints, heights
    (T,4) sole heights, planted (T,4) bool. Updates `local` rows hip/knee/ankle; returns stats."""
    hip, knee, ankle, foot, ca, cf = LEGS[side]
    idx_a, w_a = schedule(planted[:, ca], blend)
    idx_f, w_f = schedule(planted[:, cf], blend)
    active = np.maximum(w_a, w_f) > 0.0
    if not active.any():
        return {"frames": 0, "unreached": 0}
    flat_h = flat_ankle_height(body, ca, cf)
    both = planted[:, ca] & planted[:, cf]
    pins_a = _pins(pos[:, ankle], heights[:, ca], planted[:, ca], flat_h if flat_feet else None)
    pins_f = _pins(pos[:, foot], heights[:, cf], planted[:, cf], None)

    # foot orientation: flat at the run's mean heading while both joints are planted
    g_ankle = glob[:, ankle].copy()
    if flat_feet:
        idx_b, w_b = schedule(both, blend)
        yaw = _heading(g_ankle)
        run_yaw = np.zeros(len(yaw))
        for i in range(idx_b.max() + 1):
            sel = (idx_b == i) & both
            run_yaw[idx_b == i] = np.arctan2(np.sin(yaw[sel]).mean(), np.cos(yaw[sel]).mean())
        on = w_b > 0.0
        g_ankle[on] = _slerp_to(g_ankle[on], _flat(run_yaw[on]), w_b[on])

    # ankle goal: its own pin, or the foot joint's pin minus the (new) foot segment
    rest = body.rest_joints
    goal = pos[:, ankle].copy()
    use_a = (w_a >= w_f) & (idx_a >= 0)
    use_f = ~use_a & (idx_f >= 0)
    goal[use_a] += w_a[use_a, None] * (pins_a[idx_a[use_a]] - pos[use_a, ankle])
    seg = np.einsum("tab,b->ta", g_ankle, rest[foot] - rest[ankle])
    from_foot = pins_f[idx_f[use_f]] - seg[use_f]
    goal[use_f] += w_f[use_f, None] * (from_foot - pos[use_f, ankle])

    t = np.nonzero(active)[0]
    forward = glob[t, 0][:, :, 2]
    r1, r2, reached = two_bone(pos[t, hip], pos[t, knee], pos[t, ankle], goal[t], forward)
    g_hip = r1 @ glob[t, hip]
    g_knee = r2 @ r1 @ glob[t, knee]
    parent = glob[t, PARENTS[hip]]
    local[t, hip] = np.swapaxes(parent, 1, 2) @ g_hip
    local[t, knee] = np.swapaxes(g_hip, 1, 2) @ g_knee
    local[t, ankle] = np.swapaxes(g_knee, 1, 2) @ g_ankle[t]
    return {"frames": len(t), "unreached": int((~reached).sum())}
