"""ResultWriter: staged, all-or-nothing; an older result survives a failed run; never a mix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.result import TRACK_KEYS, ResultWriter, track_arrays


def _arrays(t=4, first=0, features=False):
    rng = np.random.default_rng(first)
    return track_arrays(np.arange(first, first + t), rng.normal(size=(t, 72)), rng.normal(size=(t, 10)),
                        rng.normal(size=(t, 3)), rng.normal(size=(t, 3)),
                        np.tile([50.0, 60.0, 40.0, 40.0], (t, 1)), rng.normal(size=(t, 49, 3)),
                        rng.normal(size=(24, 3)), rng.normal(size=(t, 2048)) if features else None)


def _write(out, ids, tag):
    with ResultWriter(out) as writer:
        for i in ids:
            writer.write_track(i, _arrays())
        writer.commit({"tag": tag, "tracks": [{"id": i, "file": f"track_{i}.npz"} for i in ids]})


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_track_arrays_layout():
    a = _arrays(t=5, features=True)
    assert set(a) == {*TRACK_KEYS, "features"}
    assert np.allclose(a["bbox_xywh"], [30.0, 40.0, 40.0, 40.0])  # centre 50,60 size 40 -> top-left 30,40
    assert np.allclose(a["betas"], a["betas_per_frame"].mean(0), atol=1e-6)
    assert a["body_pose"].shape == (5, 23, 3) and a["global_orient"].shape == (5, 3)
    assert a["parents"].dtype == np.int64 and a["parents"][0] == -1
    assert a["frame_index"].dtype == np.int64


def test_commit_replaces_an_older_result_completely(tmp_path):
    out = tmp_path / "res"
    _write(out, [1, 7], "old")
    assert _listing(out) == ["result.json", "track_1.npz", "track_7.npz"]
    _write(out, [2], "new")
    assert _listing(out) == ["result.json", "track_2.npz"]  # no stale track_7, no staging folder
    assert json.loads((out / "result.json").read_text())["tag"] == "new"


def test_failed_run_keeps_the_older_result(tmp_path):
    out = tmp_path / "res"
    _write(out, [1], "old")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(KeyboardInterrupt), ResultWriter(out) as writer:
        writer.write_track(1, _arrays(first=9))
        writer.write_track(2, _arrays())
        raise KeyboardInterrupt  # SIGTERM arrives like this (backend.cli)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_failed_run_into_a_new_folder_leaves_nothing(tmp_path):
    out = tmp_path / "new" / "res"
    with pytest.raises(RuntimeError), ResultWriter(out) as writer:
        writer.write_track(1, _arrays())
        raise RuntimeError("boom")
    assert not out.exists()


def test_failed_run_keeps_unrelated_files(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(RuntimeError), ResultWriter(out) as writer:
        writer.write_track(1, _arrays())
        raise RuntimeError("boom")
    assert _listing(out) == ["notes.txt"]
    _write(out, [3], "x")
    assert _listing(out) == ["notes.txt", "result.json", "track_3.npz"]


def test_track_files_load_without_pickle(tmp_path):
    _write(tmp_path / "r", [4], "x")
    with np.load(tmp_path / "r" / "track_4.npz", allow_pickle=False) as npz:
        assert set(npz.files) == set(TRACK_KEYS)
