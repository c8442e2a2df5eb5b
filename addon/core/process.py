"""A backend child process that never blocks Blender (stdlib only).

The process runs in its own session / process group so Cancel can stop the whole tree
(the backend may have worker processes). A reader thread puts stdout lines on a queue; the
caller (a bpy.app.timers function in the add-on, a loop in tests) drains it with `poll()`.
stderr goes straight to a log file the panel links.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

EOF = object()  # a reader thread's end mark in its queue


def drain(lines: queue.Queue) -> tuple[list[str], bool]:
    """Everything a reader thread has queued so far -> (lines, whether its end mark came)."""
    out, eof = [], False
    while True:
        try:
            item = lines.get_nowait()
        except queue.Empty:
            return out, eof
        if item is EOF:
            eof = True
        else:
            out.append(item)


def popen_group_kwargs() -> dict:
    """Popen arguments that put the child in its own process group / session."""
    if sys.platform.startswith("win"):
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
        return {"creationflags": flags}
    return {"start_new_session": True}


class BackendProcess:
    """`argv` running with stdout read line by line on a thread and stderr saved to `log_path`."""

    def __init__(self, argv: list[str], cwd: str, env: dict, log_path: str | os.PathLike,
                 append: bool = False) -> None:
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise TypeError("argv must be a list of strings (no shell)")
        self.argv = argv
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        mode = "a" if append else "w"
        self._log = open(self.log_path, mode, encoding="utf-8")  # noqa: SIM115 - closed in _finish
        self._log.write("$ " + " ".join(repr(a) if " " in a else a for a in argv) + "\n")
        self._log.flush()
        self.lines: queue.Queue = queue.Queue()
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            text=True, encoding="utf-8", errors="replace", bufsize=1, **popen_group_kwargs())
        self.pid = self.proc.pid
        self._eof = False
        self._thread = threading.Thread(target=self._read, name=f"tcmr-backend-{self.pid}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self.proc.stdout:
                self.lines.put(line)
        finally:
            self.lines.put(EOF)

    def poll(self) -> tuple[list[str], bool]:
        """(new stdout lines, finished): finished once stdout closed and the process exited."""
        out, eof = drain(self.lines)
        self._eof = self._eof or eof
        done = self._eof and self.proc.poll() is not None
        if done:
            self._finish()
        return out, done

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def stderr_tail(self, max_chars: int = 2000) -> str:
        try:
            self._log.flush()
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, ValueError):
            return ""
        return text[-max_chars:]

    def kill_tree(self, grace_s: float = 3.0) -> None:
        """Ask the whole process group to stop (SIGTERM: the backend cleans up), then force it."""
        if self.proc.poll() is None:
            if sys.platform.startswith("win"):
                subprocess.run(["taskkill", "/T", "/F", "/PID", str(self.pid)], capture_output=True,
                               check=False)
            else:
                _signal_group(self.pid, signal.SIGTERM)
                deadline = time.monotonic() + grace_s
                while self.proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                _signal_group(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if not sys.platform.startswith("win"):
            _signal_group(self.pid, signal.SIGKILL)  # stragglers that outlived the leader
        self._thread.join(timeout=5)
        self._finish()

    def _finish(self) -> None:
        if not self._log.closed:
            self._log.close()
        if self.proc.stdout and not self.proc.stdout.closed and not self._thread.is_alive():
            self.proc.stdout.close()


def _signal_group(pgid: int, sig) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def pid_alive(pid: int) -> bool:
    """True while a process with this id exists and is not a zombie (POSIX; Windows: tasklist)."""
    if sys.platform.startswith("win"):
        out = subprocess.run(["tasklist", "/FI", f"PID eq {pid}"], capture_output=True, text=True,
                             check=False)
        return str(pid) in out.stdout
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False
    return True
