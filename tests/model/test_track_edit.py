"""The track editor (backend/track_edit.py, `python -m backend edit`): seams re-solved from real
windows, rows away from seams unchanged, round trips, coded errors with nothing written."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from backend.models.inference import regress_track
from backend.track_edit import Edit, apply_edits, load_result
from tests.model.edit_results import smooth_features, track_from_features, write_result
from tests.model.test_cli import run_backend

MOTION = ("global_orient", "body_pose", "transl", "joints3d", "cam_weak", "confidence")


@pytest.fixture(scope="module")
def feats():
    return {1: smooth_features(28, 1), 2: smooth_features(28, 2), 3: smooth_features(28, 3)}


@pytest.fixture(scope="module")
def result_dir(models, feats, tmp_path_factory):
    """Track 1 frames 0..27, track 2 frames 32..59 (the same person after a 4-frame gap),
    track 3 frames 0..27 (someone else)."""
    frames = {1: np.arange(28), 2: np.arange(32, 60), 3: np.arange(28)}
    tracks = {i: track_from_features(models, frames[i], feats[i], 150.0 + 100 * i) for i in frames}
    return write_result(tmp_path_factory.mktemp("edit") / "result", tracks)


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _main(capsys, *argv) -> tuple[int, list[dict]]:
    """The CLI in-process (these cases fail before any model loads): exit code, protocol events."""
    from backend.cli import main

    capsys.readouterr()
    rc = main([*argv, "--jsonl"])
    return rc, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _regress(models):
    return lambda f: regress_track(models, f)


def _close(a, b, rows_a, rows_b, keys=MOTION):
    for k in keys:
        np.testing.assert_allclose(a[k][rows_a], b[k][rows_b], atol=1e-5, err_msg=k)


def test_merge_bridges_the_gap_and_resolves_only_the_seam(models, feats, result_dir):
    before = _digest(result_dir)
    res = load_result(result_dir)
    out = apply_edits(res, [Edit("merge", 1, 2)], _regress(models))
    assert sorted(out) == [1, 3]
    m, a, b = out[1], res.tracks[1], res.tracks[2]
    np.testing.assert_array_equal(m["frame_index"], np.arange(60))
    np.testing.assert_array_equal(m["interpolated"], np.isin(np.arange(60), [28, 29, 30, 31]))
    _close(m, a, slice(0, 20), slice(0, 20))  # 8+ rows before the first seam (row 28)
    _close(m, b, slice(40, 60), slice(8, 28))  # 8+ rows after the second seam (row 32)
    # truth: TCMR on the concatenated features, the bridge interpolated linearly between the ends
    w = (np.arange(1, 5) / 5)[:, None]
    bridge = (1 - w) * feats[1][-1].astype(np.float64) + w * feats[2][0]
    whole = regress_track(models, np.concatenate([feats[1], bridge.astype(np.float32), feats[2]]))
    seam = slice(20, 40)
    np.testing.assert_allclose(m["global_orient"][seam], whole["pose"][seam, :3], atol=1e-5)
    np.testing.assert_allclose(m["body_pose"][seam].reshape(20, 69), whole["pose"][seam, 3:], atol=1e-5)
    np.testing.assert_allclose(m["joints3d"][seam], whole["joints3d"][seam], atol=1e-5)
    # the seam rows really changed: track 1's last 7 rows had static windows, now real ones
    assert np.abs(m["global_orient"][21:28] - a["global_orient"][21:28]).max() > 1e-4
    assert (m["confidence"][28:32] <= 0.5).all()  # bridged frames are flagged as interpolated
    assert _digest(result_dir) == before  # the input result is untouched


def test_split_then_merge_is_the_original(models, feats, result_dir):
    res = load_result(result_dir)
    split = apply_edits(res, [Edit("split", 1, frame=14)], _regress(models))
    head, tail = split[1], split[4]
    np.testing.assert_array_equal(head["frame_index"], np.arange(14))
    np.testing.assert_array_equal(tail["frame_index"], np.arange(14, 28))
    _close(head, res.tracks[1], slice(0, 6), slice(0, 6))
    _close(tail, res.tracks[1], slice(8, 14), slice(22, 28))
    alone = regress_track(models, feats[1][:14])  # a 14-frame track: every window static
    np.testing.assert_allclose(head["joints3d"], alone["joints3d"], atol=1e-5)
    back = apply_edits(res, [Edit("split", 1, frame=14), Edit("merge", 1, 4)], _regress(models))
    assert sorted(back) == [1, 2, 3]
    _close(back[1], res.tracks[1], slice(None), slice(None))


def test_swap_twice_is_the_original_and_once_exchanges_the_tails(models, result_dir):
    res = load_result(result_dir)
    once = apply_edits(res, [Edit("swap", 1, 3, 14)], _regress(models))
    _close(once[1], res.tracks[1], slice(0, 6), slice(0, 6))
    _close(once[1], res.tracks[3], slice(22, 28), slice(22, 28))
    np.testing.assert_allclose(once[1]["bbox_xywh"][20:], res.tracks[3]["bbox_xywh"][20:])
    twice = apply_edits(res, [Edit("swap", 1, 3, 14), Edit("swap", 1, 3, 14)], _regress(models))
    for i in (1, 3):
        _close(twice[i], res.tracks[i], slice(None), slice(None))


def test_delete_cli_writes_a_complete_result(result_dir, model_data_dir, tmp_path):
    from addon.core.result_io import read_result

    out = tmp_path / "edited"
    rc, events, err = run_backend("edit", str(result_dir), "--out", str(out), "--delete", "3",
                                  "--data-dir", str(model_data_dir), "--device", "cpu")
    assert rc == 0, err
    assert events[-1]["event"] == "result" and events[-1]["tracks"] == 2
    info = read_result(out)
    assert [t.id for t in info.tracks] == [1, 2]
    for i in (1, 2):
        with np.load(out / f"track_{i}.npz") as new, np.load(result_dir / f"track_{i}.npz") as old:
            assert set(new.files) == set(old.files)
            for k in old.files:
                np.testing.assert_array_equal(new[k], old[k])


@pytest.mark.parametrize(("args", "code"), [
    (("--merge", "1,9"), "BAD_ARGUMENT"),  # no track 9
    (("--merge", "1,3"), "BAD_ARGUMENT"),  # overlapping in time
    (("--split", "2@5"), "BAD_ARGUMENT"),  # frame outside track 2
    (("--swap", "1,2@20"), "BAD_ARGUMENT"),  # frame outside track 2
    (("--split", "1"), "BAD_ARGUMENT"),  # malformed
    ((), "BAD_ARGUMENT"),  # no edit
])
def test_bad_edits_are_coded_errors_and_write_nothing(result_dir, model_data_dir, tmp_path, args, code,
                                                     capsys):
    before = _digest(result_dir)
    out = tmp_path / "edited"
    rc, events = _main(capsys, "edit", str(result_dir), "--out", str(out), *args,
                       "--data-dir", str(model_data_dir), "--device", "cpu")
    assert rc == 2 and events[-1]["event"] == "error" and events[-1]["code"] == code
    assert events[-1]["hint"]
    assert not out.exists() and _digest(result_dir) == before


def test_a_result_without_features_says_how_to_get_them(result_dir, tmp_path, model_data_dir, capsys):
    res = load_result(result_dir)  # the same tracks, as `run` without --save-features writes them
    src = write_result(tmp_path / "nofeat", {i: {k: v for k, v in t.items() if k != "features"}
                                             for i, t in res.tracks.items()})
    for args in (("--merge", "1,2"), ("--split", "1@5"), ("--swap", "1,3@5")):
        out = tmp_path / "edited"
        rc, events = _main(capsys, "edit", str(src), "--out", str(out), *args,
                           "--data-dir", str(model_data_dir), "--device", "cpu")
        assert rc == 2 and events[-1]["code"] == "FEATURES_MISSING"
        assert "--save-features" in events[-1]["hint"] and not out.exists()
