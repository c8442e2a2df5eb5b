"""Bake from a real imported character (tcmr.import_result of a Contract 3 result directory,
docs/contracts.md) onto a Mixamo-named rig: the source is exactly what users bake from."""

from __future__ import annotations

import numpy as np
import pytest

from tests.blender.result_factory import random_track, write_result

from . import rigs
from .test_bake import (
    MAX_DEGREES,
    assert_clean,
    assert_same_snapshot,
    root_positions,
    source_snapshot,
    worst_direction_error,
)


@pytest.mark.bpy
def test_bake_from_an_imported_character(bpy_module, model_data_dir, tmp_path):
    bpy = bpy_module
    arrays = random_track(np.random.default_rng(3), np.arange(8), pose_scale=0.5)
    folder = write_result(tmp_path / "clip", {1: arrays}, frame_count=8)
    assert bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(model_data_dir),
                                      pose_correctives=False) == {"FINISHED"}
    source = bpy.data.objects["TCMR track 1"]
    names = rigs.prefixed(rigs.MIXAMO_NAMES, "mixamorig:")
    target = rigs.build_rig("Mixamo", names, rigs.rig_joints(1.2))
    before = source_snapshot(bpy, source)
    rest = {b.name: np.array(source.matrix_world @ b.head_local) for b in source.data.bones}

    assert bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="MIXAMO") == {"FINISHED"}

    assert_clean(bpy, target)
    body = bpy.data.objects["TCMR track 1 body"]
    assert not body.hide_viewport  # switched off only while baking
    assert_same_snapshot(before, source_snapshot(bpy, source))
    frames = list(range(1, 9))  # video frame i is scene frame i + 1
    assert worst_direction_error(bpy, source, target, names, frames=frames) < MAX_DEGREES
    # hip-height ratio from the character's own rest skeleton
    feet = ("left_ankle", "right_ankle", "left_foot", "right_foot")
    ratio_src = rest["pelvis"][2] - min(rest[j][2] for j in feet)
    ratio_tgt = np.array(target.data.bones["mixamorig:Hips"].head_local)[2] - min(
        np.array(target.data.bones[names[j]].head_local)[2] for j in feet)
    src_path = root_positions(bpy, source, "pelvis", frames)
    tgt_path = root_positions(bpy, target, "mixamorig:Hips", frames)
    assert np.ptp(src_path, axis=0).max() > 0.01  # the character really moves
    assert np.allclose(tgt_path - tgt_path[0], (ratio_tgt / ratio_src) * (src_path - src_path[0]), atol=1e-4)
