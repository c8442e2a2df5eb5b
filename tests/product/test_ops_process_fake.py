"""tcmr.process_video's machinery against a scripted stand-in backend: the event handling,
caching, cancel and error paths, independent of the real network (see test_process_video.py
for the real backend)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from addon.core.process import pid_alive

from .conftest import poll_until

FAKE = r'''#!{python}
import json, os, sys, time
args = sys.argv[1:]
assert args[:3] == ["-m", "backend", "run"], args
out = args[args.index("--out") + 1]
mode = os.environ.get("FAKE_MODE", "ok")
def emit(**e):
    print(json.dumps(e), flush=True)
emit(event="hello", protocol=1, backend_version="9.9", device="cpu", command="run", extra_field=1)
emit(event="stage", stage="detect", message="Detecting people")
sys.stderr.write("fake backend log line\n"); sys.stderr.flush()
if mode == "bad":
    emit(event="error", code="VIDEO_CORRUPT", message="cannot decode frame 0", hint="Re-encode the video")
    sys.exit(2)
if mode == "crash":
    sys.stdout.write('{"event": "progress", "sta'); sys.stdout.flush()
    os._exit(9)
os.makedirs(out, exist_ok=True)
if os.environ.get("FAKE_RESULT"):
    import shutil
    for name in os.listdir(os.environ["FAKE_RESULT"]):
        if name != "result.json":
            shutil.copy(os.path.join(os.environ["FAKE_RESULT"], name), out)
for i in range(5):
    emit(event="progress", stage="detect", done=i + 1, total=5)
    emit(event="future_event", x=1)
    if i == 2:
        emit(event="warning", code="SHORT_TRACK", message="track 2 is short", hint="ignored")
    time.sleep(0.05 if mode == "ok" else 0.5)
    if mode == "slow":
        time.sleep(60)
if os.environ.get("FAKE_RESULT"):
    shutil.copy(os.path.join(os.environ["FAKE_RESULT"], "result.json"), out)  # written last
else:
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump({"format_version": 1, "argv": args}, f)
emit(event="result", path=out)
'''


@pytest.fixture
def fake_backend(tmp_path):
    path = tmp_path / "fake python"
    path.write_text(FAKE.replace("{python}", sys.executable))
    path.chmod(0o755)
    return path


@pytest.fixture
def imports(monkeypatch):
    from addon import video_run
    from addon.importer import ImportReport

    calls = []

    def fake_import(context, result_dir, data_dir):
        calls.append(result_dir)
        return ImportReport()

    monkeypatch.setattr(video_run, "import_result", fake_import)
    return calls


def _run(bpy, fake_backend, clip, tmp_path, **kw):
    return bpy.ops.tcmr.process_video(filepath=str(clip), python=str(fake_backend),
                                      data_dir=str(tmp_path / "data"),
                                      cache_dir=str(tmp_path / "cache"), **kw)


def test_run_observes_progress_imports_and_caches(bpy_module, fake_backend, clip, tmp_path, imports,
                                                  monkeypatch):
    from addon import jobs

    bpy = bpy_module
    monkeypatch.setenv("FAKE_MODE", "ok")
    assert _run(bpy, fake_backend, clip, tmp_path, people="longest", bbox="10,5,40,100") == {"FINISHED"}
    job = jobs.active_job("run")
    assert job is not None and bpy.context.window_manager.tcmr_job.running
    factors = []
    wm = bpy.context.window_manager
    poll_until(jobs, job, 30, on_tick=lambda j: factors.append(wm.tcmr_job.factor))
    st = bpy.context.window_manager.tcmr_job
    # one progress event while the job hashed the clip (one chunk), then the backend's five
    assert job.state.counts["progress"] == 1 + 5 and job.state.device == "cpu"
    assert max(factors) == 1.0 and min(factors) < 1.0
    assert not st.running and st.error_code == ""
    assert st.warning == "track 2 is short (ignored)"
    assert imports == [st.result_path]
    argv = json.loads((Path(st.result_path) / "result.json").read_text())["argv"]
    assert argv[argv.index("--bbox") + 1] == "10,5,40,100" and "--main-person" in argv
    assert "fake backend log line" in Path(st.log_path).read_text()
    # same clip (copied elsewhere), same settings: imported from the cache, no new process
    copy = tmp_path / "elsewhere.mp4"
    copy.write_bytes(clip.read_bytes())
    assert _run(bpy, fake_backend, copy, tmp_path, people="longest", bbox="10,5,40,100") == {"FINISHED"}
    cached = jobs.active_job("run")  # the clip is hashed off the main thread, in the job
    poll_until(jobs, cached, 30)
    assert cached.process.process is None  # no backend process was started
    assert imports == [st.result_path, st.result_path]
    assert "cached" in st.message
    # different settings: a new run
    assert _run(bpy, fake_backend, clip, tmp_path, people="none") == {"FINISHED"}
    poll_until(jobs, jobs._JOBS["run"], 30)
    assert len(imports) == 3 and imports[2] != imports[0]


def test_cancel_kills_the_process_and_leaves_no_result(bpy_module, fake_backend, clip, tmp_path, imports,
                                                      monkeypatch):
    from addon import jobs

    bpy = bpy_module
    monkeypatch.setenv("FAKE_MODE", "slow")
    _run(bpy, fake_backend, clip, tmp_path)
    job = jobs.active_job("run")
    deadline = time.monotonic() + 20
    while job.state.counts.get("progress", 0) <= 1:  # past the hashing one: the backend's first
        assert time.monotonic() < deadline
        jobs.poll_jobs()
        time.sleep(0.02)
    out_dir = Path(job.extra["out_dir"])
    assert out_dir.is_dir()
    assert bpy.ops.tcmr.cancel_job() == {"FINISHED"}
    assert job.done and not pid_alive(job.process.pid)
    assert not out_dir.exists()
    st = bpy.context.window_manager.tcmr_job
    assert st.error_code == "CANCELLED" and not st.running
    assert imports == []
    assert jobs.poll_jobs() is None  # the timer stops itself


def test_backend_error_reaches_panel_status(bpy_module, fake_backend, clip, tmp_path, imports, monkeypatch):
    from addon import jobs

    bpy = bpy_module
    monkeypatch.setenv("FAKE_MODE", "bad")
    _run(bpy, fake_backend, clip, tmp_path)
    poll_until(jobs, jobs.active_job("run"), 30)
    st = bpy.context.window_manager.tcmr_job
    assert (st.error_code, st.error_message, st.error_hint) == ("VIDEO_CORRUPT", "cannot decode frame 0",
                                                                 "Re-encode the video")
    assert imports == [] and not any((tmp_path / "cache").glob("*/result.json"))


def test_backend_crash_without_answer_becomes_an_error(bpy_module, fake_backend, clip, tmp_path, imports,
                                                      monkeypatch):
    from addon import jobs

    monkeypatch.setenv("FAKE_MODE", "crash")
    _run(bpy_module, fake_backend, clip, tmp_path)
    poll_until(jobs, jobs.active_job("run"), 30)
    st = bpy_module.context.window_manager.tcmr_job
    assert st.error_code == "BACKEND_CRASHED" and "9" in st.error_message and "log" in st.error_hint.lower()


def test_wait_mode_reports_the_error_as_an_operator_error(bpy_module, fake_backend, clip, tmp_path, imports,
                                                         monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "bad")
    with pytest.raises(RuntimeError, match=r"VIDEO_CORRUPT.*Re-encode"):
        _run(bpy_module, fake_backend, clip, tmp_path, wait=True)


def test_bad_inputs_are_refused_before_starting(bpy_module, fake_backend, clip, tmp_path):
    bpy = bpy_module
    with pytest.raises(RuntimeError, match="Video not found"):
        _run(bpy, fake_backend, tmp_path / "nope.mp4", tmp_path)
    with pytest.raises(RuntimeError, match=r"Backend Python not found.*Preferences"):
        bpy.ops.tcmr.process_video(filepath=str(clip), python=str(tmp_path / "no python"))
    with pytest.raises(RuntimeError, match="person box"):
        _run(bpy, fake_backend, clip, tmp_path, bbox="1,2,3")
    assert os.path.exists(clip)


def test_result_is_imported_by_the_real_import_operator(bpy_module, fake_backend, clip, tmp_path,
                                                        model_data_dir, smpl_data, monkeypatch):
    """The stand-in backend hands over a Contract 3 result; tcmr.import_result builds it."""
    import numpy as np

    from addon import jobs
    from backend.models.smpl import rest_joints
    from tests.blender.result_factory import random_track, write_result

    bpy = bpy_module
    prepared = write_result(tmp_path / "prepared", {1: random_track(np.random.default_rng(0), np.arange(6))},
                            frame_count=12, width=160, height=120, video_path=str(clip),
                            joints_rest=lambda betas: rest_joints(smpl_data, betas))
    monkeypatch.setenv("FAKE_MODE", "ok")
    monkeypatch.setenv("FAKE_RESULT", str(prepared))
    bpy.ops.tcmr.process_video(filepath=str(clip), python=str(fake_backend), data_dir=str(model_data_dir),
                               cache_dir=str(tmp_path / "cache"))
    poll_until(jobs, jobs.active_job("run"), 60)
    st = bpy.context.window_manager.tcmr_job
    assert st.error_code == "", (st.error_code, st.error_message)
    result_name = Path(st.result_path).name
    coll = bpy.data.collections.get(f"TCMR {result_name} track 1")
    assert coll is not None
    armature = next(o for o in coll.objects if o.type == "ARMATURE")
    assert len(armature.data.bones) == 24 and armature.animation_data.action is not None
    assert "SYNTHETIC" in st.message


def test_the_clip_is_hashed_in_the_job_not_on_blenders_thread(bpy_module, fake_backend, clip, tmp_path,
                                                               imports, monkeypatch):
    """A multi-GB clip takes a while to hash: the operator returns before the hash is done, and
    the hash runs on the job's thread (with progress, cancellable)."""
    import threading

    from addon import jobs
    from addon.core import cache

    monkeypatch.setenv("FAKE_MODE", "ok")
    release, threads = threading.Event(), []
    real = cache.input_hash

    def slow_hash(path, progress=None):
        threads.append(threading.current_thread())
        assert release.wait(20), "the test never released the hash"
        return real(path, progress)

    monkeypatch.setattr(cache, "input_hash", slow_hash)
    assert _run(bpy_module, fake_backend, clip, tmp_path) == {"FINISHED"}  # returned while hashing
    job = jobs.active_job("run")
    assert job is not None and not job.done and bpy_module.context.window_manager.tcmr_job.running
    release.set()
    poll_until(jobs, job, 30)
    assert threads and threads[0] is not threading.main_thread()
    assert bpy_module.context.window_manager.tcmr_job.error_code == "" and len(imports) == 1


def test_cancel_while_hashing_starts_no_backend(bpy_module, fake_backend, clip, tmp_path, imports,
                                                monkeypatch):
    import threading

    from addon import jobs
    from addon.core import cache

    started = threading.Event()

    def endless_hash(path, progress=None):
        started.set()
        while True:
            progress(1)  # raises once the job is cancelled

    monkeypatch.setattr(cache, "input_hash", endless_hash)
    _run(bpy_module, fake_backend, clip, tmp_path)
    job = jobs.active_job("run")
    assert started.wait(10)
    assert bpy_module.ops.tcmr.cancel_job() == {"FINISHED"}
    assert job.done and job.process.process is None and imports == []
    assert bpy_module.context.window_manager.tcmr_job.error_code == "CANCELLED"
    assert not list((tmp_path / "cache").glob("*/result.json"))


def test_resolve_run_fills_panel_and_preference_values(bpy_module, clip, fake_backend, tmp_path, monkeypatch):
    """The operator's "use the panel / preferences" values, resolved in one typed place."""
    from addon import video_run

    bpy = bpy_module
    monkeypatch.setenv("TCMR_DATA_DIR", str(tmp_path / "env data"))
    ui = bpy.context.scene.tcmr_settings
    ui.video, ui.use_range, ui.frame_start, ui.frame_end = str(clip), True, 4, 9
    ui.people, ui.smoothing, ui.bbox = "largest", "slerp", "1,2,3,4"
    run = video_run.resolve_run(video_run.RunRequest(python=str(fake_backend)), bpy.context)
    s = run.settings
    assert (run.video, run.data_dir) == (str(clip), str(tmp_path / "env data"))
    assert (s.start, s.end, s.main_person, s.smooth, s.bbox, s.device) == (4, 9, "largest", "slerp",
                                                                             (1, 2, 3, 4), "auto")
    request = video_run.RunRequest(python=str(fake_backend), start=video_run.WHOLE_VIDEO,
                                   end=video_run.WHOLE_VIDEO, people="none", smoothing="none",
                                   device="cpu", data_dir=str(tmp_path / "d"))
    s = video_run.resolve_run(request, bpy.context).settings
    assert (s.start, s.end, s.main_person, s.smooth, s.device, s.data_dir) == (
        None, None, "none", "none", "cpu", str(tmp_path / "d"))
    ui.video = ui.bbox = ""
    ui.use_range = False
