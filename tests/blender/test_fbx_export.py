"""tcmr.export_fbx: export, re-import with Blender's FBX importer into an empty scene, and the
joints move exactly as before, for every target preset (bpy tests)."""

from __future__ import annotations

import numpy as np
import pytest

from addon.core.skeleton import JOINT_NAMES

from .conftest import bone_heads, evaluated_vertices
from .result_factory import random_track, write_result

FRAMES = range(1, 7)  # scene frames of video frames 0..5


def _global_settings(path) -> dict:
    from io_scene_fbx import parse_fbx  # Blender's own FBX parser (ships with bpy)

    root, _version = parse_fbx.parse(str(path))
    settings = next(e for e in root.elems if e.id == b"GlobalSettings")
    props = next(e for e in settings.elems if e.id == b"Properties70")
    return {p.props[0].decode(): p.props[-1] for p in props.elems}


@pytest.mark.parametrize("target, up_axis, unit_scale", [
    ("UNITY", 1, 100.0),  # Y up, metres (UnitScaleFactor 100 cm), object scale 1
    ("UNREAL", 2, 1.0),  # Z up, centimetres
    ("GENERIC", 1, 1.0),  # Y up, centimetres
])
def test_fbx_round_trip(bpy_addon, model_data_dir, tmp_path, target, up_axis, unit_scale):
    bpy = bpy_addon
    rng = np.random.default_rng(11)
    track = random_track(rng, np.arange(6), pose_scale=0.6)
    folder = write_result(tmp_path / "clip", {1: track}, frame_count=6)
    assert bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(model_data_dir)) == {"FINISHED"}
    # A leftover action in the file must not become an extra take.
    bpy.data.actions.new("Leftover").use_fake_user = True
    arm = bpy.data.objects["TCMR track 1"]
    before = {f: bone_heads(bpy, arm, JOINT_NAMES, f) for f in FRAMES}
    body = bpy.data.objects["TCMR track 1 body"]
    mesh_before = {f: evaluated_vertices(bpy, body, f) for f in (2, 5)}
    bpy.context.view_layer.objects.active = None
    out = tmp_path / f"character_{target}.fbx"
    assert bpy.ops.tcmr.export_fbx(filepath=str(out), target=target, object="TCMR track 1") == {"FINISHED"}
    assert arm.name == "TCMR track 1"  # any temporary node name is restored

    settings = _global_settings(out)
    assert settings["UpAxis"] == up_axis
    assert settings["UnitScaleFactor"] == pytest.approx(unit_scale)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    # anim_offset=0: the "Scene" take holds absolute times, so frames come back unshifted.
    bpy.ops.import_scene.fbx(filepath=str(out), anim_offset=0.0)
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    meshes = [o for o in bpy.data.objects if o.type == "MESH"]
    assert len(arms) == 1 and len(meshes) == 1
    new_arm = arms[0]
    assert new_arm.name == ("Armature" if target == "UNREAL" else "TCMR track 1")
    assert sorted(b.name for b in new_arm.data.bones) == sorted(JOINT_NAMES)  # no *_end leaf bones
    assert len(meshes[0].data.shape_keys.key_blocks) == 1 + 10 + 207
    takes = sorted(a.name for a in bpy.data.actions)
    assert not any("Leftover" in name for name in takes)
    for f in FRAMES:
        err = np.abs(bone_heads(bpy, new_arm, JOINT_NAMES, f) - before[f]).max()
        assert err < 1e-3, f"frame {f}: {err * 1000:.3f} mm"
    # The skinned body with its animated pose correctives comes back too (weights, shape keys).
    for f, verts in mesh_before.items():
        assert np.abs(evaluated_vertices(bpy, meshes[0], f) - verts).max() < 1e-3


def test_export_errors(bpy_addon, tmp_path):
    bpy = bpy_addon
    with pytest.raises(RuntimeError, match="no object named"):
        bpy.ops.tcmr.export_fbx(filepath=str(tmp_path / "x.fbx"), target="UNITY", object="missing")
    empty = bpy.data.objects.new("Empty", None)
    bpy.context.scene.collection.objects.link(empty)
    with pytest.raises(RuntimeError, match="not an armature"):
        bpy.ops.tcmr.export_fbx(filepath=str(tmp_path / "x.fbx"), target="UNITY", object="Empty")
    assert not (tmp_path / "x.fbx").exists()


def test_take_spans_the_characters_own_frames(bpy_addon, model_data_dir, tmp_path):
    """Two people, the second seen only in video frames 4..7: its FBX take holds those frames."""
    bpy = bpy_addon
    rng = np.random.default_rng(4)
    tracks = {1: random_track(rng, np.arange(10)), 2: random_track(rng, np.arange(4, 8))}
    folder = write_result(tmp_path / "clip", tracks, frame_count=10)
    assert bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(model_data_dir)) == {"FINISHED"}
    scene = bpy.context.scene
    arm = bpy.data.objects["TCMR track 2"]
    before = {f: bone_heads(bpy, arm, JOINT_NAMES, f) for f in range(5, 9)}
    scene.frame_set(3)
    out = tmp_path / "two.fbx"
    assert bpy.ops.tcmr.export_fbx(filepath=str(out), target="GENERIC", object="TCMR track 2") == {"FINISHED"}
    assert (scene.frame_start, scene.frame_end, scene.frame_current) == (1, 10, 3)  # restored
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(out), anim_offset=0.0)
    (new_arm,) = [o for o in bpy.data.objects if o.type == "ARMATURE"]  # only the chosen character
    assert len([o for o in bpy.data.objects if o.type == "MESH"]) == 1
    assert tuple(new_arm.animation_data.action.frame_range) == (5.0, 8.0)  # video frames 4..7
    for f, heads in before.items():
        assert np.abs(bone_heads(bpy, new_arm, JOINT_NAMES, f) - heads).max() < 1e-3
