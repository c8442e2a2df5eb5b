"""A synthetic lifted clip with known joints: a body-shaped H36M skeleton moved by forward
kinematics (random smooth joint rotations, a turning and travelling root), limb lengths
jittered per frame as lifted joints are, written in the `lift` output layout."""

from __future__ import annotations

import numpy as np

from addon.core.lifted_rig import NAMES, PARENTS

# offset of each joint from its parent in a standing body (Blender: +Z up, -Y front, +X left), m
_OFFSETS = {
    "right_hip": (-0.13, 0.0, 0.0), "right_knee": (0.0, 0.0, -0.45), "right_foot": (0.0, 0.02, -0.44),
    "left_hip": (0.13, 0.0, 0.0), "left_knee": (0.0, 0.0, -0.45), "left_foot": (0.0, 0.02, -0.44),
    "spine": (0.0, 0.01, 0.23), "thorax": (0.0, -0.01, 0.25), "neck_nose": (0.0, -0.08, 0.10),
    "head": (0.0, 0.05, 0.12), "left_shoulder": (0.15, 0.0, -0.03), "left_elbow": (0.28, 0.0, 0.0),
    "left_wrist": (0.25, 0.0, 0.0), "right_shoulder": (-0.15, 0.0, -0.03),
    "right_elbow": (-0.28, 0.0, 0.0), "right_wrist": (-0.25, 0.0, 0.0),
}


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def h36m_motion(frames: int = 12, seed: int = 0) -> np.ndarray:
    """(T,17,3) Blender-space joints, about 4 m in front of a camera at the origin looking +Y."""
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(len(NAMES), 3))
    amplitude = rng.uniform(0.4, 1.2, len(NAMES))
    phase = rng.uniform(0, 2 * np.pi, len(NAMES))
    out = np.zeros((frames, len(NAMES), 3))
    for t in range(frames):
        yaw = 0.5 * np.sin(t / 4.0)
        world = {0: _axis_angle(np.array([0.0, 0.0, 1.0]), yaw) @ _axis_angle(axes[0], 0.2 * np.sin(t / 3.0))}
        out[t, 0] = (0.4 * t / frames - 0.2, 4.0 + 0.03 * t, 0.95)
        for j in range(1, len(NAMES)):
            p = PARENTS[j]
            length = 1.0 + 0.03 * np.sin(0.7 * t + j)  # lifted limbs are not rigid
            out[t, j] = out[t, p] + world[p] @ (length * np.array(_OFFSETS[NAMES[j]]))
            world[j] = world[p] @ _axis_angle(axes[j], amplitude[j] * np.sin(t / 3.0 + phase[j]))
    return out


def write_lifted(path, joints_blender: np.ndarray, fps: float = 30.0) -> np.ndarray:
    """Write a lift-layout .npz of Blender-space joints; returns them as float32 round-trips them."""
    b = np.asarray(joints_blender, dtype=np.float64)
    cam = np.stack([b[..., 0], -b[..., 2], b[..., 1]], axis=-1).astype(np.float32)  # x right, y down
    np.savez(path, joints3d=cam, pose=cam - cam[:, :1], joint_names=np.array(NAMES),
             parents=np.array(PARENTS, dtype=np.int32), width=812.0, height=720.0, fps=fps,
             focal_px=930.0, synthetic=False)
    c = cam.astype(np.float64)
    return np.stack([c[..., 0], c[..., 2], -c[..., 1]], axis=-1)
