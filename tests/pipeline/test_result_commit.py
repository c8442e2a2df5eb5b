"""ResultWriter's commit: one rename switches results, an older result is never damaged by a failed
commit, files that belong to no result are never touched, and --out's lock keeps runs apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import backend.result as result
from backend.errors import BackendError, Code
from backend.result import LOCK_FILE, ResultWriter, track_arrays, track_entry


def _arrays(seed: int, t: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return track_arrays(np.arange(t), rng.normal(size=(t, 72)), rng.normal(size=(t, 10)),
                        rng.normal(size=(t, 3)), rng.normal(size=(t, 3)),
                        np.tile([50.0, 60.0, 40.0, 40.0], (t, 1)), rng.normal(size=(t, 49, 3)),
                        rng.normal(size=(24, 3)))


def write_result(out: Path, ids, tag: str) -> dict:
    """A whole result the way the pipeline writes it (names from write_track)."""
    with ResultWriter(out) as writer:
        entries = []
        for i in ids:
            arrays = _arrays(i)
            name = writer.write_track(i, arrays)
            entries.append(track_entry(i, name, arrays["frame_index"], np.zeros(3, bool)))
        writer.commit({"format_version": 1, "tag": tag, "tracks": entries})
    return json.loads((out / "result.json").read_text())


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_rerun_never_overwrites_the_files_of_the_result_it_replaces(tmp_path):
    out = tmp_path / "res"
    first = write_result(out, [1, 2], "a")
    assert [t["file"] for t in first["tracks"]] == ["track_1.npz", "track_2.npz"]
    second = write_result(out, [1, 3], "b")
    names = [t["file"] for t in second["tracks"]]
    assert names[0].startswith("track_1-") and names[1] == "track_3.npz"  # track_1.npz was the old one's
    assert sorted(p.name for p in out.iterdir()) == sorted(["result.json", *names])
    third = write_result(out, [1], "c")
    assert [t["file"] for t in third["tracks"]] == ["track_1.npz"]  # free again
    assert sorted(p.name for p in out.iterdir()) == ["result.json", "track_1.npz"]


def test_a_failed_switch_leaves_the_older_result_byte_identical(tmp_path, monkeypatch):
    out = tmp_path / "res"
    write_result(out, [1, 2], "old")
    before = _snapshot(out)
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst).name == "result.json":
            raise PermissionError(13, "Permission denied", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(result.os, "replace", replace)
    with pytest.raises(BackendError) as info:
        write_result(out, [1, 2, 5], "new")
    assert info.value.code == Code.OUTPUT_UNWRITABLE
    assert _snapshot(out) == before and sorted(p.name for p in out.iterdir()) == sorted(before)


def test_an_old_track_held_open_is_removed_by_the_next_run(tmp_path, monkeypatch):
    out = tmp_path / "res"
    write_result(out, [1, 2], "old")
    real_unlink = Path.unlink

    def unlink(self, missing_ok=False):
        if self.name == "track_2.npz":
            raise PermissionError(13, "in use by another process", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    new = write_result(out, [7], "new")  # committed although the old track_2 could not be removed
    assert new["tag"] == "new" and (out / "track_2.npz").exists() and not (out / "track_1.npz").exists()
    monkeypatch.undo()
    write_result(out, [8], "next")
    assert sorted(p.name for p in out.iterdir()) == ["result.json", "track_8.npz"]


def test_files_of_no_result_are_never_touched(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "track_1.npz").write_bytes(b"my own file, not a result's")
    (out / "notes.txt").write_text("keep")
    meta = write_result(out, [1], "x")
    assert meta["tracks"][0]["file"] != "track_1.npz"
    write_result(out, [1], "y")
    assert (out / "track_1.npz").read_bytes() == b"my own file, not a result's"
    assert (out / "notes.txt").read_text() == "keep"


def test_a_second_writer_into_a_locked_folder_fails_with_output_busy(tmp_path):
    out = tmp_path / "res"
    write_result(out, [1], "old")
    before = _snapshot(out)
    with ResultWriter(out) as first:
        first.write_track(1, _arrays(1))
        assert (out / LOCK_FILE).read_text().strip() == str(os.getpid())
        with pytest.raises(BackendError) as info:
            ResultWriter(out)
        assert info.value.code == Code.OUTPUT_BUSY and str(os.getpid()) in info.value.message
    assert _snapshot(out) == before  # the aborted first writer left the old result as it was


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    (out / LOCK_FILE).write_text(dead.stdout)
    write_result(out, [4], "x")
    assert sorted(p.name for p in out.iterdir()) == ["result.json", "track_4.npz"]  # lock gone too


def test_run_into_a_folder_another_run_holds_is_output_busy_before_loading(tmp_path, capsys):
    import signal

    from backend import cli
    from tests.pipeline.clips import BBOX, write_mp4

    out = tmp_path / "res"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_FILE).write_text(f"{holder.pid}\n")
        saved = signal.getsignal(signal.SIGTERM)
        try:
            clip = write_mp4(tmp_path / "c.mp4", 3)
            rc = cli.main(["run", str(clip), "--out", str(out), "--jsonl", "--bbox", ",".join(map(str, BBOX)),
                           "--device", "cpu", "--data-dir", str(tmp_path)])
        finally:
            signal.signal(signal.SIGTERM, saved)
    finally:
        holder.kill()
        holder.wait()
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 2 and events[-1]["code"] == "OUTPUT_BUSY" and str(holder.pid) in events[-1]["message"]
    assert "load" not in [e.get("stage") for e in events]
