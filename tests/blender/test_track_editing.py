"""Blender side of confidence and track editing: the bones' animated `confidence`, the panel's
low-confidence ranges, FBX leaving it out unless asked, and Merge through the real backend."""

from __future__ import annotations

import sys

import numpy as np

from addon.core.skeleton import JOINT_NAMES

from .result_factory import random_track, write_result


def _import(bpy, folder, data_dir):
    assert bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(data_dir)) == {"FINISHED"}


def _track_with_confidence(rng, frames):
    arrays = random_track(rng, frames)
    conf = rng.uniform(0.7, 1.0, (len(frames), 24)).astype(np.float32)
    conf[3:6, 7] = [0.2, 0.1, 0.3]  # the left ankle is unsure on rows 3..5
    arrays["confidence"] = conf
    return arrays


def test_confidence_curves_on_every_bone_and_low_ranges(bpy_addon, model_data_dir, tmp_path):
    from addon.anim_shim import action_fcurves
    from addon.panel_edit import low_confidence_ranges

    bpy = bpy_addon
    frames = np.arange(10)
    arrays = _track_with_confidence(np.random.default_rng(1), frames)
    _import(bpy, write_result(tmp_path / "clip", {2: arrays}, frame_count=10), model_data_dir)
    arm = bpy.data.objects["TCMR track 2"]
    paths = {fc.data_path for fc in action_fcurves(arm)}
    for name in JOINT_NAMES:
        assert f'pose.bones["{name}"]["confidence"]' in paths, name
    for row in (0, 4, 9):
        bpy.context.scene.frame_set(int(frames[row]) + 1)
        got = np.array([arm.pose.bones[n]["confidence"] for n in JOINT_NAMES])
        np.testing.assert_allclose(got, arrays["confidence"][row], atol=1e-6)
    ranges = low_confidence_ranges(arm, 0.5)
    assert [(a, b) for a, b, _ in ranges] == [(4, 6)]  # scene frames of rows 3..5
    assert abs(ranges[0][2] - 0.1) < 1e-6
    assert bpy.ops.tcmr.jump_to_frame(frame=ranges[0][0]) == {"FINISHED"}
    assert bpy.context.scene.frame_current == 4


def test_fbx_leaves_confidence_out_unless_asked(bpy_addon, model_data_dir, tmp_path):
    bpy = bpy_addon
    arrays = _track_with_confidence(np.random.default_rng(2), np.arange(6))
    _import(bpy, write_result(tmp_path / "clip", {1: arrays}, frame_count=6), model_data_dir)
    plain, asked = tmp_path / "plain.fbx", tmp_path / "asked.fbx"
    assert bpy.ops.tcmr.export_fbx(filepath=str(plain), object="TCMR track 1") == {"FINISHED"}
    result = bpy.ops.tcmr.export_fbx(filepath=str(asked), object="TCMR track 1", confidence=True)
    assert result == {"FINISHED"}
    assert b"confidence" not in plain.read_bytes()
    assert b"confidence" in asked.read_bytes()


def test_merge_leaves_one_character_spanning_both_ranges(bpy_addon, model_data_dir, tmp_path):
    from backend.models.loading import load_models
    from tests.model.edit_results import smooth_features, track_from_features
    from tests.model.edit_results import write_result as write_real_result

    bpy = bpy_addon
    models = load_models(model_data_dir, "cpu", backbone=False)
    tracks = {1: track_from_features(models, np.arange(20), smooth_features(20, 1), 200.0),
              2: track_from_features(models, np.arange(24, 44), smooth_features(20, 2), 200.0)}
    source = write_real_result(tmp_path / "clip", tracks)
    _import(bpy, source, model_data_dir)
    mine = bpy.data.objects.new("my empty", None)  # the user's own object stays
    bpy.context.scene.collection.objects.link(mine)
    result = bpy.ops.tcmr.merge_tracks(objects="TCMR track 1,TCMR track 2", wait=True,
                                       python=sys.executable, data_dir=str(model_data_dir))
    assert result == {"FINISHED"}
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert len(arms) == 1
    arm = arms[0]
    assert int(arm["tcmr_track_id"]) == 1 and arm["tcmr_result_dir"] != str(source)
    assert list(arm["tcmr_video_frames"]) == list(range(44))
    pelvis = next(f for f in _fcurves(arm) if f.data_path == 'pose.bones["pelvis"].rotation_quaternion')
    keyed = {round(k.co[0]) for k in pelvis.keyframe_points}
    assert keyed == set(range(1, 45))
    assert len([o for o in bpy.data.objects if o.type == "MESH"]) == 1  # one body, no leftovers
    assert len([o for o in bpy.data.objects if o.type == "CAMERA"]) == 1
    assert bpy.data.objects.get("my empty") is mine
    assert (source / "track_2.npz").is_file()  # the input result is untouched


def _fcurves(arm):
    from addon.anim_shim import action_fcurves

    return action_fcurves(arm)
