"""A video run: the operator's settings resolved, then one background job that hashes the clip,
looks for an earlier result, runs the backend if there is none, and imports what it gives.

`resolve_run(request, context)` turns what `tcmr.process_video` was given (empty / sentinel
values mean "the panel's" or "the preferences'") into a `ResolvedRun`, cheaply and on the main
thread: no file is read. `start_run(run)` starts the job (jobs.start_thread): on its thread the
video's content hash (a multi-GB clip takes a while: progress shows as stage "hash") and the
cache lookup; a hit ends the job with a `result` event marked `cached`, otherwise the thread
clears a stale unfinished folder of the same key and starts `python -m backend run`. When the
job ends, `_on_finish` (main thread) caches a new result and imports it (importer.import_result).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import bpy

from . import jobs, resolve
from .core import backend_cmd, cache, datacheck
from .core.errors import AddonError
from .importer import import_result

FROM_PANEL = -2  # start / end: the panel's frame range (when its Frame Range box is ticked)
WHOLE_VIDEO = -1  # start: from the first frame; end: to the last
PANEL, PREFS = "PANEL", "PREFS"  # people / smoothing: the panel's; device: the preferences'
HASH_PROGRESS_S = 0.2  # at most this often a progress event while hashing
MB = 1 << 20


@dataclass(frozen=True)
class RunRequest:
    """What `tcmr.process_video` was given ("" = the panel's or the preferences' value)."""

    filepath: str = ""
    data_dir: str = ""
    python: str = ""
    cache_dir: str = ""
    device: str = PREFS
    start: int = FROM_PANEL
    end: int = FROM_PANEL
    people: str = PANEL
    smoothing: str = PANEL
    bbox: str = ""
    use_cache: bool = True


@dataclass(frozen=True)
class ResolvedRun:
    """Everything a run needs, every default filled in (`settings.out_dir` is set by the job)."""

    video: str
    python: str
    data_dir: str
    cache_dir: str
    settings: backend_cmd.RunSettings
    use_cache: bool
    synthetic: bool


def _frame(value: int, panel_value: int, use_range: bool) -> int | None:
    if value == FROM_PANEL:
        return panel_value if use_range else None
    return None if value == WHOLE_VIDEO else value


def _existing_paths(request: RunRequest, ui, prefs) -> tuple[str, str]:
    video = bpy.path.abspath(request.filepath or ui.video)
    if not video or not Path(video).exists():
        raise AddonError(f"Video not found: '{video}'",
                         "Choose a video file (or image folder) in the Mocap panel.")
    python = bpy.path.abspath(request.python) if request.python else resolve.backend_python(prefs)
    if not Path(python).is_file():
        raise AddonError(f"Backend Python not found: {python}",
                         "Create the environment (or choose an interpreter) in Preferences > Add-ons > "
                         "TCMR Mocap.")
    return video, python


def resolve_run(request: RunRequest, context) -> ResolvedRun:
    """The run's settings from the request, the panel (scene.tcmr_settings) and the preferences.
    Raises AddonError naming what is missing or wrong."""
    prefs = resolve.get_prefs(context)
    ui = context.scene.tcmr_settings
    video, python = _existing_paths(request, ui, prefs)
    data_dir = resolve.data_dir(prefs, request.data_dir)
    try:
        bbox = backend_cmd.parse_bbox(request.bbox or ui.bbox)
    except ValueError as exc:
        raise AddonError(str(exc), "Fix or clear the person box.") from None
    settings = backend_cmd.RunSettings(
        video=video, out_dir="", data_dir=data_dir, bbox=bbox,
        device=resolve.device(prefs) if request.device == PREFS else request.device,
        start=_frame(request.start, ui.frame_start, ui.use_range),
        end=_frame(request.end, ui.frame_end, ui.use_range),
        main_person=ui.people if request.people == PANEL else request.people,
        smooth=ui.smoothing if request.smoothing == PANEL else request.smoothing,
        ground="auto" if ui.ground else "off", foot_lock="auto" if ui.foot_lock else "off", model=ui.model,
        detector=resolve.detector(prefs), engine=resolve.engine(prefs), precision=resolve.precision(prefs))
    cache_dir = bpy.path.abspath(request.cache_dir) if request.cache_dir else resolve.results_dir(prefs)
    return ResolvedRun(video=video, python=python, data_dir=data_dir, cache_dir=cache_dir,
                       settings=settings, use_cache=request.use_cache and ui.use_cache,
                       synthetic=datacheck.is_synthetic(data_dir))


def start_run(run: ResolvedRun) -> jobs.Job:
    """Start the run's job in the "run" slot (RuntimeError while another run is going)."""
    extra = {"run": run}  # the job's thread adds "key" and "out_dir" before it starts the backend
    return jobs.start_thread("run", lambda emit, token: _prepare(run, extra, emit, token),
                             jobs.log_path(run.cache_dir, "run"), on_finish=_on_finish, on_cancel=_on_cancel,
                             extra=extra)


def _hash_progress(total: int, emit, token):
    """A cache.Progress callback: progress events (at most every HASH_PROGRESS_S) and cancel."""
    state = {"done": 0, "at": 0.0}

    def tick(n: int) -> None:
        token.check()
        state["done"] += n
        now = time.monotonic()
        if now - state["at"] >= HASH_PROGRESS_S or state["done"] >= total:
            state["at"] = now
            emit("progress", stage="hash", done=state["done"] / MB, total=total / MB, unit="MB")

    return tick


def _prepare(run: ResolvedRun, extra: dict, emit, token) -> list[str] | None:
    """On the job's thread: hash, look up, and the backend's argv (None: a cached result)."""
    emit("stage", stage="hash", message="Checking for an earlier result")
    total = max(1, cache.input_size(run.video))
    video_hash = cache.input_hash(run.video, progress=_hash_progress(total, emit, token))
    key = cache.cache_key(video_hash, run.settings.cache_fields(), cache.model_fingerprint(run.data_dir))
    results = cache.ResultCache(run.cache_dir)
    hit = results.lookup(key) if run.use_cache else None
    extra["key"] = key
    if hit is not None:
        emit("result", path=hit.result_dir, cached=True)
        return None
    out_dir = results.folder_for(key)
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a stale, unfinished run of the same key
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    extra["out_dir"] = str(out_dir)
    emit("stage", stage="start", message="Starting backend")
    token.check()
    return backend_cmd.run_argv(run.python, dataclasses.replace(run.settings, out_dir=str(out_dir)))


def _remove_unfinished(job: jobs.Job) -> None:
    out_dir = job.extra.get("out_dir")
    if out_dir and not (Path(out_dir) / "result.json").exists():
        shutil.rmtree(out_dir, ignore_errors=True)


def _on_cancel(job: jobs.Job) -> None:
    _remove_unfinished(job)


def _on_finish(job: jobs.Job) -> None:
    """Main thread: cache a new result, import it, say what happened."""
    if job.state.error:
        _remove_unfinished(job)
        return
    run: ResolvedRun = job.extra["run"]
    result_dir = job.state.result_path
    cached = bool(job.result_fields.get("cached"))
    if not cached:
        cache.ResultCache(run.cache_dir).add(job.extra["key"], result_dir, run.video,
                                             run.settings.key_fields())
    try:
        report = import_result(bpy.context, result_dir, run.data_dir)
    except AddonError as exc:
        jobs.fail(job, "IMPORT_FAILED", exc.message, exc.hint)
        return
    with contextlib.suppress(RuntimeError):  # no undo stack in the bpy module
        bpy.ops.ed.undo_push(message="Import Mocap Result")
    st = jobs.status_of(job.kind)
    notes = [w for w in report.warnings if "SYNTHETIC" not in w]
    if notes:
        st.warning = "; ".join([st.warning, *notes] if st.warning else notes)
    synthetic = " (SYNTHETIC model data)" if run.synthetic else ""
    if cached:
        st.message = f"Re-imported the earlier result of {Path(run.video).name} (cached){synthetic}"
    else:
        st.message = f"Imported {Path(result_dir).name}{synthetic}"
