"""addon/core/result_io.py: clear errors for every way a result directory can be wrong (pure)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from addon.core.errors import AddonError
from addon.core.result_io import load_all_tracks, read_result

from .result_factory import random_track, write_result


def _result(tmp_path, **kwargs):
    track = random_track(np.random.default_rng(0), np.arange(4))
    return write_result(tmp_path / "clip", {1: track}, **kwargs)


def _edit_json(folder, change):
    meta = json.loads((folder / "result.json").read_text())
    change(meta)
    (folder / "result.json").write_text(json.dumps(meta))


def test_newer_format_asks_for_an_add_on_update(tmp_path):
    folder = _result(tmp_path, format_version=2)
    with pytest.raises(AddonError, match="format_version 2") as info:
        read_result(folder)
    assert "Update the add-on" in info.value.hint


def test_missing_pieces_are_named(tmp_path):
    with pytest.raises(AddonError, match="not found"):
        read_result(tmp_path / "nowhere")
    folder = _result(tmp_path)
    (folder / "track_1.npz").unlink()
    with pytest.raises(AddonError, match=r"track file missing: .*track_1\.npz"):
        load_all_tracks(read_result(folder / "result.json"))  # the json file itself is accepted too
    (folder / "result.json").unlink()
    with pytest.raises(AddonError, match=r"no result\.json"):
        read_result(folder)


def test_bad_contents_are_refused(tmp_path):
    folder = _result(tmp_path)
    (folder / "result.json").write_text("{not json")
    with pytest.raises(AddonError, match="not valid JSON"):
        read_result(folder)

    folder = _result(tmp_path)
    _edit_json(folder, lambda m: m["tracks"][0].update(file="../track_1.npz"))
    with pytest.raises(AddonError, match="plain file name"):
        read_result(folder)

    folder = _result(tmp_path)
    _edit_json(folder, lambda m: m["video"].update(fps=0))
    with pytest.raises(AddonError, match=r"video\.fps"):
        read_result(folder)

    folder = _result(tmp_path)
    _edit_json(folder, lambda m: m.update(tracks=[]))
    with pytest.raises(AddonError, match="no tracks"):
        load_all_tracks(read_result(folder))


@pytest.mark.parametrize("key, value, message", [
    ("frame_index", np.array([0, 2, 2, 3]), "strictly increasing"),
    ("body_pose", np.zeros((4, 24, 3)), "body_pose"),
    ("transl", np.full((4, 3), np.nan), "NaN"),
    ("betas", None, "no 'betas'"),
])
def test_bad_track_arrays(tmp_path, key, value, message):
    arrays = random_track(np.random.default_rng(0), np.arange(4))
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    folder = write_result(tmp_path / "clip", {1: arrays})
    with pytest.raises(AddonError, match=message):
        load_all_tracks(read_result(folder))
