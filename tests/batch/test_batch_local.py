"""`python -m backend batch` with the local executor, in a subprocess on tiny generated clips with
--bbox and the synthetic model data: failure isolation, crash retry, resume, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess

import numpy as np

from backend.batch import manifest as mf
from backend.batch.work import CRASH_HOOK_ENV
from tests.batch.conftest import FAST, REPO, batch_cmd, run_batch, snapshot
from tests.pipeline.conftest import backend_env, parse


def _entries(out):
    return {e["name"]: e for e in json.loads((out / "batch.json").read_text())["inputs"]}


def test_corrupt_input_crash_retry_and_resume(inputs, model_data_dir, tmp_path):
    out = tmp_path / "out"
    marker = tmp_path / "crashed"
    args = (inputs, "--out", out, "--data-dir", model_data_dir, "--workers", "2", *FAST)
    first = run_batch(*args, env_extra={CRASH_HOOK_ENV: f"{marker}:walk"})
    assert first.rc == 0, first.stderr
    entries = _entries(out)
    statuses = {n: e["status"] for n, e in entries.items()}
    assert statuses == {"broken": "failed", "frames": "done", "walk": "done"}
    assert entries["broken"]["error"]["code"] == "VIDEO_CORRUPT" and entries["broken"]["error"]["hint"]
    assert marker.exists() and entries["walk"]["attempts"] == 2  # its first worker died: retried elsewhere
    assert any(w["code"] == "WORKER_CRASHED" for w in first.of("warning"))
    assert sorted(p.name for p in out.iterdir()) == ["batch.json", "frames", "walk"]  # nothing for broken
    for name, frames in (("walk", 5), ("frames", 4)):
        assert entries[name]["frames"] == frames and entries[name]["fps"] > 0
        meta = json.loads((out / name / "result.json").read_text())
        track = np.load(out / name / meta["tracks"][0]["file"])
        assert track["frame_index"].tolist() == list(range(frames))
    batch = [p for p in first.of("progress") if p["stage"] == "batch"]
    assert [p["done"] for p in batch] == [0, 1, 2, 3] and all(p["total"] == 3 for p in batch)
    assert {p.get("input") for p in first.of("progress") if p["stage"] == "features"} == {"walk", "frames"}
    result = first.of("result")[0]
    assert (result["done"], result["failed"], result["skipped"]) == (2, 1, 0)

    before = snapshot(out / "walk") | snapshot(out / "frames")
    second = run_batch(*args)
    assert second.rc == 0, second.stderr
    entries = _entries(out)
    assert {n: e["status"] for n, e in entries.items()} == {"broken": "failed", "frames": "skipped",
                                                            "walk": "skipped"}
    assert entries["broken"]["attempts"] == 1  # redone, failed again
    assert snapshot(out / "walk") | snapshot(out / "frames") == before  # same bytes, same mtimes

    walk = entries["walk"]  # other settings or other bytes: not reusable, so the next run redoes it
    assert mf.reusable(walk, walk["content_hash"], walk["settings_hash"], out)
    other = mf.settings_hash({**walk["settings"], "smooth": "slerp"})
    assert not mf.reusable(walk, walk["content_hash"], other, out)
    assert not mf.reusable(walk, "sha256:other", walk["settings_hash"], out)


def test_sigint_mid_batch_keeps_finished_and_resumes(inputs, model_data_dir, tmp_path):
    (inputs / "broken.mp4").unlink()
    out = tmp_path / "out"
    env = backend_env()
    env["OMP_NUM_THREADS"] = "1"
    cmd = batch_cmd(inputs, "--out", out, "--data-dir", model_data_dir, "--workers", "1", *FAST)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    finished = None
    for line in proc.stdout:
        event = parse(line)[0]
        events.append(event)
        if event["event"] == "progress" and event["stage"] == "batch" and event["done"] == 1:
            finished = True
        if finished and event["event"] == "stage" and event["stage"] == "features":  # second input under way
            proc.send_signal(signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=120)
    events += parse(rest)
    assert proc.returncode == 130 and events[-1]["code"] == "CANCELLED"
    assert "finished inputs are kept" in events[-1]["message"] and "resume" in events[-1]["hint"]
    data = json.loads((out / "batch.json").read_text())
    statuses = {e["name"]: e["status"] for e in data["inputs"]}
    assert sorted(statuses.values()) == ["done", "pending"]
    done = next(e for e in data["inputs"] if e["status"] == "done")
    half = next(e for e in data["inputs"] if e["status"] == "pending")
    assert mf.reusable(done, done["content_hash"], data["settings_hash"], out)
    assert not (out / half["name"]).exists()  # no half result (its staging folder removed too)
    assert sorted(p.name for p in out.iterdir()) == sorted(["batch.json", done["name"]])
    assert not list(out.rglob(".staging-*")) and not list(out.rglob(".tcmr-lock"))

    again = run_batch(inputs, "--out", out, "--data-dir", model_data_dir, "--workers", "1", *FAST)
    assert again.rc == 0, again.stderr
    assert {e["name"]: e["status"] for e in _entries(out).values()} == {done["name"]: "skipped",
                                                                         half["name"]: "done"}
