"""The lifted H36M skeleton as a parented, rotation-keyed rig: pure numpy, no bpy.

Every bone's head sits on its joint and its Y axis points at its *aim* joint (the child that
continues the limb: hip -> spine, thigh -> knee, ...). Its twist around that axis comes from a
reference direction, turned into the bone's X axis (the part of the reference across the bone):

* pelvis: the hip line (right hip -> left hip); spine: hip line + shoulder line; thorax and
  neck/nose: the shoulder line;
* thigh and shin: the knee's bend-plane normal (thigh x shin), upper arm and forearm: the elbow's
  (upper arm x forearm, negated on the left). Near a straight limb (bend under 20 degrees) this
  normal fades into a swing-only fallback: the bone's rest frame carried by its parent and turned
  by the minimal rotation from the rest direction to the frame's direction;
* ends (head, feet = ankles, wrists) have no aim joint: they keep their parent's rotation.

The rest pose is a canonical T-pose (standing along +Z, facing -Y, left at +X, like the SMPL
character's rest) with each segment's median length over the clip. Lifted limbs change length
from frame to frame, so each bone's pose `location` carries what the rotations leave over: the
heads land exactly on the joints (`pose_basis` is exact up to float rounding).

Points are (T,J,3) metres in the armature's space; rotations (…,3,3) have the bone axes as columns.
"""

from __future__ import annotations

import numpy as np

from .retarget_math import rotation_between

SKELETON = "H36M"  # the armature's `tcmr_skeleton` property
NAMES = ("hip", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot", "spine",
         "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
         "right_elbow", "right_wrist")
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
_I = {n: i for i, n in enumerate(NAMES)}

# bone -> the joint its Y axis points at (ends have none)
AIM = {"hip": "spine", "right_hip": "right_knee", "right_knee": "right_foot", "left_hip": "left_knee",
       "left_knee": "left_foot", "spine": "thorax", "thorax": "neck_nose", "neck_nose": "head",
       "left_shoulder": "left_elbow", "left_elbow": "left_wrist", "right_shoulder": "right_elbow",
       "right_elbow": "right_wrist"}

# canonical rest direction of each joint's offset from its parent (Blender: +Z up, -Y front, +X left)
_REST_DIR = {"right_hip": (-1, 0, 0), "right_knee": (0, 0, -1), "right_foot": (0, 0, -1),
             "left_hip": (1, 0, 0), "left_knee": (0, 0, -1), "left_foot": (0, 0, -1),
             "spine": (0, 0, 1), "thorax": (0, 0, 1), "neck_nose": (0, 0, 1), "head": (0, 0, 1),
             "left_shoulder": (1, 0, 0), "left_elbow": (1, 0, 0), "left_wrist": (1, 0, 0),
             "right_shoulder": (-1, 0, 0), "right_elbow": (-1, 0, 0), "right_wrist": (-1, 0, 0)}

# limb bones twisted by a bend plane: bone -> (upper joint, middle joint, lower joint, sign)
_BEND = {"right_hip": ("right_hip", "right_knee", "right_foot", 1.0),
         "right_knee": ("right_hip", "right_knee", "right_foot", 1.0),
         "left_hip": ("left_hip", "left_knee", "left_foot", 1.0),
         "left_knee": ("left_hip", "left_knee", "left_foot", 1.0),
         "left_shoulder": ("left_shoulder", "left_elbow", "left_wrist", -1.0),
         "left_elbow": ("left_shoulder", "left_elbow", "left_wrist", -1.0),
         "right_shoulder": ("right_shoulder", "right_elbow", "right_wrist", 1.0),
         "right_elbow": ("right_shoulder", "right_elbow", "right_wrist", 1.0)}
# the rest X axis of each bend-twisted bone: the bend normal of a knee bent forward / an elbow
# bent towards the front
_BEND_REST_X = {"right_hip": (1, 0, 0), "right_knee": (1, 0, 0), "left_hip": (1, 0, 0),
                "left_knee": (1, 0, 0), "left_shoulder": (0, 0, 1), "left_elbow": (0, 0, 1),
                "right_shoulder": (0, 0, 1), "right_elbow": (0, 0, 1)}
BEND_FADE_DEGREES = 20.0
EPS = 1e-9


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), EPS)


def frame_from(y: np.ndarray, x_ref: np.ndarray) -> np.ndarray:
    """(...,3,3) right-handed frames: Y along `y`, X the part of `x_ref` across Y."""
    y = _unit(y)
    x = _unit(x_ref - np.sum(x_ref * y, axis=-1, keepdims=True) * y)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def rest_pose(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(heads (J,3), rotations (J,3,3)): the canonical T-pose with median segment lengths, the
    root at the first frame's hip. joints: (T,J,3)."""
    heads = np.zeros((len(NAMES), 3))
    heads[0] = joints[0, 0]
    for j in range(1, len(NAMES)):
        p = PARENTS[j]
        length = float(np.median(np.linalg.norm(joints[:, j] - joints[:, p], axis=-1)))
        heads[j] = heads[p] + length * np.array(_REST_DIR[NAMES[j]], dtype=np.float64)
    return heads, rest_frames()


def _lines(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hips = joints[..., _I["left_hip"], :] - joints[..., _I["right_hip"], :]
    shoulders = joints[..., _I["left_shoulder"], :] - joints[..., _I["right_shoulder"], :]
    return _unit(hips), _unit(shoulders)


def bone_frames(joints: np.ndarray) -> np.ndarray:
    """(T,J,3,3) world rotations of the bones for joints (T,J,3) (see the module doc)."""
    t = joints.shape[0]
    frames = np.zeros((t, len(NAMES), 3, 3))
    rest = None if t == 1 and _is_rest(joints[0]) else rest_frames()
    hips, shoulders = _lines(joints)
    trunk = {"hip": hips, "spine": hips + shoulders, "thorax": shoulders, "neck_nose": shoulders}
    for j, name in enumerate(NAMES):
        p = PARENTS[j]
        if name not in AIM:  # an end: its parent's rotation
            frames[:, j] = frames[:, p] if p >= 0 else np.eye(3)
            continue
        y = joints[:, _I[AIM[name]]] - joints[:, j]
        if name in trunk:
            frames[:, j] = frame_from(y, trunk[name])
            continue
        upper, middle, lower, sign = _BEND[name]
        a = joints[:, _I[middle]] - joints[:, _I[upper]]
        b = joints[:, _I[lower]] - joints[:, _I[middle]]
        normal = sign * np.cross(a, b)
        sin_bend = np.linalg.norm(normal, axis=-1) / np.maximum(
            np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), EPS)
        weight = np.clip(sin_bend / np.sin(np.radians(BEND_FADE_DEGREES)), 0.0, 1.0)[:, None]
        if rest is None:
            fallback = np.broadcast_to(np.array(_BEND_REST_X[name], dtype=np.float64), y.shape)
        else:
            fallback = _swing_x(frames[:, p], rest[p], rest[j], y)
        frames[:, j] = frame_from(y, weight * _unit(normal) + (1.0 - weight) * fallback)
    return frames


def _swing_x(parent: np.ndarray, parent_rest: np.ndarray, rest: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The X axis of the bone's rest frame carried by its parent and swung onto direction y."""
    carried = parent @ parent_rest.T @ rest  # (T,3,3)
    swing = rotation_between(carried[..., 1], y)
    return (swing @ carried)[..., 0]


def _canonical_heads() -> np.ndarray:
    heads = np.zeros((len(NAMES), 3))
    for j in range(1, len(NAMES)):
        heads[j] = heads[PARENTS[j]] + np.array(_REST_DIR[NAMES[j]], dtype=np.float64)
    return heads


def _is_rest(joints: np.ndarray) -> bool:
    """True for a canonical T-pose (any lengths): straight limbs take their rest X axes."""
    for j in range(1, len(NAMES)):
        d = joints[j] - joints[PARENTS[j]]
        if np.dot(_unit(d), np.array(_REST_DIR[NAMES[j]], dtype=np.float64)) < 1.0 - 1e-9:
            return False
    return True


def rest_frames() -> np.ndarray:
    """(J,3,3) the bones' rest rotations (independent of the segment lengths)."""
    return bone_frames(_canonical_heads()[None])[0]


def pose_basis(rest: np.ndarray, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blender pose values that put every bone at `world`.

    rest: (J,4,4) the bones' rest matrices in armature space (Bone.matrix_local); world: (T,J,4,4)
    the wanted pose matrices. Blender poses a bone as world = world_parent @ inv(rest_parent) @
    rest @ basis, so basis = inv(rest) @ rest_parent @ inv(world_parent) @ world. Returns
    (location (T,J,3), quaternion (T,J,4) w-first, sign-continuous over time)."""
    basis = np.empty_like(world)
    for j, p in enumerate(PARENTS):
        if p < 0:
            basis[:, j] = np.linalg.inv(rest[j]) @ world[:, j]
        else:
            basis[:, j] = np.linalg.inv(rest[j]) @ rest[p] @ np.linalg.inv(world[:, p]) @ world[:, j]
    quat = matrix_to_quaternion(basis[..., :3, :3])
    for t in range(1, len(quat)):  # keep each bone's quaternion in one hemisphere over time
        flip = np.sum(quat[t] * quat[t - 1], axis=-1) < 0.0
        quat[t, flip] *= -1.0
    return basis[..., :3, 3], quat


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """(...,3,3) rotations -> (...,4) unit quaternions (w, x, y, z), w >= 0, numerically stable."""
    m = np.asarray(m, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    w4 = 1.0 + m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]  # 4 w^2
    x4 = 1.0 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2]  # 4 x^2
    y4 = 1.0 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2]
    z4 = 1.0 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2]
    wx, wy, wz = m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]  # 4 w x ...
    xy, xz, yz = m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1]  # 4 x y ...
    # each row is 4 q_k * q for one component k; the largest q_k is the well-conditioned one
    rows = np.stack([np.stack([w4, wx, wy, wz], 1), np.stack([wx, x4, xy, xz], 1),
                     np.stack([wy, xy, y4, yz], 1), np.stack([wz, xz, yz, z4], 1)], axis=1)
    pick = np.argmax(np.stack([w4, x4, y4, z4], 1), axis=1)
    q = rows[np.arange(len(m)), pick]
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    q *= np.where(q[:, :1] < 0.0, -1.0, 1.0)
    return q.reshape((*shape, 4))


def world_matrices(joints: np.ndarray) -> np.ndarray:
    """(T,J,4,4) pose matrices: bone_frames rotations at the joints."""
    out = np.zeros((*joints.shape[:2], 4, 4))
    out[..., :3, :3] = bone_frames(joints)
    out[..., :3, 3] = joints
    out[..., 3, 3] = 1.0
    return out
