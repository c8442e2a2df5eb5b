"""Atomic output files and JSON of numpy values."""

import json

import numpy as np
import pytest

from backend.errors import BackendError, Code
from backend.fileio import json_text, to_json, write_atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")

    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(BackendError) as info:
        write_atomic(target, broken)
    assert info.value.code == Code.OUTPUT_UNWRITABLE and "disk full" in info.value.message
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_successful_write_replaces_the_file(tmp_path):
    target = tmp_path / "sub" / "out.npz"
    write_atomic(target, lambda tmp: np.savez(tmp, a=np.arange(3)), suffix=".npz")
    assert np.load(target)["a"].tolist() == [0, 1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["out.npz"]


def test_numpy_values_become_plain_json():
    value = {"f": np.float32(1.5), "i": np.int64(3), "a": np.arange(2), "nan": float("nan"),
             "nested": [(np.bool_(True), None)], 7: "key"}
    assert to_json(value) == {"f": 1.5, "i": 3, "a": [0, 1], "nan": None, "nested": [[True, None]],
                              "7": "key"}
    line = json_text({"event": "x", "v": np.float64(2.0)}, indent=None)
    assert line.endswith("\n") and line.count("\n") == 1 and json.loads(line) == {"event": "x", "v": 2.0}
