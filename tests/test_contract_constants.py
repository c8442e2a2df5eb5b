"""Constants the add-on keeps its own copy of (it never imports `backend`): pinned equal here."""

from __future__ import annotations

from addon.core import cache, datacheck, skeleton
from backend.datafiles import ALL_FILES
from backend.safe_pickle import NUM_JOINTS, SMPL_PARENTS


def test_the_addon_skeleton_is_the_smpl_kinematic_tree():
    assert skeleton.PARENTS == SMPL_PARENTS and skeleton.NUM_JOINTS == NUM_JOINTS


def test_the_addon_model_file_table_is_the_backends():
    assert tuple(f.name for f in ALL_FILES) == datacheck.NAMES
    assert [f.needed_for_run for f in datacheck.FILES] == ["run" in f.required_for for f in ALL_FILES]
    assert tuple(f.name for f in ALL_FILES if "run" in f.required_for) == cache.MODEL_FILES
