"""addon/core/lifted_rig.py (pure numpy): the rotation-keyed H36M rig reproduces the joints, aims
each bone at its limb's next joint, and twists only as the body does."""

from __future__ import annotations

import numpy as np

from addon.core import lifted_rig as lr
from tests.retarget.lifted_source import h36m_motion

I = {n: i for i, n in enumerate(lr.NAMES)}


def _rest_matrices(joints):
    heads, rotations = lr.rest_pose(joints)
    rest = np.tile(np.eye(4), (len(lr.NAMES), 1, 1))
    rest[:, :3, :3], rest[:, :3, 3] = rotations, heads
    return rest


def _quat_matrix(q):
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                     np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                     np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)


def _forward(rest, location, quaternion):
    """Blender's pose evaluation: world = world_parent @ inv(rest_parent) @ rest @ basis."""
    t = len(location)
    basis = np.tile(np.eye(4), (t, len(lr.NAMES), 1, 1))
    basis[..., :3, :3], basis[..., :3, 3] = _quat_matrix(quaternion), location
    world = np.zeros_like(basis)
    for j, p in enumerate(lr.PARENTS):
        local = rest[j] @ basis[:, j]
        world[:, j] = local if p < 0 else world[:, p] @ np.linalg.inv(rest[p]) @ local
    return world


def _axis_angle(axis, angle):
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_pose_values_put_every_head_on_its_joint_and_aim_the_bones():
    joints = h36m_motion(20, seed=4)
    rest = _rest_matrices(joints)
    location, quaternion = lr.pose_basis(rest, lr.world_matrices(joints))
    world = _forward(rest, location, quaternion)
    assert np.abs(world[..., :3, 3] - joints).max() < 1e-9
    for bone, aim in lr.AIM.items():
        d = joints[:, I[aim]] - joints[:, I[bone]]
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        assert np.abs(np.sum(world[:, I[bone], :3, 1] * d, axis=-1) - 1.0).max() < 1e-9, bone
    # sign-continuous quaternions (no flips between frames)
    assert (np.sum(quaternion[1:] * quaternion[:-1], axis=-1) > 0).all()


def test_turning_the_whole_body_turns_only_the_root():
    joints = h36m_motion(10, seed=1)
    turn = _axis_angle((0.3, -0.5, 1.0), 1.1)
    turned = joints @ turn.T
    rest = _rest_matrices(joints)
    loc_a, quat_a = lr.pose_basis(rest, lr.world_matrices(joints))
    loc_b, quat_b = lr.pose_basis(rest, lr.world_matrices(turned))
    assert np.abs(quat_a[:, 1:] - quat_b[:, 1:]).max() < 1e-9  # no twist appears anywhere below
    assert np.abs(loc_a[:, 1:] - loc_b[:, 1:]).max() < 1e-9
    frames_a = lr.bone_frames(joints)[:, 0]
    frames_b = lr.bone_frames(turned)[:, 0]
    assert np.abs(turn @ frames_a - frames_b).max() < 1e-9


def _t_pose():
    heads, _ = lr.rest_pose(h36m_motion(4))
    return heads


def test_a_bent_knee_is_a_hinge_about_the_bone_x_axis_and_the_thigh_stays():
    rest_heads = _t_pose()
    bend = np.radians(70.0)
    posed = rest_heads.copy()
    knee = rest_heads[I["left_knee"]]
    # the shin swings backwards (+Y) about +X: a knee bending forward
    posed[I["left_foot"]] = knee + _axis_angle((1, 0, 0), bend) @ (rest_heads[I["left_foot"]] - knee)
    clip = np.stack([rest_heads, posed])
    rest = _rest_matrices(clip)
    _, quat = lr.pose_basis(rest, lr.world_matrices(clip))
    thigh, shin = quat[1, I["left_hip"]], quat[1, I["left_knee"]]
    assert abs(abs(thigh[0]) - 1.0) < 1e-9  # the thigh did not turn or twist
    angle = 2 * np.arccos(min(1.0, abs(shin[0])))
    axis = shin[1:] / np.linalg.norm(shin[1:])
    assert abs(np.degrees(angle) - 70.0) < 1e-6
    assert abs(abs(axis[0]) - 1.0) < 1e-9  # about the bone's own X: a pure hinge


def test_a_straight_arm_raised_swings_without_twist():
    rest_heads = _t_pose()
    posed = rest_heads.copy()
    shoulder = rest_heads[I["right_shoulder"]]
    lift = _axis_angle((0, 1, 0), np.radians(60.0))  # the straight right arm raised sideways
    for joint in ("right_elbow", "right_wrist"):
        posed[I[joint]] = shoulder + lift @ (rest_heads[I[joint]] - shoulder)
    clip = np.stack([rest_heads, posed])
    rest = _rest_matrices(clip)
    _, quat = lr.pose_basis(rest, lr.world_matrices(clip))
    upper, fore = quat[1, I["right_shoulder"]], quat[1, I["right_elbow"]]
    assert abs(np.degrees(2 * np.arccos(min(1.0, abs(upper[0])))) - 60.0) < 1e-6
    # the swing axis is across the bone: no component along its own Y (no twist)
    assert abs(upper[2]) < 1e-9
    assert abs(abs(fore[0]) - 1.0) < 1e-9  # the straight forearm keeps its upper arm's rotation


def test_matrix_to_quaternion_round_trips_any_rotation():
    rng = np.random.default_rng(0)
    mats = np.array([_axis_angle(rng.normal(size=3), a) for a in rng.uniform(0, np.pi, 200)])
    mats = np.concatenate([mats, [np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1])]])
    q = lr.matrix_to_quaternion(mats)
    assert np.abs(_quat_matrix(q) - mats).max() < 1e-9
