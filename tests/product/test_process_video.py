"""tcmr.process_video end to end in the bpy module against the REAL backend (`python -m
backend run`, this test's own interpreter) on the synthetic model data and a synthetic clip.
The timer is polled by hand: bpy.app.timers never fire in the bpy module."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from addon.core.process import pid_alive

from .conftest import poll_until

BOX = "50,10,60,105"  # the synthetic figure, so the run needs no detector


def _run(bpy, clip, data_dir, cache_dir, **kw):
    return bpy.ops.tcmr.process_video(filepath=str(clip), python=sys.executable, data_dir=str(data_dir),
                                      cache_dir=str(cache_dir), device="cpu", bbox=BOX, **kw)


def _characters(bpy):
    return sorted(c.name for c in bpy.data.collections if c.name.startswith("TCMR "))


def test_video_to_imported_character_with_progress_and_cache(bpy_module, clip, model_data_dir, tmp_path):
    from addon import jobs

    bpy = bpy_module
    assert _run(bpy, clip, model_data_dir, tmp_path / "cache") == {"FINISHED"}
    job = jobs.active_job("run")
    assert job is not None
    seen = set()
    wm = bpy.context.window_manager
    poll_until(jobs, job, 300, on_tick=lambda j: seen.add(wm.tcmr_job.stage_label))
    st = bpy.context.window_manager.tcmr_job
    assert st.error_code == "", (st.error_code, st.error_message, Path(st.log_path).read_text()[-2000:])
    # the add-on's own hash stage (one progress event for a small clip) and start stage, then the backend's
    assert job.state.counts.get("progress", 0) >= 1 + 1 and job.state.counts.get("stage", 0) >= 2 + 2
    own = {"Starting", "Checking for an earlier result", "Starting backend"}  # the add-on's labels
    assert len(seen - own) >= 2  # the panel followed the backend's stages
    result = Path(st.result_path)
    assert (result / "result.json").is_file()
    chars = _characters(bpy)
    assert chars, "no character was imported"
    armatures = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert armatures and armatures[0].animation_data is not None
    assert "SYNTHETIC" in st.message
    # the same clip again: re-imported at once from the cache, no backend process
    t0 = time.monotonic()
    assert _run(bpy, clip, model_data_dir, tmp_path / "cache") == {"FINISHED"}
    cached = jobs.active_job("run")  # the clip is hashed off the main thread, in the job
    poll_until(jobs, cached, 30)
    assert cached.process.process is None and "cached" in st.message  # no backend process
    assert time.monotonic() - t0 < 30
    assert len([o for o in bpy.data.objects if o.type == "ARMATURE"]) == 2 * len(armatures)


def test_cancel_leaves_no_result_and_no_process(bpy_module, clip, model_data_dir, tmp_path):
    from addon import jobs

    bpy = bpy_module
    before = set(bpy.data.objects.keys())
    _run(bpy, clip, model_data_dir, tmp_path / "cache")
    job = jobs.active_job("run")
    deadline = time.monotonic() + 120
    while "hello" not in job.state.counts and not job.done:  # the backend is up and working
        assert time.monotonic() < deadline
        jobs.poll_jobs()
        time.sleep(0.02)
    assert not job.done
    pid = job.process.pid
    assert bpy.ops.tcmr.cancel_job() == {"FINISHED"}
    assert not pid_alive(pid)
    assert not Path(job.extra["out_dir"]).exists()
    assert not list((tmp_path / "cache").glob("*/result.json"))
    assert set(bpy.data.objects.keys()) == before
    assert bpy.context.window_manager.tcmr_job.error_code == "CANCELLED"


def test_bad_video_surfaces_code_and_hint(bpy_module, model_data_dir, tmp_path):
    from addon import jobs

    bpy = bpy_module
    bad = tmp_path / "broken clip.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    before = set(bpy.data.objects.keys())
    _run(bpy, bad, model_data_dir, tmp_path / "cache")
    poll_until(jobs, jobs.active_job("run"), 120)
    st = bpy.context.window_manager.tcmr_job
    codes = {"VIDEO_CORRUPT", "INPUT_UNREADABLE", "VIDEO_EMPTY"}
    assert st.error_code in codes, (st.error_code, st.error_message)
    assert st.error_hint.strip()
    assert set(bpy.data.objects.keys()) == before
    with pytest.raises(RuntimeError, match=st.error_code):
        _run(bpy, bad, model_data_dir, tmp_path / "cache", wait=True)
