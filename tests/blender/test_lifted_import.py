"""tcmr.import_lifted: the armature's joints are `joints3d` seen through the video camera."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import bone_heads

NAMES = ("hip", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot", "spine",
         "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
         "right_elbow", "right_wrist")
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)


def write_lifted(path, frames: int, width=812.0, height=720.0, focal=930.0, synthetic=False):
    """A lift-layout file with made-up camera-space joints ~4 m in front of the camera."""
    rng = np.random.default_rng(frames)
    t = np.arange(frames)[:, None, None]
    sway = 0.1 * np.sin(t / 5.0 + np.arange(17)[:, None])
    joints = rng.normal(0, 0.4, (1, 17, 3)) + np.array([0.3, 0.2, 4.0]) + sway
    np.savez(path, joints3d=joints.astype(np.float32), pose=joints.astype(np.float32),
             joint_names=np.array(NAMES), parents=np.array(PARENTS, dtype=np.int32), width=width,
             height=height, fps=29.83, focal_px=focal, synthetic=synthetic)
    return joints.astype(np.float32).astype(np.float64)


def test_joints_equal_joints3d_through_the_camera(bpy_addon, tmp_path):
    bpy = bpy_addon
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    joints = write_lifted(tmp_path / "clip.npz", 12)
    assert bpy.ops.tcmr.import_lifted(filepath=str(tmp_path / "clip.npz")) == {"FINISHED"}
    scene = bpy.context.scene
    cam, arm = scene.camera, bpy.data.objects["clip H36M"]
    assert scene.frame_start == 1 and scene.frame_end == 12 and scene.render.resolution_x == 812
    assert arm.data.bones["left_knee"]["h36m_parent"] == "left_hip"
    to_cam = np.array(cam.matrix_world.inverted())
    for frame in (1, 5, 12):
        world = bone_heads(bpy, arm, NAMES, frame)
        blender_cam = world @ to_cam[:3, :3].T + to_cam[:3, 3]  # Blender camera: x right, y up, -z forward
        opencv = blender_cam * np.array([1.0, -1.0, -1.0])
        assert np.abs(opencv - joints[frame - 1]).max() < 1e-4  # 0.1 mm
        ndc = np.array([list(world_to_camera_view(scene, cam, Vector(p))) for p in world])
        want_u = 930.0 * joints[frame - 1, :, 0] / joints[frame - 1, :, 2] + 406.0
        want_v = 930.0 * joints[frame - 1, :, 1] / joints[frame - 1, :, 2] + 360.0
        assert np.abs(ndc[:, 0] * 812 - want_u).max() < 0.05
        assert np.abs((1.0 - ndc[:, 1]) * 720 - want_v).max() < 0.05


@pytest.mark.parametrize("problem", ["missing_key", "nan", "not_a_file"])
def test_bad_lifted_file_adds_nothing(bpy_addon, tmp_path, problem):
    bpy = bpy_addon
    path = tmp_path / "bad.npz"
    if problem == "missing_key":
        np.savez(path, joints3d=np.zeros((3, 17, 3)))
    elif problem == "nan":
        write_lifted(path, 3)
        data = dict(np.load(path))
        data["joints3d"][1, 2, 0] = np.nan
        np.savez(path, **data)
    else:
        path.write_bytes(b"nonsense")
    objects = len(bpy.data.objects)
    with pytest.raises(RuntimeError):
        bpy.ops.tcmr.import_lifted(filepath=str(path))
    assert len(bpy.data.objects) == objects


@pytest.fixture(scope="module")
def lift_checkpoint(tmp_path_factory):
    """A synthetic VideoPose3D checkpoint (random weights, official layout)."""
    from backend.synthetic_lift import LIFT_CHECKPOINT_NAME, write_lift_checkpoint

    return write_lift_checkpoint(tmp_path_factory.mktemp("lift") / LIFT_CHECKPOINT_NAME, seed=3)


def test_smpl_fit_result_imports_as_a_character(bpy_addon, model_data_dir, lift_checkpoint, tmp_path):
    """`lift --smpl-out DIR` is a result Import Result drives a character with: the pelvis sits
    where the fit put it (rest pelvis joint + transl, through the same camera mapping)."""
    bpy = bpy_addon
    from backend.cli import main
    from tests.lifting import formats
    from tests.lifting.conftest import make_track

    keypoints = formats.write_npy(make_track(6, seed=4), tmp_path / "kp.npy")
    code = main(["lift", str(keypoints), "--out", str(tmp_path / "out.npz"), "--width", "812",
                 "--height", "720", "--data-dir", str(model_data_dir), "--checkpoint", str(lift_checkpoint),
                 "--smpl-out", str(tmp_path / "smpl"), "--smpl-iterations", "10", "--device", "cpu"])
    assert code == 0
    fit = np.load(tmp_path / "out.npz")
    assert bpy.ops.tcmr.import_result(filepath=str(tmp_path / "smpl"), data_dir=str(model_data_dir),
                                      pose_correctives=False) == {"FINISHED"}
    arm = bpy.data.objects["TCMR track 0"]
    for frame in (1, 6):
        pelvis = bone_heads(bpy, arm, ["pelvis"], frame)[0]
        cam = fit["smpl_joints_rest"][0] + fit["smpl_transl"][frame - 1]
        assert np.abs(pelvis - np.array([cam[0], cam[2], -cam[1]])).max() < 1e-3
