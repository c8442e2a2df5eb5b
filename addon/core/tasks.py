"""Python work on a background thread that speaks the backend's protocol (stdlib only).

A `ThreadTask` runs `work(emit, token)` on a daemon thread: `emit(event, **fields)` queues one
protocol line (the same JSON lines a backend prints), `token.check()` raises `Cancelled` once
the job was cancelled. `work` may return an argument list: the thread then starts that backend
process (core.process.BackendProcess, same log file) and the task goes on with its lines, so
slow preparation (hashing a multi-GB clip, a cache lookup) and the backend run are one job.
An `AddonError` from `work` becomes one `error` event with its message and hint; any other
exception an `error` event with code INTERNAL (traceback in the log).

The task has the same surface as BackendProcess (`poll`, `kill_tree`, `returncode`,
`stderr_tail`, `pid`, `log_path`), so the add-on's job engine (addon/jobs.py) drives both alike.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from .errors import AddonError
from .process import EOF, BackendProcess, drain


class Cancelled(Exception):
    """Raised inside `work` by `CancelToken.check()` after the job was cancelled."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


Emit = Callable[..., None]
Work = Callable[[Emit, CancelToken], "list[str] | None"]


class ThreadTask:
    """`work` on a thread, then optionally the backend process it asks for."""

    def __init__(self, work: Work, log_path: str | os.PathLike, *, error_code: str = "INTERNAL",
                 cwd: str | None = None, env: dict | None = None) -> None:
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("", encoding="utf-8")
        self.error_code = error_code
        self.token = CancelToken()
        self.process: BackendProcess | None = None
        self._cwd, self._env = cwd, env
        self._lines: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._eof = False
        self._failed = False
        self._thread = threading.Thread(target=self._run, args=(work,), name="tcmr-task", daemon=True)
        self._thread.start()

    # -- the thread ------------------------------------------------------------------------
    def emit(self, event: str, **fields) -> None:
        self._lines.put(json.dumps({"event": event, **fields}) + "\n")

    def log(self, text: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(text.rstrip("\n") + "\n")

    def _run(self, work: Work) -> None:
        try:
            argv = work(self.emit, self.token)
            if argv is not None:
                self._start_process(argv)
        except Cancelled:
            self.log("cancelled")
        except AddonError as exc:
            self._failed = True
            self.emit("error", code=self.error_code, message=exc.message, hint=exc.hint)
            self.log(f"error: {exc.message} ({exc.hint})")
        except Exception as exc:
            self._failed = True
            self.log(traceback.format_exc())
            self.emit("error", code="INTERNAL", message=f"{type(exc).__name__}: {exc}",
                      hint="Open the log for details and report the bug with it.")
        finally:
            self._lines.put(EOF)

    def _start_process(self, argv: list[str]) -> None:
        with self._lock:  # cancel() either sees the process or stops it from starting
            self.token.check()
            env = self._env if self._env is not None else dict(os.environ)
            self.process = BackendProcess(argv, cwd=self._cwd or os.getcwd(), env=env, log_path=self.log_path,
                                          append=True)

    # -- the caller (main thread) ----------------------------------------------------------
    def poll(self) -> tuple[list[str], bool]:
        """(new protocol lines, finished): the thread's own lines, then its process's."""
        out, eof = drain(self._lines)
        self._eof = self._eof or eof
        if not self._eof:
            return out, False
        if self.process is None:
            return out, True
        lines, done = self.process.poll()
        return out + lines, done

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        if self.process is not None:
            return self.process.returncode
        if self._thread.is_alive():
            return None
        return 1 if self._failed else 0

    def stderr_tail(self, max_chars: int = 2000) -> str:
        if self.process is not None:
            return self.process.stderr_tail(max_chars)
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-max_chars:]
        except OSError:
            return ""

    def kill_tree(self, grace_s: float = 3.0) -> None:
        """Stop the work (at its next `token.check()`) and the process it started, if any."""
        with self._lock:
            self.token.cancel()
            process = self.process
        if process is not None:
            process.kill_tree(grace_s)
        self._thread.join(timeout=10)
