"""Bad input to apply_foot_lock: no crash, coded warnings or BackendError codes."""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import BackendError, Code
from backend.footlock.lock import apply_foot_lock
from tests.footlock import truth


@pytest.fixture(scope="module")
def scene(smpl_data):
    return truth.make_scene(smpl_data, seed=3, frames=60)


def _codes(report):
    return [w["code"] for w in report["warnings"]]


def test_a_track_with_no_planted_frame_is_unchanged_with_a_warning(scene, smpl_data):
    track = dict(scene.people[0].world_input)
    track["world_transl"] = track["world_transl"] + np.array([0.0, 0.0, 1.5])  # floating 1.5 m up
    new, contact, report = apply_foot_lock(track, scene.camera_to_world, smpl_data, truth.FPS)
    assert _codes(report) == ["FOOT_LOCK_NO_CONTACT"]
    assert not report["locked"] and (contact <= 0.5).all()
    assert np.array_equal(new["world_transl"], track["world_transl"])
    assert np.array_equal(new["world_body_pose"], track["world_body_pose"])


def test_a_one_frame_track_is_skipped_with_a_warning(scene, smpl_data):
    full = scene.people[2].world_input
    track = {k: (v[:1] if k != "betas" else v) for k, v in full.items()}
    new, contact, report = apply_foot_lock(track, scene.camera_to_world, smpl_data, truth.FPS)
    assert _codes(report) == ["FOOT_LOCK_SKIPPED"]
    assert contact.shape == (1, 4) and np.array_equal(new["world_transl"], track["world_transl"])


def test_nan_frames_are_left_alone_the_rest_is_locked(scene, smpl_data):
    track = {k: np.array(v, dtype=np.float64) for k, v in scene.people[2].world_input.items()}
    track["world_transl"][10] = np.nan
    track["world_body_pose"][30, 4] = np.inf
    new, contact, report = apply_foot_lock(track, scene.camera_to_world, smpl_data, truth.FPS)
    assert _codes(report) == ["FOOT_LOCK_NONFINITE"] and report["locked"]
    assert np.isnan(new["world_transl"][10]).all() and np.isinf(new["world_body_pose"][30, 4]).all()
    assert (contact[[10, 30]] == 0).all()
    good = np.setdiff1d(np.arange(60), [10, 30])
    assert np.isfinite(new["world_transl"][good]).all() and np.isfinite(new["world_body_pose"][good]).all()
    assert (contact[good] > 0.5).mean() > 0.8  # the stander is planted nearly always


def test_all_frames_nan_gives_warnings_not_a_crash(scene, smpl_data):
    track = {k: np.array(v, dtype=np.float64) for k, v in scene.people[2].world_input.items()}
    track["world_global_orient"][:] = np.nan
    _new, contact, report = apply_foot_lock(track, scene.camera_to_world, smpl_data, truth.FPS)
    assert _codes(report) == ["FOOT_LOCK_NONFINITE", "FOOT_LOCK_SKIPPED"] and (contact == 0).all()


@pytest.mark.parametrize("change, code", [
    (lambda t: t.pop("world_transl"), Code.RESULT_INVALID),
    (lambda t: t.__setitem__("world_body_pose", np.zeros((5, 23, 3))), Code.RESULT_INVALID),
    (lambda t: t.__setitem__("betas", np.full(10, np.nan)), Code.RESULT_INVALID),
])
def test_malformed_tracks_raise_coded_errors(scene, smpl_data, change, code):
    track = dict(scene.people[2].world_input)
    change(track)
    with pytest.raises(BackendError) as info:
        apply_foot_lock(track, scene.camera_to_world, smpl_data, truth.FPS)
    assert info.value.code == code and info.value.hint


def test_bad_mode_and_fps_raise_coded_errors(scene, smpl_data):
    track = scene.people[2].world_input
    with pytest.raises(BackendError) as info:
        apply_foot_lock(track, scene.camera_to_world, smpl_data, truth.FPS, mode="always")
    assert info.value.code == Code.BAD_ARGUMENT
    with pytest.raises(BackendError) as info:
        apply_foot_lock(track, scene.camera_to_world, smpl_data, 0.0)
    assert info.value.code == Code.RESULT_INVALID
