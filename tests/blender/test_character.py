"""tcmr.import_result builds characters that move exactly as SMPL says (bpy tests)."""

from __future__ import annotations

import numpy as np
import pytest

from addon.core.skeleton import JOINT_NAMES, PARENTS

from .conftest import bone_heads, evaluated_vertices
from .result_factory import random_track, write_result
from .smpl_reference import blender_to_camera, smpl_forward

TOL = 1e-4  # metres


def _import(bpy, folder, data_dir, **kwargs):
    result = bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(data_dir), **kwargs)
    assert result == {"FINISHED"}


def _check_frames(bpy, smpl_ref, arrays, arm, body, rows, pose_blend=True):
    for row in rows:
        frame = int(arrays["frame_index"][row]) + 1  # video frame i is scene frame i + 1
        want_v, want_j = smpl_forward(smpl_ref, arrays["betas"].astype(np.float64),
                                      arrays["global_orient"][row], arrays["body_pose"][row],
                                      arrays["transl"][row], pose_blend=pose_blend)
        got_v = blender_to_camera(evaluated_vertices(bpy, body, frame))
        assert np.abs(got_v - want_v).max() < TOL, f"frame {frame}"
        got_j = blender_to_camera(bone_heads(bpy, arm, JOINT_NAMES, frame))
        assert np.abs(got_j - want_j).max() < TOL, f"joints at frame {frame}"
        # The root (pelvis) lands at its rest joint + transl in the camera frame.
        j0 = smpl_ref.J_regressor[0] @ (smpl_ref.v_template + smpl_ref.shapedirs @ arrays["betas"])
        assert np.abs(got_j[0] - (j0 + arrays["transl"][row])).max() < TOL


def test_vertices_match_smpl_forward_pass(bpy_addon, model_data_dir, smpl_ref, tmp_path):
    bpy = bpy_addon
    rng = np.random.default_rng(7)
    frames = np.array([0, 1, 2, 5, 6, 9])  # with a gap
    arrays = random_track(rng, frames, pose_scale=0.6)
    assert (arrays["betas"] < 0).any()  # negative betas must survive the shape-key sliders
    folder = write_result(tmp_path / "clip", {4: arrays}, frame_count=12)
    _import(bpy, folder, model_data_dir)
    arm = bpy.data.objects["TCMR track 4"]
    body = bpy.data.objects["TCMR track 4 body"]
    assert sorted(b.name for b in arm.data.bones) == sorted(JOINT_NAMES)
    for j, name in enumerate(JOINT_NAMES):
        bone = arm.data.bones[name]
        assert (bone.parent.name if bone.parent else None) == (JOINT_NAMES[PARENTS[j]] if j else None)
        # Tail straight up (+Z) with roll 0: the bone's local axes are SMPL's (x, y, z).
        axes = np.array(bone.matrix_local)[:3, :3]
        assert np.allclose(axes, [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-6)
    assert len(body.data.vertices) == 6890 and len(body.data.polygons) == 13776
    assert len(body.data.shape_keys.key_blocks) == 1 + 10 + 207
    _check_frames(bpy, smpl_ref, arrays, arm, body, rows=[0, 2, 3, 5])
    # Between keys (video frames 2 and 5 are scene frames 3 and 6): every bone's rotation lies on
    # the short arc between its neighbours, i.e. keys are hemisphere-consistent (docs/blender_facts.md).
    def rotations(frame):
        bpy.context.scene.frame_set(frame)
        q = np.array([list(arm.pose.bones[n].rotation_quaternion) for n in JOINT_NAMES])
        return q / np.linalg.norm(q, axis=1, keepdims=True)

    def angle(p, q):
        return 2 * np.arccos(np.clip(np.abs(np.sum(p * q, axis=1)), 0, 1))

    qa, qm, qb = rotations(3), rotations(5), rotations(6)
    assert np.all(angle(qa, qm) + angle(qm, qb) <= angle(qa, qb) + 1e-3)
    assert np.all(angle(qa, qm) > 0.2 * angle(qa, qb) - 1e-3)


def test_without_pose_correctives_matches_plain_lbs(bpy_addon, model_data_dir, smpl_ref, tmp_path):
    bpy = bpy_addon
    arrays = random_track(np.random.default_rng(3), np.arange(3), pose_scale=0.7)
    folder = write_result(tmp_path / "clip", {1: arrays}, frame_count=3)
    _import(bpy, folder, model_data_dir, pose_correctives=False)
    body = bpy.data.objects["TCMR track 1 body"]
    assert len(body.data.shape_keys.key_blocks) == 1 + 10
    _check_frames(bpy, smpl_ref, arrays, bpy.data.objects["TCMR track 1"], body, rows=[1], pose_blend=False)
    # ... and differs from the corrected body (the correctives are not a no-op).
    want, _ = smpl_forward(smpl_ref, arrays["betas"], arrays["global_orient"][1], arrays["body_pose"][1],
                           arrays["transl"][1], pose_blend=True)
    got = blender_to_camera(evaluated_vertices(bpy, body, 2))
    assert np.abs(got - want).max() > 10 * TOL


def test_single_frame_track_and_scene_settings(bpy_addon, model_data_dir, smpl_ref, tmp_path):
    bpy = bpy_addon
    arrays = random_track(np.random.default_rng(1), np.array([17]))
    folder = write_result(tmp_path / "one", {2: arrays}, fps=29.97, frame_count=12, width=720, height=1280)
    _import(bpy, folder, model_data_dir)
    scene = bpy.context.scene
    assert scene.render.fps == 30 and scene.render.fps_base == pytest.approx(1.001)
    assert (scene.frame_start, scene.frame_end) == (1, 18)  # to the tracked frame 17 (> frame_count 12)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (720, 1280)
    arm = bpy.data.objects["TCMR track 2"]
    _check_frames(bpy, smpl_ref, arrays, arm, bpy.data.objects["TCMR track 2 body"], rows=[0])


def test_multi_person_collections_and_unique_names(bpy_addon, model_data_dir, tmp_path):
    bpy = bpy_addon
    # The user's scene already uses names the import would like to use: they must stay as they are.
    mine = bpy.data.objects.new("TCMR track 1", None)
    bpy.context.scene.collection.objects.link(mine)
    user_coll = bpy.data.collections.new("TCMR clip track 1")
    bpy.context.scene.collection.children.link(user_coll)
    rng = np.random.default_rng(2)
    folder = write_result(tmp_path / "clip", {1: random_track(rng, np.arange(4)),
                                              5: random_track(rng, np.arange(2, 6))}, frame_count=6)
    _import(bpy, folder, model_data_dir)
    assert mine.name == "TCMR track 1" and mine.type == "EMPTY" and user_coll.name == "TCMR clip track 1"
    assert len(user_coll.objects) == 0
    root = bpy.data.collections["TCMR clip"]
    tracks = sorted(root.children, key=lambda c: c.name)
    assert [c.name for c in tracks] == ["TCMR clip track 1.001", "TCMR clip track 5"]
    for coll in tracks:
        arms = [o for o in coll.objects if o.type == "ARMATURE"]
        meshes = [o for o in coll.objects if o.type == "MESH"]
        assert len(arms) == 1 and len(meshes) == 1 and meshes[0].parent == arms[0]
        assert arms[0].animation_data.action is not None
        assert arms[0].animation_data.action_slot is not None  # assigned explicitly (docs/blender_facts.md)
    assert bpy.data.objects["TCMR track 1.001"].type == "ARMATURE"
    assert bpy.context.scene.camera.name == "TCMR clip camera"


def test_upright_person_facing_the_camera(bpy_addon, model_data_dir, tmp_path):
    """TCMR's typical output for a person standing in front of the camera (root turned 180 deg
    about x, zero body pose): in Blender the head is above the pelvis, the person stands in front
    of the camera (+Y) and the toes point back at it (-Y)."""
    bpy = bpy_addon
    arrays = random_track(np.random.default_rng(0), np.arange(1))
    arrays["global_orient"][:] = [np.pi, 0.0, 0.0]
    arrays["body_pose"][:] = 0.0
    arrays["transl"][:] = [0.0, 0.0, 5.0]
    _import(bpy, write_result(tmp_path / "clip", {1: arrays}, frame_count=1), model_data_dir)
    names = ["pelvis", "head", "left_ankle", "left_foot"]
    pelvis, head, ankle, foot = bone_heads(bpy, bpy.data.objects["TCMR track 1"], names, 1)
    assert head[2] - pelvis[2] > 0.3
    assert 4.5 < pelvis[1] < 5.5
    assert foot[1] < ankle[1]


def test_import_from_a_context_without_window(bpy_addon, model_data_dir, tmp_path):
    """Timer callbacks (how the add-on imports after a background run) have no window in their
    context, where edit mode is unavailable; the import must still build the rig."""
    bpy = bpy_addon
    folder = write_result(tmp_path / "clip", {1: random_track(np.random.default_rng(0), np.arange(2))},
                          frame_count=2)
    with bpy.context.temp_override(window=None):
        assert bpy.context.window is None
        _import(bpy, folder, model_data_dir)
    assert len(bpy.data.objects["TCMR track 1"].data.bones) == 24
