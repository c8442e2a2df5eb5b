"""The add-on's job engine: long work off Blender's main thread, shown in the panels.

A job is a task with the surface of core.process.BackendProcess: a backend child process, or a
core.tasks.ThreadTask (Python work on a thread, which may go on to start a backend process).
Both speak the backend's JSON-lines protocol. `poll_jobs()`, a bpy.app.timers function on the
main thread, folds each job's lines into its core.job.JobState and copies that into the window
manager's status properties the panels draw: `wm.tcmr_job` for video runs (slot "run"),
`wm.tcmr_aux` for the preferences' jobs (slot "aux"). Jobs hold only strings (paths, names),
never Blender data (undo safety). `on_finish(job)` runs on the main thread when a job ends.

No operators live here (addon/ops_*.py are the buttons). `bpy.app.timers` never fire in the
bpy module, so scripts and tests call `wait_for(job)` or `poll_jobs()` themselves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from .core import backend_cmd, layout
from .core.job import JobState, format_eta
from .core.process import BackendProcess
from .core.protocol import LineSplitter, parse_line
from .core.tasks import ThreadTask, Work

POLL_INTERVAL_S = 0.1
SLOTS = ("run", "aux")


@dataclass
class Job:
    kind: str  # "run" (slot "run") or "check" / "env" / "selftest" / "install" (slot "aux")
    process: BackendProcess | ThreadTask
    on_finish: Callable[[Job], None] | None = None  # main thread, when it ended (not when cancelled)
    on_cancel: Callable[[Job], None] | None = None  # main thread, after Cancel stopped it
    state: JobState = field(default_factory=JobState)
    splitter: LineSplitter = field(default_factory=LineSplitter)
    extra: dict = field(default_factory=dict)  # what on_finish needs (paths, settings)
    cancelled: bool = False
    done: bool = False

    @property
    def result_fields(self) -> dict:
        """The extra fields of the job's result event ({} before it arrived)."""
        result = self.state.result
        return dict(result.extra) if result is not None else {}


_JOBS: dict[str, Job] = {}  # one job per slot


def slot_of(kind: str) -> str:
    return "run" if kind in ("run", "edit") else "aux"  # track edits show in the main panel


def status_of(kind: str, wm=None):
    """The status properties of the job kind's slot (or of a slot name)."""
    wm = wm or bpy.context.window_manager
    return wm.tcmr_job if slot_of(kind) == "run" else wm.tcmr_aux


def active_job(slot: str) -> Job | None:
    job = _JOBS.get(slot)
    return job if job and not job.done else None


def backend_root() -> Path:
    """The folder holding the `backend` package (cwd and PYTHONPATH of every backend process)."""
    return layout.find_backend_root(layout.ADDON_DIR)


def log_path(folder: str | os.PathLike, name: str) -> Path:
    """A new log file name in `<folder>/logs`."""
    return Path(folder) / "logs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"


def start_backend(kind: str, argv: list[str], log: Path, on_finish=None, cwd=None) -> Job:
    """Start a backend-protocol process (`argv`, cwd = the backend root unless given)."""
    _refuse_busy(kind)
    root = backend_root() if cwd is None else Path(cwd)
    proc = BackendProcess(argv, cwd=str(root), env=backend_cmd.backend_env(root), log_path=log)
    return _register(Job(kind, proc, on_finish), "Starting backend")


def start_thread(kind: str, work: Work, log: Path, on_finish=None, on_cancel=None, extra=None,
                 error_code: str = "INTERNAL") -> Job:
    """Start `work(emit, token)` on a thread (core.tasks.ThreadTask). If it returns an argv,
    that backend process runs next, in the same job, with the backend root as cwd."""
    _refuse_busy(kind)
    root = backend_root()
    task = ThreadTask(work, log, error_code=error_code, cwd=str(root), env=backend_cmd.backend_env(root))
    # `extra` itself (not a copy): `work` may add to it on its thread, e.g. the folder it made
    job = Job(kind, task, on_finish, on_cancel, extra=extra if extra is not None else {})
    return _register(job, "Starting")


def _refuse_busy(kind: str) -> None:
    if active_job(slot_of(kind)):
        raise RuntimeError("another job is still running; cancel it first")


def _register(job: Job, label: str) -> Job:
    _JOBS[slot_of(job.kind)] = job
    st = status_of(job.kind)
    st.running, st.kind, st.stage_label = True, job.kind, label
    st.factor, st.fps, st.eta = 0.0, 0.0, ""
    st.message = st.error_code = st.error_message = st.error_hint = st.result_path = st.warning = ""
    st.log_path = str(job.process.log_path)
    if not bpy.app.timers.is_registered(poll_jobs):
        # persistent: loading another .blend must not orphan a running job
        bpy.app.timers.register(poll_jobs, first_interval=POLL_INTERVAL_S, persistent=True)
    return job


def _poll_one(job: Job) -> None:
    lines, finished = job.process.poll()
    now = time.monotonic()
    for chunk in lines:
        for line in job.splitter.feed(chunk):
            job.state.apply(parse_line(line), now)
    if finished:
        for line in job.splitter.flush():
            job.state.apply(parse_line(line), now)
        if not job.state.finished:
            job.state.fail_from_exit(job.process.returncode, job.process.stderr_tail())
    st = status_of(job.kind)
    s = job.state
    st.stage_label, st.factor, st.fps = s.stage_label, s.factor, s.rate
    st.eta, st.device, st.rate_unit = format_eta(s.eta), s.device, s.unit
    if s.warnings:
        _code, message, hint = s.warnings[-1]
        st.warning = f"{message} ({hint})" if hint else message
    if finished:
        _finish(job)


def _finish(job: Job) -> None:
    job.done = True
    st = status_of(job.kind)
    st.running = False
    if job.state.error:
        st.error_code, st.error_message, st.error_hint = job.state.error
        st.message = f"Failed: {st.error_message}"
    else:
        st.result_path = job.state.result_path or ""
    if job.on_finish is not None and not job.cancelled:
        try:
            job.on_finish(job)
        except Exception as exc:  # an import failure must still end the job cleanly
            fail(job, "IMPORT_FAILED", f"{type(exc).__name__}: {exc}",
                 "The result is kept; try Re-import, or report the bug with the log.")
    if st.error_code and not job.cancelled:
        _report_async(job.kind)


def fail(job: Job, code: str, message: str, hint: str) -> None:
    """Show an error of the job's own follow-up work (import after a run) in its status."""
    st = status_of(job.kind)
    st.error_code, st.error_message, st.error_hint = code, message, hint
    st.message = f"Failed: {message}"


def _report_async(kind: str) -> None:
    """Operator report for an error that happened after the starting operator returned (the
    Info editor only takes reports from operators: tcmr.job_report shows the status's error)."""
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
            raise TimeoutError("the job did not finish in time")
        time.sleep(0.05)


def wait_and_report(operator, job: Job) -> set[str]:
    """For an operator's `wait=True`: block until `job` ended, then report its error (the
    operator returns CANCELLED, so bpy.ops raises) or its message."""
    wait_for(job)
    st = status_of(job.kind)
    if st.error_code:
        operator.report({"ERROR"}, f"[{st.error_code}] {st.error_message}. {st.error_hint}")
        return {"CANCELLED"}
    operator.report({"INFO"}, st.message)
    return {"FINISHED"}


def cancel(job: Job) -> None:
    """Stop the job's whole process tree (or thread); its status says Cancelled."""
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
    if job.on_cancel is not None:
        job.on_cancel(job)


def cancel_all() -> None:
    """Stop every running job and the polling timer (the add-on is being disabled)."""
    for job in list(_JOBS.values()):
        if not job.done:
            cancel(job)
    if bpy.app.timers.is_registered(poll_jobs):
        bpy.app.timers.unregister(poll_jobs)


def _redraw():
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "PREFERENCES"}:
                area.tag_redraw()
