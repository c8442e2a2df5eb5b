"""The preferences' jobs as plain functions: create the managed backend environment, test the
backend (`check`), run its selftest, install model data. Each starts a job in the "aux" slot
(jobs.py; status in `wm.tcmr_aux`), so Blender stays responsive while pip downloads torch or a
multi-GB model data zip is unpacked. ops_prefs.py holds the buttons that call these.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from . import jobs
from .core import backend_cmd, datacheck
from .core.errors import AddonError

ENVSETUP_SCRIPT = Path(__file__).resolve().parent / "core" / "envsetup.py"
INSTALL_PROGRESS_S = 0.2
MB = 1 << 20


def start_env_setup(log_dir: str, env: Path, variant: str, wheels: str = "") -> jobs.Job:
    """Blender's own Python runs core/envsetup.py (stdlib only) to build the environment."""
    argv = [sys.executable, str(ENVSETUP_SCRIPT), "--env", str(env), "--variant", variant]
    if wheels:
        argv += ["--wheels", wheels]
    return jobs.start_backend("env", argv, jobs.log_path(log_dir, "env"), on_finish=_env_done,
                              cwd=str(ENVSETUP_SCRIPT.parent))


def _env_done(job: jobs.Job) -> None:
    if not job.state.error:
        torch = job.result_fields.get("torch", "?")
        jobs.status_of(job.kind).message = f"Environment ready: torch {torch}"


def start_check(log_dir: str, python: str, data_dir: str) -> jobs.Job:
    return jobs.start_backend("check", backend_cmd.check_argv(python, data_dir),
                              jobs.log_path(log_dir, "check"), on_finish=_answer_done)


def start_selftest(log_dir: str, python: str) -> jobs.Job:
    return jobs.start_backend("selftest", backend_cmd.selftest_argv(python, "cpu"),
                              jobs.log_path(log_dir, "selftest"), on_finish=_answer_done)


def _answer_done(job: jobs.Job) -> None:
    if job.state.error:
        return
    st = jobs.status_of(job.kind)
    fields = job.result_fields
    if job.kind == "check":
        files = fields.get("files") if isinstance(fields.get("files"), list) else []
        found = sum(1 for f in files if isinstance(f, dict) and f.get("status") == "found")
        synthetic = " (SYNTHETIC test data)" if datacheck.is_synthetic(fields.get("path", "")) else ""
        st.message = f"check: model data complete, {found} files found{synthetic}"
    else:
        st.message = f"{job.kind}: {fields.get('summary') or 'OK'}"


def start_install(log_dir: str, src: str, dest: str) -> jobs.Job:
    """Install model data from `src` (folder or zip) into `dest` on the job's thread."""
    if not src:
        raise AddonError("no model data chosen",
                         "Choose the official base_data folder or base_data.zip to install from.")
    return jobs.start_thread("install", lambda emit, token: _install(src, dest, emit, token),
                             jobs.log_path(log_dir, "install"), on_finish=_install_done,
                             error_code="INSTALL_FAILED")


def _install(src: str, dest: str, emit, token) -> None:
    emit("stage", stage="install", message=f"Installing model data into {dest}")
    last = [0.0]

    def progress(done: int, total: int) -> None:
        token.check()
        now = time.monotonic()
        if now - last[0] >= INSTALL_PROGRESS_S or done >= total:
            last[0] = now
            emit("progress", stage="install", done=done / MB, total=total / MB, unit="MB")

    names = datacheck.install_model_data(src, dest, progress)
    missing = [s.name for s in datacheck.check_folder(dest) if s.state != datacheck.FOUND]
    emit("result", path=dest, installed=names, missing=missing)


def _install_done(job: jobs.Job) -> None:
    if job.state.error:
        return
    fields = job.result_fields
    missing = fields.get("missing") or []
    jobs.status_of(job.kind).message = (
        f"Installed {len(fields.get('installed') or [])} file(s) into {job.state.result_path}"
        + (f"; still missing: {', '.join(missing)}" if missing else ""))
