"""Bad input to tcmr.import_result: a clear error naming the fix, and nothing left behind."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import addon.importer as importer

from .result_factory import random_track, write_result

_KINDS = ("objects", "meshes", "armatures", "actions", "collections", "cameras", "shape_keys",
          "movieclips", "images")


def _counts(bpy):
    return {kind: len(getattr(bpy.data, kind)) for kind in _KINDS}


def _two_tracks(tmp_path, **kwargs):
    rng = np.random.default_rng(0)
    return write_result(tmp_path / "clip", {1: random_track(rng, np.arange(3)),
                                            2: random_track(rng, np.arange(3))}, frame_count=3, **kwargs)


def _refused(bpy, folder, data_dir, match):
    before = _counts(bpy)
    with pytest.raises(RuntimeError, match=match):  # bpy.ops raises on an ERROR report (CANCELLED)
        bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(data_dir))
    assert _counts(bpy) == before


def test_missing_result(bpy_addon, model_data_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    _refused(bpy_addon, tmp_path / "empty", model_data_dir, r"no result\.json.*Run the video again")


def test_newer_format(bpy_addon, model_data_dir, tmp_path):
    _refused(bpy_addon, _two_tracks(tmp_path, format_version=99), model_data_dir, "Update the add-on")


def test_missing_track_file(bpy_addon, model_data_dir, tmp_path):
    folder = _two_tracks(tmp_path)
    (folder / "track_2.npz").unlink()  # the first track is fine: still nothing may be built
    _refused(bpy_addon, folder, model_data_dir, "track file missing")


def test_missing_smpl_file(bpy_addon, tmp_path):
    (tmp_path / "data").mkdir()
    _refused(bpy_addon, _two_tracks(tmp_path), tmp_path / "data",
             r"SMPL model file not found.*SMPL_NEUTRAL\.pkl.*model data folder")


def test_malicious_smpl_file(bpy_addon, tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps({"v_template": Evil()}))
    _refused(bpy_addon, _two_tracks(tmp_path), tmp_path / "data", r"refused global 'builtins\.print'")


def test_failure_while_building_removes_everything(bpy_addon, model_data_dir, tmp_path, monkeypatch):
    bpy = bpy_addon
    user_obj = bpy.data.objects.new("Keep me", None)
    bpy.context.scene.collection.objects.link(user_obj)
    real = importer.build_character
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "build_character", second_fails)
    _refused(bpy, _two_tracks(tmp_path), model_data_dir, "simulated failure.*nothing was added")
    assert len(calls) == 2  # the first character had been built, and was removed again
    assert bpy.data.objects.get("Keep me") is user_obj and not bpy.data.collections


def test_missing_video_still_builds_and_warns(bpy_addon, model_data_dir, tmp_path):
    bpy = bpy_addon
    folder = _two_tracks(tmp_path, video_path=str(tmp_path / "gone.mp4"))
    report = importer.import_result(bpy.context, str(folder), str(model_data_dir))
    assert report.armatures == ["TCMR track 1", "TCMR track 2"]
    assert any("video not found" in w and "gone.mp4" in w for w in report.warnings)
    assert len(bpy.data.cameras[0].background_images) == 0


def test_rest_joints_from_another_smpl_file_warn(bpy_addon, model_data_dir, smpl_ref, tmp_path):
    """The character is built from the user's SMPL file; a result whose joints_rest came from a
    different body model is still imported, with a warning naming the gap."""
    bpy = bpy_addon

    def shifted(betas):
        v = smpl_ref.v_template + smpl_ref.shapedirs @ betas
        return smpl_ref.J_regressor @ v + np.array([0.0, 0.02, 0.0])  # 20 mm off

    def exact(betas):
        return smpl_ref.J_regressor @ (smpl_ref.v_template + smpl_ref.shapedirs @ betas)

    track = random_track(np.random.default_rng(0), np.arange(2))
    good = write_result(tmp_path / "good", {1: track}, frame_count=2, joints_rest=exact)
    report = importer.import_result(bpy.context, str(good), str(model_data_dir))
    assert not any("rest joints" in w for w in report.warnings)
    bad = write_result(tmp_path / "bad", {1: track}, frame_count=2, joints_rest=shifted)
    report = importer.import_result(bpy.context, str(bad), str(model_data_dir))
    assert any("track 1: its rest joints differ by 20 mm" in w for w in report.warnings)
    assert len(report.armatures) == 1


def _scene_state(bpy):
    scene = bpy.context.scene
    r = scene.render
    return (r.fps, r.fps_base, scene.frame_start, scene.frame_end, r.resolution_x, r.resolution_y,
            r.resolution_percentage, scene.camera)


def _user_scene(bpy):
    """A scene the user set up: 24 fps, frames 10..250, 1000x500 at 50 %, their own camera."""
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.frame_start, scene.frame_end = 10, 250
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1000, 500, 50
    cam = bpy.data.objects.new("User camera", bpy.data.cameras.new("User camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam


@pytest.mark.parametrize(("kwargs", "frames", "match"), [
    ({"frame_count": 10**12}, [0, 1, 2], r"video\.frame_count is 1000000000000"),
    ({"frame_count": 3}, [0, 1, 5_000_000], r"track_1\.npz: frame_index reaches video frame 5000000"),
    ({"frame_count": 3, "fps": 1e9}, [0, 1, 2], r"video\.fps is 1e\+09"),
    ({"frame_count": 3, "width": 10**7}, [0, 1, 2], r"video\.width is 10000000 px"),
    ({"frame_count": 3, "focal": 1e12}, [0, 1, 2], r"camera\.focal_length_px"),
])
def test_a_result_that_does_not_fit_a_scene_is_refused_before_anything_changes(
        bpy_addon, model_data_dir, tmp_path, kwargs, frames, match):
    """Blender clamps (or fails half-way on) frame numbers, rates and sizes out of its range: the
    import names the field and leaves the scene's settings and contents as they were."""
    bpy = bpy_addon
    _user_scene(bpy)
    before = _scene_state(bpy)
    folder = write_result(tmp_path / "clip", {1: random_track(np.random.default_rng(0), np.array(frames))},
                          **kwargs)
    _refused(bpy, folder, model_data_dir, match + ".*process the video again")
    assert _scene_state(bpy) == before


def test_a_failure_after_the_scene_settings_puts_them_back(bpy_addon, model_data_dir, tmp_path, monkeypatch):
    bpy = bpy_addon
    _user_scene(bpy)
    before = _scene_state(bpy)
    real = importer.apply_scene_settings

    def fails_after_setting(scene, *args, **kwargs):
        real(scene, *args, **kwargs)
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(importer, "apply_scene_settings", fails_after_setting)
    _refused(bpy, _two_tracks(tmp_path), model_data_dir, "simulated failure.*nothing was added")
    assert _scene_state(bpy) == before
