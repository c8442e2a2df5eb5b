"""Pure tests of the baker's math."""

import numpy as np

from addon.core import retarget_math as rm


def _is_rotation(r):
    return np.allclose(r @ r.T, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(r), 1.0)


def test_rotation_between_turns_a_onto_b_by_the_smallest_angle():
    a_pose_arm = np.array([np.cos(np.radians(40)), 0.0, -np.sin(np.radians(40))])
    t_pose_arm = np.array([1.0, 0.0, 0.0])
    r = rm.rotation_between(a_pose_arm * 3.0, t_pose_arm)
    assert _is_rotation(r)
    assert np.allclose(r @ a_pose_arm, t_pose_arm, atol=1e-9)
    # smallest turn: the axis perpendicular to both stays put and the angle is 40 degrees
    assert np.allclose(r @ [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], atol=1e-9)
    assert np.isclose(np.degrees(np.arccos((np.trace(r) - 1) / 2)), 40.0)
    assert np.allclose(rm.rotation_between([0, 0, 1], [0, 0, 2]), np.eye(3))
    flip = rm.rotation_between([0, 0, 1], [0, 0, -1])
    assert _is_rotation(flip) and np.allclose(flip @ [0, 0, 1], [0, 0, -1])


def test_rotation_between_is_batched_with_opposite_rows():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 3, 3))
    b = rng.normal(size=(2, 3, 3))
    b[1, 2] = -2.5 * a[1, 2]  # one exactly opposite pair inside the batch
    r = rm.rotation_between(a, b)
    assert r.shape == (2, 3, 3, 3)
    for i in np.ndindex(2, 3):
        assert _is_rotation(r[i])
        unit = a[i] / np.linalg.norm(a[i])
        assert np.allclose(r[i] @ unit, b[i] / np.linalg.norm(b[i]), atol=1e-9)
        assert np.allclose(r[i], rm.rotation_between(a[i], b[i]))  # the same as one at a time


def test_hip_height_is_above_the_lowest_foot_joint():
    assert np.isclose(rm.hip_height([0, 0, 1.0], [[0.1, 0, 0.1], [-0.1, 0, 0.05]]), 0.95)


def test_root_path_scales_the_displacement_and_in_place_drops_horizontal_motion():
    source = np.array([[1.0, 2.0, 0.9], [2.0, 2.5, 1.0], [1.0, 1.0, 0.8]])
    path = rm.root_path(source, source[0], [0.0, 0.0, 1.8], 2.0)
    assert np.allclose(path, [[0, 0, 1.8], [2.0, 1.0, 2.0], [0.0, -2.0, 1.6]])
    still = rm.root_path(source, source[0], [0.5, 0.5, 1.8], 2.0, in_place=True)
    assert np.allclose(still, [[0.5, 0.5, 1.8], [0.5, 0.5, 2.0], [0.5, 0.5, 1.6]])


def _interpolate(frames, kept, values):
    return np.stack([np.interp(frames, frames[kept], values[kept, c]) for c in range(values.shape[1])], 1)


def test_simplify_keys_keeps_corners_and_stays_within_tolerance():
    frames = np.arange(40, dtype=float)
    ramp = np.stack([frames * 0.1, -frames * 0.05], axis=1)
    assert list(rm.simplify_keys(ramp, 1e-6)) == [0, 39]
    corner = np.minimum(frames, 20.0)[:, None]
    assert list(rm.simplify_keys(corner, 1e-6)) == [0, 20, 39]
    wave = np.stack([np.sin(frames * 0.3), np.cos(frames * 0.17)], axis=1)
    for tol in (0.05, 0.001):
        kept = rm.simplify_keys(wave, tol)
        assert 2 < len(kept) < 40 or tol < 0.01
        assert np.abs(_interpolate(frames, kept, wave) - wave).max() <= tol + 1e-12
    assert len(rm.simplify_keys(wave, 0.05)) < len(rm.simplify_keys(wave, 0.001))
    assert list(rm.simplify_keys(wave[:2], 0.1)) == [0, 1]


def test_facing_turn_snaps_to_quarter_turns():
    smpl = [0.14, 0.0, 0.0]  # right hip -> left hip of a body facing -Y
    assert rm.facing_turn(smpl, [0.2, 0.01, 0.0])[0] == 0.0  # a little asymmetry: no turn
    turn, yaw = rm.facing_turn(smpl, [-0.2, 0.0, 0.0])  # faces +Y
    assert np.isclose(turn, np.pi) and np.isclose(abs(yaw), np.pi)
    turn, _ = rm.facing_turn(smpl, [0.0, 0.2, 0.0])  # faces +X: turn it -90 to face -Y
    assert np.isclose(turn, -np.pi / 2)
    rz = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    assert np.allclose(rz @ [0.0, 0.2], [0.2, 0.0])
