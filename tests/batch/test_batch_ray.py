"""`batch --ray local`: Ray on this machine, started and stopped by the command (2 CPUs, loopback only).

Ray's start-up costs tens of seconds on a small machine, so one test runs two Ray batches:
1. three inputs, one a corrupt video, the first actor on `walk` killed: two results and one
   VIDEO_CORRUPT failure, `walk` retried and done, the same arrays as the local executor, per-input
   progress events, every Ray server listening on loopback only, and no Ray process left after it;
2. the same command after a longer clip was added: both done inputs skipped without touching their
   files; SIGTERM while the new clip is under way stops every Ray actor and the local Ray, leaves no
   half result and a manifest from which the next run would redo just the unfinished inputs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import numpy as np
import pytest

from backend.batch import manifest as mf
from backend.batch.inputs import expand
from backend.batch.runner import _plan, settings_of
from backend.batch.work import CRASH_HOOK_ENV
from tests.batch import procs
from tests.batch.conftest import FAST, REPO, batch_cmd, batch_config
from tests.pipeline.clips import write_mp4
from tests.pipeline.conftest import backend_env, parse

pytest.importorskip("ray")


def _arrays(out, name):
    meta = json.loads((out / name / "result.json").read_text())
    return dict(np.load(out / name / meta["tracks"][0]["file"]))


def _files(folder):
    """Every file under folder -> (inode, mtime_ns, bytes): untouched means all three unchanged."""
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


class RayBatch:
    """`batch ...` in a subprocess (here mostly with --ray local); watch(event) sees each protocol line
    as it comes."""

    def __init__(self, *args, env_extra=None) -> None:
        env = backend_env()
        env["OMP_NUM_THREADS"] = "1"
        env.update(env_extra or {})
        self.proc = subprocess.Popen(batch_cmd(*args), cwd=REPO, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events: list[dict] = []
        self.ray_pids: set[int] = set()
        self.sockets: list = []

    def sample(self) -> None:
        """The Ray processes the command started and the ports they (and the driver) listen on."""
        self.ray_pids |= procs.descendants(self.proc.pid)
        self.sockets = procs.listening(self.ray_pids | {self.proc.pid})

    def finish(self, watch=lambda event: False, timeout: float = 240) -> int:
        for line in self.proc.stdout:
            self.events.append(parse(line)[0])
            if watch(self.events[-1]):
                break
        try:
            rest, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        self.events += parse(rest)
        return self.proc.returncode

    def stop(self) -> None:
        """End the command if it still runs (a failed test): SIGTERM, then SIGKILL."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def ray_left(self, wait_s: float = 15.0) -> set[int]:
        deadline = time.monotonic() + wait_s
        while (left := {p for p in self.ray_pids if procs.alive(p)}) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def of(self, kind: str, input_name: str | None = None) -> list[dict]:
        return [e for e in self.events if e["event"] == kind and e.get("input") == input_name]


def _check_loopback(batch: RayBatch) -> None:
    assert batch.ray_pids, "no Ray process seen"
    assert batch.sockets, "no listening socket seen"
    outside = [s for s in batch.sockets if not s[2]]
    assert not outside, f"Ray listens beyond loopback: {outside}"


@pytest.mark.slow
@pytest.mark.skipif(not procs.available(), reason="needs Linux /proc to see Ray's processes and ports")
def test_ray_local_failures_retry_resume_cancel(inputs, model_data_dir, tmp_path):
    ray_out, local_out = tmp_path / "ray", tmp_path / "local"
    marker = tmp_path / "crashed"
    command = (inputs, "--out", ray_out, "--ray", "local", "--data-dir", model_data_dir, "--workers", "2",
               *FAST)

    # The local executor's run of the same two clips goes on meanwhile (Ray's start-up mostly waits).
    local = RayBatch(inputs / "walk.mp4", inputs / "frames", "--out", local_out, "--data-dir", model_data_dir,
                     "--workers", "1", *FAST)
    first = RayBatch(*command, env_extra={CRASH_HOOK_ENV: f"{marker}:walk"})
    try:
        _first_run(first, local, ray_out, local_out, marker)
    finally:
        first.stop()
        local.stop()
    _second_run_skips_then_sigterm(inputs, ray_out, command)


def _first_run(first, local, ray_out, local_out, marker):
    """Three inputs under Ray, one corrupt, the first actor on walk killed; then the local arrays."""
    def first_watch(event):  # an input under way: Ray and its actors are up
        if event.get("input") and event["event"] == "stage" and not first.sockets:
            first.sample()
        return False

    assert first.finish(first_watch) == 0, first.stderr[-3000:]
    _check_loopback(first)
    assert not first.ray_left(), "the local Ray outlived the command"
    data = json.loads((ray_out / "batch.json").read_text())
    entries = {e["name"]: e for e in data["inputs"]}
    assert {n: e["status"] for n, e in entries.items()} == {"broken": "failed", "frames": "done",
                                                            "walk": "done"}
    assert entries["broken"]["error"]["code"] == "VIDEO_CORRUPT" and entries["broken"]["error"]["hint"]
    assert entries["walk"]["attempts"] == 2 and marker.exists()  # its first actor died: retried
    assert sorted(p.name for p in ray_out.iterdir()) == ["batch.json", "frames", "walk"]
    executor = data["executor"]
    assert executor["kind"] == "ray" and executor["local"] and executor["ray_version"]
    assert executor["address"].startswith("127.0.0.1:")
    for name, frames in (("walk", 5), ("frames", 4)):  # per-input progress, relayed from the actors
        steps = [{k: p[k] for k in ("stage", "done", "total")} for p in first.of("progress", name)]
        assert {"stage": "features", "done": frames, "total": frames} in steps
        assert steps[-1]["stage"] == "write" and steps[-1]["done"] == steps[-1]["total"]
    assert [p["done"] for p in first.of("progress") if p["stage"] == "batch"] == [0, 1, 2, 3]

    assert local.finish() == 0, local.stderr[-3000:]
    for name in ("walk", "frames"):
        got, want = _arrays(ray_out, name), _arrays(local_out, name)
        assert sorted(got) == sorted(want)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{name}: {key}")


def _second_run_skips_then_sigterm(inputs, ray_out, command):
    write_mp4(inputs / "long.mp4", 48, fps=25.0)  # new footage: under way when SIGTERM comes
    before = _files(ray_out / "walk") | _files(ray_out / "frames")
    second = RayBatch(*command)
    try:
        _cancel_second(second, ray_out, before)
    finally:
        second.stop()
    # Resumable: planned against this batch.json, the next run would redo only long and broken.
    data = json.loads((ray_out / "batch.json").read_text())
    manifest = mf.Manifest(ray_out, settings_of(batch_config(*command)), {"kind": "plan"})
    jobs = _plan(expand([str(inputs)]), manifest, ray_out)
    assert sorted(name for name, _, _ in jobs) == ["broken", "long"]
    assert manifest.settings_hash == data["settings_hash"]


def _cancel_second(second, ray_out, before):
    """SIGTERM once the new clip's features stage began: Ray stopped, nothing half-written."""
    def second_watch(event):
        if event.get("input") == "long" and event["event"] == "stage" and event["stage"] == "features":
            second.sample()
            second.proc.send_signal(signal.SIGTERM)
            return True
        return False

    rc = second.finish(second_watch, timeout=120)
    assert rc == 130 and second.events[-1]["code"] == "CANCELLED", second.stderr[-3000:]
    _check_loopback(second)
    assert not second.ray_left(), "Ray actors or the local Ray outlived the cancelled command"
    data = json.loads((ray_out / "batch.json").read_text())
    entries = {e["name"]: e for e in data["inputs"]}
    statuses = {n: e["status"] for n, e in entries.items()}
    assert statuses.pop("broken") in ("failed", "pending")  # redone beside long; may not have ended yet
    assert statuses == {"frames": "skipped", "long": "pending", "walk": "skipped"}
    assert _files(ray_out / "walk") | _files(ray_out / "frames") == before  # same inodes, mtimes, bytes
    assert not (ray_out / "long").exists()  # no half result (its staging folder removed with it)
    assert sorted(p.name for p in ray_out.iterdir()) == ["batch.json", "frames", "walk"]
    assert not list(ray_out.rglob(".staging-*")) and not list(ray_out.rglob(".tcmr-lock"))
