"""`python -m backend ground` in a subprocess: a synthetic-truth result in, a grounded result out
(input untouched), the protocol, the no-floor warning, --focal, and one coded error per bad input
with nothing written."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from backend.grounding.world import GROUNDED_KEYS
from backend.result import TRACK_KEYS
from tests.pipeline.conftest import REPO, Run, backend_env, parse
from tests.scenes.world_scene import make_scene, write_result


def ground(*args, data_dir) -> Run:
    proc = subprocess.run([sys.executable, "-m", "backend", "ground", *map(str, args), "--data-dir",
                           str(data_dir), "--jsonl"], cwd=REPO, env=backend_env(), capture_output=True,
                          text=True, timeout=120)
    return Run(proc.returncode, parse(proc.stdout), proc.stderr)


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def scene_result(walk_scene, tmp_path_factory):
    return write_result(walk_scene, tmp_path_factory.mktemp("scene") / "result")


def test_ground_writes_a_new_grounded_result(scene_result, walk_scene, model_data_dir, tmp_path):
    before = _digest(scene_result)
    out = tmp_path / "grounded"
    run = ground(scene_result, "--out", out, data_dir=model_data_dir)
    assert run.rc == 0, run.stderr
    assert _digest(scene_result) == before  # the input is untouched
    assert [e["stage"] for e in run.of("stage")] == ["load", "ground", "write"]
    assert run.events[0]["command"] == "ground" and run.events[-1]["event"] == "result"
    assert run.of("result")[0]["ground_found"] is True
    meta = json.loads((out / "result.json").read_text())
    source = json.loads((scene_result / "result.json").read_text())
    assert meta["format_version"] == 1
    assert {k: v for k, v in meta.items() if k != "world"} == source
    world = meta["world"]
    assert world["ground_found"] is True and abs(world["camera_height_m"] - walk_scene.camera.height_m) < 0.08
    assert world["focal_length_px"] == source["camera"]["focal_length_px"]
    assert world["image_size"] == [1920, 1080] and np.array(world["camera_to_world"]).shape == (4, 4)
    for entry in meta["tracks"]:
        with np.load(out / entry["file"]) as new, np.load(scene_result / entry["file"]) as old:
            assert set(new.files) == {*TRACK_KEYS, *GROUNDED_KEYS}
            for key in old.files:
                assert np.array_equal(new[key], old[key]), key
            t = len(old["frame_index"])
            assert new["world_body_pose"].shape == (t, 23, 3) and new["contact"].shape == (t, 4)


def test_no_floor_warns_and_keeps_the_camera_frame(smpl_data, model_data_dir, tmp_path):
    src = write_result(make_scene(smpl_data, "upper_body", frames=40), tmp_path / "close")
    run = ground(src, "--out", tmp_path / "g", "--foot-lock", "off", data_dir=model_data_dir)
    assert run.rc == 0, run.stderr
    (warning,) = [w for w in run.of("warning") if w["code"] == "GROUND_NOT_FOUND"]
    assert warning["hint"]
    world = json.loads((tmp_path / "g" / "result.json").read_text())["world"]
    assert world["ground_found"] is False and world["foot_lock"] == "off" and world["reason"]


def test_focal_recomputes_the_translation(scene_result, model_data_dir, tmp_path):
    source = json.loads((scene_result / "result.json").read_text())
    focal = 2.0 * source["camera"]["focal_length_px"]
    run = ground(scene_result, "--out", tmp_path / "f", "--focal", focal, data_dir=model_data_dir)
    assert run.rc == 0, run.stderr
    meta = json.loads((tmp_path / "f" / "result.json").read_text())
    assert meta["camera"]["focal_length_px"] == focal and meta["camera"]["focal_source"] == "user"
    with np.load(tmp_path / "f" / "track_1.npz") as new, np.load(scene_result / "track_1.npz") as old:
        # twice the focal length: the body's depth plane twice as far (backend.camera equation 2)
        assert np.allclose(new["transl"][:, 2], 2.0 * old["transl"][:, 2], rtol=1e-5)


def _copy(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def _edit_meta(folder, change):
    meta = json.loads((folder / "result.json").read_text())
    change(meta)
    (folder / "result.json").write_text(json.dumps(meta))


def _edit_track(folder, change):
    with np.load(folder / "track_2.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    np.savez(folder / "track_2.npz", **arrays)


def _newer(folder):
    _edit_meta(folder, lambda m: m.update(format_version=2))


def _no_boxes(folder):
    _edit_track(folder, lambda a: a.pop("bbox_xywh"))


def _no_focal(folder):
    _edit_meta(folder, lambda m: m["camera"].pop("focal_length_px"))


def _nan(folder):
    def change(a):
        a["transl"][3, 1] = np.nan
    _edit_track(folder, change)


@pytest.mark.parametrize("damage, code, words", [
    (_newer, "RESULT_TOO_NEW", "format_version 2"),
    (_no_boxes, "RESULT_INVALID", "person boxes"),
    (_no_focal, "RESULT_INVALID", "focal_length_px"),
    (_nan, "RESULT_INVALID", "NaN"),
])
def test_bad_input_one_coded_error_nothing_written(scene_result, model_data_dir, tmp_path, damage, code,
                                                   words):
    src = _copy(scene_result, tmp_path / "bad")
    damage(src)
    before = _digest(src)
    out = tmp_path / "out"
    run = ground(src, "--out", out, data_dir=model_data_dir)
    assert run.rc == 2
    (error,) = run.of("error")
    assert error["code"] == code and words in error["message"] and error["hint"], error
    assert not run.of("result") and not out.exists() and _digest(src) == before


def test_no_focal_is_fine_with_focal_given(scene_result, model_data_dir, tmp_path):
    src = _copy(scene_result, tmp_path / "nofocal")
    _no_focal(src)
    run = ground(src, "--out", tmp_path / "out", "--focal", 2202.9, data_dir=model_data_dir)
    assert run.rc == 0, run.stderr


def test_out_equal_to_the_input(scene_result, model_data_dir):
    before = _digest(scene_result)
    run = ground(scene_result, "--out", scene_result, data_dir=model_data_dir)
    assert run.rc == 2 and run.of("error")[0]["code"] == "BAD_ARGUMENT"
    assert "--out" in run.of("error")[0]["hint"]
    assert _digest(scene_result) == before


def test_an_older_result_in_out_survives_a_failure(scene_result, model_data_dir, tmp_path):
    older = _copy(scene_result, tmp_path / "older")
    before = _digest(older)
    bad = _copy(scene_result, tmp_path / "bad")
    _nan(bad)
    assert ground(bad, "--out", older, data_dir=model_data_dir).rc == 2
    assert _digest(older) == before


def test_run_options_are_checked():
    from backend.cli import build_parser
    from backend.errors import BackendError
    from backend.pipeline import RunConfig

    args = build_parser().parse_args(["run", "v.mp4", "--out", "o"])
    assert args.ground == "auto" and args.foot_lock == "auto"
    args = build_parser().parse_args(["ground", "r", "--out", "o", "--foot-lock", "off"])
    assert args.foot_lock == "off" and args.focal is None
    for bad in ({"ground": "yes"}, {"foot_lock": "always"}):
        with pytest.raises(BackendError) as info:
            RunConfig(input="v.mp4", out="o", **bad)
        assert info.value.code == "BAD_ARGUMENT"
