"""addon/core/rig_math.py against scipy's rotations and SMPL's forward-pass algebra (pure)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from addon.core import rig_math


def _rotvecs(rng, n, scale=1.5):
    return rng.normal(0.0, scale, size=(n, 3))


def test_axis_angle_conversions_match_scipy():
    rng = np.random.default_rng(0)
    aa = np.concatenate([_rotvecs(rng, 200), [[0.0, 0.0, 0.0], [1e-9, 0.0, 0.0], [np.pi, 0, 0]]])
    want_m = Rotation.from_rotvec(aa).as_matrix()
    assert np.allclose(rig_math.axis_angle_to_matrix(aa), want_m, atol=1e-12)
    q = rig_math.axis_angle_to_quat(aa)  # (w, x, y, z)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0)
    assert np.allclose(rig_math.quat_to_matrix(q), want_m, atol=1e-12)
    xyzw = Rotation.from_rotvec(aa).as_quat()
    same = np.abs(np.sum(q * np.roll(xyzw, 1, axis=1), axis=1))
    assert np.allclose(same, 1.0)


def test_quat_multiply_is_rotation_composition():
    rng = np.random.default_rng(1)
    a, b = _rotvecs(rng, 50), _rotvecs(rng, 50)
    got = rig_math.quat_to_matrix(rig_math.quat_multiply(rig_math.axis_angle_to_quat(a),
                                                         rig_math.axis_angle_to_quat(b)))
    want = Rotation.from_rotvec(a).as_matrix() @ Rotation.from_rotvec(b).as_matrix()
    assert np.allclose(got, want, atol=1e-12)


def test_quat_continuity_keeps_rotations_and_removes_flips():
    rng = np.random.default_rng(2)
    q = rig_math.axis_angle_to_quat(np.cumsum(rng.normal(0, 0.3, size=(100, 5, 3)), axis=0))  # (F,J,4)
    signs = rng.choice([-1.0, 1.0], size=(100, 5, 1))
    flipped = q * signs
    fixed = rig_math.quat_continuity(flipped)
    assert np.all(np.sum(fixed[1:] * fixed[:-1], axis=-1) >= 0)  # consecutive keys in one hemisphere
    assert np.allclose(np.abs(np.sum(fixed * q, axis=-1)), 1.0)  # each key is still the same rotation
    assert np.allclose(rig_math.quat_continuity(flipped[:1]), flipped[:1])


def test_cam_blender_maps():
    # Camera forward (+z) is Blender +Y, camera down (+y) is Blender -Z, camera right is +X.
    assert np.allclose(rig_math.cam_to_blender([[0, 0, 1], [0, 1, 0], [1, 0, 0]]),
                       [[0, 1, 0], [0, 0, -1], [1, 0, 0]])
    p = np.random.default_rng(3).normal(size=(10, 3))
    assert np.allclose(rig_math.blender_to_cam(rig_math.cam_to_blender(p)), p)
    # SMPL up (+y) is Blender +Z, SMPL forward (+z) is Blender -Y.
    assert np.allclose(rig_math.smpl_to_blender([[0, 1, 0], [0, 0, 1]]), [[0, 0, 1], [0, -1, 0]])


def test_root_transform_reproduces_camera_frame_root_motion():
    """The pelvis bone maps a rest point s to J0 + L + Q (s - J0) in bone (= SMPL) coordinates;
    in Blender that must be the camera-frame SMPL point R0 (s - J0) + J0 + t, mapped to Blender."""
    rng = np.random.default_rng(4)
    orient, transl = _rotvecs(rng, 20), rng.normal(0, 2, size=(20, 3))
    j0 = np.array([0.003, -0.22, 0.028])
    q, loc = rig_math.root_transform(orient, transl, j0)
    s = rng.normal(0, 0.5, size=(7, 3))  # rest points, SMPL canonical
    for f in range(20):
        bone_local = j0 + loc[f] + (rig_math.quat_to_matrix(q[f]) @ (s - j0).T).T
        got = rig_math.smpl_to_blender(bone_local)
        cam = (Rotation.from_rotvec(orient[f]).as_matrix() @ (s - j0).T).T + j0 + transl[f]
        assert np.allclose(got, rig_math.cam_to_blender(cam), atol=1e-12)


def test_pose_corrective_weights_are_rotation_minus_identity():
    rng = np.random.default_rng(5)
    pose = rng.normal(0, 1, size=(4, 23, 3))
    w = rig_math.pose_corrective_weights(pose)
    assert w.shape == (4, 207)
    want = (Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix() - np.eye(3)).reshape(4, 207)
    assert np.allclose(w, want, atol=1e-12)


@pytest.mark.parametrize("fps, whole, base", [
    (29.97, 30, 1.001), (30000 / 1001, 30, 1.001), (23.976, 24, 1.001), (25.0, 25, 1.0),
    (29.83, 30, 30 / 29.83), (59.94, 60, 1.001), (12.5, 12, 12 / 12.5),
])
def test_fps_to_blender(fps, whole, base):
    got_whole, got_base = rig_math.fps_to_blender(fps)
    assert got_whole == whole and got_base == pytest.approx(base, abs=1e-9)
    assert got_whole / got_base == pytest.approx(fps, rel=1e-4)


def test_fps_to_blender_rejects_nonsense():
    for bad in (0.0, -3.0, float("nan")):
        with pytest.raises(ValueError):
            rig_math.fps_to_blender(bad)


def test_timing_follows_the_video_unless_blender_reads_it_at_another_rate():
    timing, note = rig_math.choose_timing(29.97, 300)
    assert note is None and timing.scene_fps == 29.97
    assert np.array_equal(timing.scene_frames([0, 1, 5]), [1, 2, 6]) and timing.frame_end(300) == 300
    timing, note = rig_math.choose_timing(29.97, 300, clip_fps=29.97, clip_frames=300)
    assert note is None and timing.frames_per_video_frame == 1.0
    # tennis.mp4: Blender reports 60 fps and 627 frames for the 312-frame, 29.83 fps clip.
    timing, note = rig_math.choose_timing(29.83, 312, clip_fps=60.0, clip_frames=627)
    assert timing.scene_fps == 60.0 and "lines up" in note
    assert np.allclose(timing.scene_frames([0, 100]), [1, 1 + 100 * 60 / 29.83])
    assert timing.frame_end(312) == 1 + int(np.ceil(311 * 60 / 29.83))
    timing, note = rig_math.choose_timing(29.83, 312, clip_fps=60.0, clip_frames=100)  # lengths differ
    assert timing.frames_per_video_frame == 1.0 and "lengths differ" in note
