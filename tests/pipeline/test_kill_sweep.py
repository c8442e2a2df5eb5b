"""SIGKILL at every named moment of the write stage (the test-only hook TCMR_TEST_KILL_AT in
backend/result.py kills the process there, as a power cut would): afterwards --out holds either
the old result byte-identical or the whole new one, as the add-on reads it, and the next run
cleans everything the killed one left (staging folder, stale lock, orphan tracks)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from addon.core.result_io import load_all_tracks, read_result
from backend.result import KILL_HOOK_ENV, ResultWriter, track_arrays, track_entry
from tests.pipeline.clips import BBOX, write_mp4
from tests.pipeline.conftest import REPO, backend_env

# In order; the switch (result.json renamed over the old one) happens between these two.
BEFORE_SWITCH = ["locked", "cleaned", "staged_1", "staged_2", "staged_3", "manifest_written", "moved_1",
                 "moved_2", "moved_3", "before_switch"]
AFTER_SWITCH = ["switched", "old_removed_one", "old_removed", "staging_removed"]

_WRITER = "import sys; from tests.pipeline.test_kill_sweep import write; write(*sys.argv[1:])"


def write(out: str, tag: str, ids: str) -> None:
    """A result the way the pipeline writes it (names from write_track); track i has 3 + i rows."""
    with ResultWriter(out) as writer:
        entries = []
        for i in (int(v) for v in ids.split(",")):
            t = 3 + i
            rng = np.random.default_rng(i * 100 + len(tag))
            arrays = track_arrays(np.arange(t), rng.normal(size=(t, 72)), rng.normal(size=(t, 10)),
                                  rng.normal(size=(t, 3)), rng.normal(size=(t, 3)),
                                  np.tile([50.0, 60.0, 40.0, 40.0], (t, 1)), rng.normal(size=(t, 49, 3)),
                                  rng.normal(size=(24, 3)))
            name = writer.write_track(i, arrays)
            entries.append(track_entry(i, name, arrays["frame_index"], np.zeros(t, bool)))
        writer.commit({"format_version": 1, "producer": {"name": "kill-sweep"}, "tag": tag,
                       "video": {"path": "", "fps": 25.0, "frame_count": 20, "width": 160, "height": 120},
                       "camera": {"focal_length_px": 200.0, "principal_point_px": [80.0, 60.0]},
                       "tracks": entries})


def _killed_write(out: Path, tag: str, ids: str, kill_at: str) -> subprocess.CompletedProcess:
    env = {**backend_env(), KILL_HOOK_ENV: kill_at}
    return subprocess.run([sys.executable, "-c", _WRITER, str(out), tag, ids], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def old_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("old") / "res"
    write(str(out), "old", "1,2")
    (out / "notes.txt").write_text("the user's own file")
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _check_whole(folder: Path, tag: str, ids: list[int]) -> None:
    """The add-on reads the result completely, and it is the `tag` run's."""
    info = read_result(folder)
    assert json.loads((folder / "result.json").read_text())["tag"] == tag
    tracks = load_all_tracks(info)
    assert [len(t.frame_index) for t in tracks] == [3 + i for i in ids]


@pytest.mark.parametrize("point", BEFORE_SWITCH + AFTER_SWITCH)
def test_sigkill_during_the_write_leaves_old_or_new_and_the_next_run_cleans_up(old_result, tmp_path, point):
    out = tmp_path / "res"
    shutil.copytree(old_result, out)
    old = _files(out)
    proc = _killed_write(out, "new", "1,2,3", point)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]  # it really died there
    if point in BEFORE_SWITCH:
        now = _files(out)
        assert {k: now[k] for k in old} == old  # the old result, byte-identical
        _check_whole(out, "old", [1, 2])
    else:
        _check_whole(out, "new", [1, 2, 3])
    write(str(out), "next", "1,2")  # takes the dead run's lock over and cleans up
    _check_whole(out, "next", [1, 2])
    names = {t["file"] for t in json.loads((out / "result.json").read_text())["tracks"]}
    assert sorted(p.name for p in out.iterdir()) == sorted({"result.json", "notes.txt", *names})


def test_a_real_run_killed_while_moving_tracks_in_keeps_the_old_result(old_result, model_data_dir, tmp_path):
    """The same through `python -m backend run`: killed between moving its track in and the switch."""
    out = tmp_path / "res"
    shutil.copytree(old_result, out)
    old = _files(out)
    clip = write_mp4(tmp_path / "c.mp4", 6)
    env = {**backend_env(), KILL_HOOK_ENV: "moved_1"}
    proc = subprocess.run([sys.executable, "-m", "backend", "run", str(clip), "--out", str(out), "--jsonl",
                           "--bbox", ",".join(map(str, BBOX)), "--device", "cpu", "--data-dir",
                           str(model_data_dir)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    stages = [json.loads(line).get("stage") for line in proc.stdout.splitlines()]
    assert stages.count("write") >= 1  # it died in the write stage
    assert {k: v for k, v in _files(out).items() if k in old} == old
    left = sorted(p.name for p in out.iterdir() if p.name not in old)
    token = left[0].removeprefix(".staging-")
    assert left == [f".staging-{token}", ".tcmr-lock", f"track_1-{token}.npz"]  # what the killed run left
    _check_whole(out, "old", [1, 2])
    write(str(out), "next", "1")
    names = [t["file"] for t in json.loads((out / "result.json").read_text())["tracks"]]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "result.json", *names]
