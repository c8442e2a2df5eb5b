"""`batch --ray local` (Ray on this machine, started and stopped by the command; 2 CPUs): a corrupt
input fails alone, a killed actor's input is retried and finishes, and the arrays equal those of
the local executor. One test: Ray's start-up costs tens of seconds on a small machine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.batch.work import CRASH_HOOK_ENV
from tests.batch.conftest import FAST, run_batch

pytest.importorskip("ray")


def _arrays(out, name):
    meta = json.loads((out / name / "result.json").read_text())
    return dict(np.load(out / name / meta["tracks"][0]["file"]))


def test_ray_local_matches_local_executor(inputs, model_data_dir, tmp_path):
    (inputs / "frames").rename(tmp_path / "frames_unused")  # two inputs keep it short: walk + broken
    ray_out, local_out = tmp_path / "ray", tmp_path / "local"
    marker = tmp_path / "crashed"
    common = ("--data-dir", model_data_dir, "--workers", "1", *FAST)
    ray = run_batch(inputs, "--out", ray_out, "--ray", "local", *common,
                    env_extra={CRASH_HOOK_ENV: f"{marker}:walk", "RAY_USAGE_STATS_ENABLED": "0"})
    assert ray.rc == 0, ray.stderr[-3000:]
    data = json.loads((ray_out / "batch.json").read_text())
    entries = {e["name"]: e for e in data["inputs"]}
    assert entries["broken"]["status"] == "failed" and entries["broken"]["error"]["code"] == "VIDEO_CORRUPT"
    assert entries["walk"]["status"] == "done" and entries["walk"]["attempts"] == 2  # its actor was killed
    assert marker.exists()
    executor = data["executor"]
    assert executor["kind"] == "ray" and executor["ray_version"] and executor["address"]

    local = run_batch(inputs, "--out", local_out, *common)
    assert local.rc == 0, local.stderr
    got, want = _arrays(ray_out, "walk"), _arrays(local_out, "walk")
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
