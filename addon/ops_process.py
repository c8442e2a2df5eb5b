"""`tcmr.process_video` and the non-blocking job machinery shared with the preferences' jobs.

A job is a backend child process (core.process.BackendProcess) whose JSON lines are folded
into a core.job.JobState by `poll_jobs()`, a bpy.app.timers function on the main thread that
also copies the state into the window manager's status properties for the panel. Jobs hold
only strings (paths, names), never Blender data (undo safety). When a run ends with a result
it is cached and imported with `tcmr.import_result`; errors show in the panel and as an
operator report (`tcmr.job_report`).

`bpy.app.timers` never fire in the bpy module, so scripts and tests either pass `wait=True` or
call `poll_jobs()` themselves.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from . import preferences
from .core import backend_cmd, cache, datacheck
from .core.job import JobState, format_eta
from .core.process import BackendProcess
from .core.protocol import LineSplitter, parse_line
from .properties import PEOPLE_ITEMS, SMOOTHING_ITEMS

POLL_INTERVAL_S = 0.1
ADDON_DIR = Path(__file__).resolve().parent


@dataclass
class Job:
    kind: str  # "run" (status in wm.tcmr_job) or "check" / "env" / "selftest" (wm.tcmr_aux)
    process: BackendProcess
    on_finish: Callable[[Job], None] | None = None
    state: JobState = field(default_factory=JobState)
    splitter: LineSplitter = field(default_factory=LineSplitter)
    extra: dict = field(default_factory=dict)  # run: key, out_dir, data_dir, settings, video
    result_fields: dict = field(default_factory=dict)
    cancelled: bool = False
    done: bool = False


_JOBS: dict[str, Job] = {}  # one job per status slot: "run" and "aux"


def slot_of(kind: str) -> str:
    return "run" if kind == "run" else "aux"


def status_of(kind: str, wm=None):
    wm = wm or bpy.context.window_manager
    return wm.tcmr_job if slot_of(kind) == "run" else wm.tcmr_aux


def active_job(slot: str) -> Job | None:
    job = _JOBS.get(slot)
    return job if job and not job.done else None


def start_job(kind: str, argv: list[str], log_path: Path, on_finish=None, extra=None, cwd=None) -> Job:
    """Start a backend-protocol process and the timer that polls it."""
    slot = slot_of(kind)
    if active_job(slot):
        raise RuntimeError("another job is still running; cancel it first")
    root = backend_cmd.find_backend_root(ADDON_DIR) if cwd is None else Path(cwd)
    proc = BackendProcess(argv, cwd=str(root), env=backend_cmd.backend_env(root), log_path=log_path)
    job = Job(kind, proc, on_finish, extra=dict(extra or {}))
    _JOBS[slot] = job
    st = status_of(kind)
    st.running, st.kind, st.stage_label = True, kind, "Starting backend"
    st.factor, st.fps, st.eta = 0.0, 0.0, ""
    st.message = st.error_code = st.error_message = st.error_hint = st.result_path = st.warning = ""
    st.log_path = str(log_path)
    if not bpy.app.timers.is_registered(poll_jobs):
        # persistent: loading another .blend must not orphan a running job
        bpy.app.timers.register(poll_jobs, first_interval=POLL_INTERVAL_S, persistent=True)
    return job


def _poll_one(job: Job) -> None:
    lines, finished = job.process.poll()
    now = time.monotonic()
    for chunk in lines:
        for line in job.splitter.feed(chunk):
            event = parse_line(line)
            if event is not None and event.kind == "result":
                job.result_fields = {k: v for k, v in _raw_fields(line).items() if k != "event"}
            job.state.apply(event, now)
    if finished:
        for line in job.splitter.flush():
            job.state.apply(parse_line(line), now)
        if not job.state.finished:
            job.state.fail_from_exit(job.process.returncode, job.process.stderr_tail())
    st = status_of(job.kind)
    s = job.state
    st.stage_label, st.factor, st.fps = s.stage_label, s.factor, s.rate
    st.eta, st.device = format_eta(s.eta), s.device
    if s.warnings:
        _code, message, hint = s.warnings[-1]
        st.warning = f"{message} ({hint})" if hint else message
    if finished:
        _finish(job)


def _raw_fields(line: str) -> dict:
    import json

    try:
        obj = json.loads(line)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _finish(job: Job) -> None:
    job.done = True
    st = status_of(job.kind)
    st.running = False
    if job.state.error:
        st.error_code, st.error_message, st.error_hint = job.state.error
        st.message = f"Failed: {st.error_message}"
    else:
        st.result_path = job.state.result_path or ""
    if job.on_finish is not None:
        try:
            job.on_finish(job)
        except Exception as exc:  # an import failure must still end the job cleanly
            st.error_code, st.error_message = "IMPORT_FAILED", f"{type(exc).__name__}: {exc}"
            st.error_hint = "The result is kept; try Re-import, or report the bug with the log."
            st.message = f"Failed: {st.error_message}"
    if st.error_code and not job.cancelled:
        _report_async(job.kind)


def _report_async(kind: str) -> None:
    """Operator report for an error that happened after the starting operator returned."""
    try:
        bpy.ops.tcmr.job_report(kind=kind)
    except RuntimeError as exc:  # no context to report in: the panel still shows it
        print(f"TCMR: {exc}")


def poll_jobs():
    """bpy.app.timers callback: advance every job; None (stop) when nothing is running."""
    for job in list(_JOBS.values()):
        if not job.done:
            _poll_one(job)
    _redraw()
    return POLL_INTERVAL_S if any(not j.done for j in _JOBS.values()) else None


def wait_for(job: Job, timeout_s: float = 3600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not job.done:
        poll_jobs()
        if time.monotonic() > deadline:
            cancel(job)
            raise TimeoutError("the backend did not finish in time")
        time.sleep(0.05)


def cancel(job: Job) -> None:
    job.cancelled = True
    job.process.kill_tree()
    deadline = time.monotonic() + 5.0
    while not job.done and time.monotonic() < deadline:
        _poll_one(job)  # drains what is left and finishes the job
        time.sleep(0.01)
    if not job.done:
        _finish(job)
    st = status_of(job.kind)
    st.running = False
    st.error_code, st.error_message, st.error_hint = "CANCELLED", "Cancelled", ""
    st.message = "Cancelled"
    out_dir = job.extra.get("out_dir")
    if out_dir and not (Path(out_dir) / "result.json").exists():
        shutil.rmtree(out_dir, ignore_errors=True)


def _redraw():
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "PREFERENCES"}:
                area.tag_redraw()


# -- run: result -> cache -> import ------------------------------------------------------------
def import_result(result_dir: str, data_dir: str) -> None:
    try:
        res = bpy.ops.tcmr.import_result(filepath=str(result_dir), data_dir=str(data_dir))
    except AttributeError as exc:
        raise RuntimeError("tcmr.import_result is not available in this build of the add-on") from exc
    if "FINISHED" not in res:
        raise RuntimeError(f"importing {result_dir} did not finish ({res})")


def _on_run_finished(job: Job) -> None:
    st = status_of(job.kind)
    if job.state.error:
        out_dir = job.extra.get("out_dir")
        if out_dir and not (Path(out_dir) / "result.json").exists():
            shutil.rmtree(out_dir, ignore_errors=True)
        return
    result_dir = job.state.result_path
    extra = job.extra
    if extra.get("key"):
        cache.ResultCache(extra["cache_dir"]).add(extra["key"], result_dir, extra["video"], extra["settings"])
    import_result(result_dir, extra["data_dir"])
    synthetic = " (SYNTHETIC model data)" if extra.get("synthetic") else ""
    st.message = f"Imported {Path(result_dir).name}{synthetic}"


def _unset(value: int) -> int | None:
    return None if value < 0 else value


class TCMR_OT_process_video(bpy.types.Operator):
    """Capture the motion of the people in a video and import them as animated characters"""

    bl_idname = "tcmr.process_video"
    bl_label = "Run Motion Capture"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="Video", subtype="FILE_PATH",
                             description="Video file or image folder; empty = the panel's video")
    data_dir: StringProperty(name="Model Data", subtype="DIR_PATH", description="Empty = preferences")
    python: StringProperty(name="Backend Python", subtype="FILE_PATH", description="Empty = preferences")
    cache_dir: StringProperty(name="Results Cache", subtype="DIR_PATH", description="Empty = preferences")
    device: EnumProperty(name="Device", items=(("PREFS", "Preferences", ""), *preferences.DEVICE_ITEMS),
                         default="PREFS")
    start: IntProperty(name="Start", default=-2, min=-2,
                       description="-2 = panel setting, -1 = from the start")
    end: IntProperty(name="End", default=-2, min=-2, description="-2 = panel setting, -1 = to the end")
    people: EnumProperty(name="People", items=(("PANEL", "Panel", ""), *PEOPLE_ITEMS), default="PANEL")
    smoothing: EnumProperty(name="Smoothing", items=(("PANEL", "Panel", ""), *SMOOTHING_ITEMS),
                            default="PANEL")
    bbox: StringProperty(name="Person Box", default="",
                         description="x,y,w,h in pixels: follow one person in this fixed box (no detection); "
                                     "empty = the panel setting")
    use_cache: BoolProperty(name="Reuse Earlier Results", default=True)
    wait: BoolProperty(name="Wait", default=False, description="Block until done (scripts)",
                       options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return active_job("run") is None

    def execute(self, context):
        prefs = preferences.get_prefs(context)
        ui = context.scene.tcmr_settings
        video = bpy.path.abspath(self.filepath or ui.video)
        if not video or not Path(video).exists():
            self.report({"ERROR"}, f"Video not found: '{video}'. Choose a video file (or image folder) "
                                   "in the Mocap panel.")
            return {"CANCELLED"}
        python = bpy.path.abspath(self.python) if self.python else preferences.backend_python(prefs)
        if not Path(python).is_file():
            self.report({"ERROR"}, f"Backend Python not found: {python}. Create the environment (or choose "
                                   "an interpreter) in Preferences > Add-ons > TCMR Mocap.")
            return {"CANCELLED"}
        data_dir = bpy.path.abspath(self.data_dir) if self.data_dir else preferences.data_dir(prefs)
        cache_dir = bpy.path.abspath(self.cache_dir) if self.cache_dir else preferences.results_dir(prefs)
        start = _unset(self.start) if self.start != -2 else (ui.frame_start if ui.use_range else None)
        end = _unset(self.end) if self.end != -2 else (ui.frame_end if ui.use_range else None)
        try:
            bbox = backend_cmd.parse_bbox(self.bbox or ui.bbox)
        except ValueError as exc:
            self.report({"ERROR"}, f"{exc}. Fix or clear the person box")
            return {"CANCELLED"}
        settings = backend_cmd.RunSettings(
            video=video, out_dir="", data_dir=data_dir, bbox=bbox,
            device=self.device if self.device != "PREFS" else preferences.device(prefs),
            start=start, end=end,
            people=self.people if self.people != "PANEL" else ui.people,
            smoothing=self.smoothing if self.smoothing != "PANEL" else ui.smoothing,
            detector=preferences.detector_model(prefs))

        key = cache.cache_key(cache.input_hash(video), settings.key_fields(),
                              cache.model_fingerprint(data_dir))
        rc = cache.ResultCache(cache_dir)
        hit = rc.lookup(key) if (self.use_cache and ui.use_cache) else None
        st = context.window_manager.tcmr_job
        if hit:
            try:
                import_result(hit.result_dir, data_dir)
            except RuntimeError as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
            st.message = f"Re-imported the earlier result of {Path(video).name} (cached)"
            st.result_path, st.error_code = hit.result_dir, ""
            self.report({"INFO"}, st.message)
            return {"FINISHED"}

        out_dir = rc.folder_for(key)
        if out_dir.exists():
            shutil.rmtree(out_dir)  # a stale, unfinished run of the same key
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        settings = backend_cmd.RunSettings(**{**settings.__dict__, "out_dir": str(out_dir)})
        argv = backend_cmd.run_argv(python, settings)
        log = Path(cache_dir) / "logs" / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{key[:8]}.log"
        extra = {"key": key, "out_dir": str(out_dir), "data_dir": data_dir, "cache_dir": cache_dir,
                 "video": video, "settings": settings.key_fields(),
                 "synthetic": datacheck.is_synthetic(data_dir)}
        try:
            job = start_job("run", argv, log, on_finish=_on_run_finished, extra=extra)
        except (OSError, RuntimeError) as exc:
            self.report({"ERROR"}, f"Could not start the backend: {exc}")
            return {"CANCELLED"}
        if self.wait:
            wait_for(job)
            if st.error_code:
                self.report({"ERROR"}, f"[{st.error_code}] {st.error_message}. {st.error_hint}")
                return {"CANCELLED"}
            self.report({"INFO"}, st.message)
        return {"FINISHED"}


class TCMR_OT_cancel_job(bpy.types.Operator):
    """Stop the running backend (the whole process tree); nothing half-written is kept"""

    bl_idname = "tcmr.cancel_job"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    slot: EnumProperty(items=(("run", "Run", ""), ("aux", "Preferences job", "")), default="run")

    def execute(self, context):
        job = active_job(self.slot)
        if job is None:
            self.report({"WARNING"}, "Nothing is running")
            return {"CANCELLED"}
        cancel(job)
        self.report({"INFO"}, "Cancelled")
        return {"FINISHED"}


class TCMR_OT_job_report(bpy.types.Operator):
    """Report the last job's error in the status bar and Info editor"""

    bl_idname = "tcmr.job_report"
    bl_label = "Report Job Result"
    bl_options = {"INTERNAL"}

    kind: StringProperty(default="run")

    def execute(self, context):
        st = status_of(self.kind, context.window_manager)
        if st.error_code:
            self.report({"ERROR"}, f"[{st.error_code}] {st.error_message}"
                                   + (f". Hint: {st.error_hint}" if st.error_hint else ""))
        elif st.message:
            self.report({"INFO"}, st.message)
        return {"FINISHED"}


class TCMR_OT_open_log(bpy.types.Operator):
    """Open the backend's log (its stderr) of the last job"""

    bl_idname = "tcmr.open_log"
    bl_label = "Open Backend Log"
    bl_options = {"REGISTER"}

    slot: EnumProperty(items=(("run", "Run", ""), ("aux", "Preferences job", "")), default="run")

    def execute(self, context):
        st = status_of(self.slot, context.window_manager)
        if not st.log_path or not Path(st.log_path).is_file():
            self.report({"WARNING"}, "No log yet: run something first")
            return {"CANCELLED"}
        bpy.ops.wm.path_open(filepath=st.log_path)
        return {"FINISHED"}


class TCMR_OT_reimport(bpy.types.Operator):
    """Import an earlier result again (from the results cache)"""

    bl_idname = "tcmr.reimport"
    bl_label = "Re-import"
    bl_options = {"REGISTER"}

    result_dir: StringProperty(subtype="DIR_PATH")
    data_dir: StringProperty(subtype="DIR_PATH", description="Empty = preferences")

    def execute(self, context):
        if not (Path(self.result_dir) / "result.json").is_file():
            self.report({"ERROR"}, f"{self.result_dir} is not a finished result (it may have been deleted)")
            return {"CANCELLED"}
        data_dir = self.data_dir or preferences.data_dir(preferences.get_prefs(context))
        try:
            import_result(self.result_dir, data_dir)
        except RuntimeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


_CLASSES = (TCMR_OT_process_video, TCMR_OT_cancel_job, TCMR_OT_job_report, TCMR_OT_open_log, TCMR_OT_reimport)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(_CLASSES)


def register():
    _register_classes()


def unregister():
    for job in list(_JOBS.values()):
        if not job.done:
            cancel(job)
    if bpy.app.timers.is_registered(poll_jobs):
        bpy.app.timers.unregister(poll_jobs)
    _unregister_classes()
