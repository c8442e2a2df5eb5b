"""Contract 2 (docs/contracts.md): the progress protocol.

stdout carries only protocol lines, one JSON object per line, flushed at once; logs go to
stderr. Events and their fields:

    {"event": "hello", "protocol": 1, "backend_version": "0.1.0", "device": "cpu", "command": "run"}
    {"event": "stage", "stage": "detect", "message": "Detecting people"}
    {"event": "progress", "stage": "detect", "done": 10, "total": 300}
    {"event": "warning", "code": "SHORT_TRACK", "message": "...", "hint": "..."}
    {"event": "result", "path": "/abs/out"}
    {"event": "error", "code": "NO_PERSON", "message": "...", "hint": "..."}

Every command ends with exactly one `result` or `error`. Readers ignore unknown events and
fields, so new fields may be added freely. Without `--jsonl` and with a terminal on stdout the
same calls draw a human progress bar on stderr instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from backend import PROTOCOL_VERSION, __version__
from backend.errors import BackendError
from backend.fileio import json_text


class Reporter:
    """Emits protocol events (jsonl=True) or human-readable progress (jsonl=False)."""

    def __init__(
        self,
        jsonl: bool,
        out: TextIO | None = None,
        err: TextIO | None = None,
        min_interval_s: float = 0.1,
    ) -> None:
        self.jsonl = jsonl
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.min_interval_s = min_interval_s
        self.finished = False
        self._last_progress: dict[str, float] = {}
        self._stage_started: dict[str, float] = {}

    # -- low level ---------------------------------------------------------------------------
    def emit(self, event: str, **fields) -> None:
        if self.jsonl:
            self.out.write(json_text({"event": event, **fields}, indent=None))
            self.out.flush()

    def log(self, message: str) -> None:
        """Free text for people: always stderr, never part of the protocol."""
        self.err.write(message + "\n")
        self.err.flush()

    # -- events ------------------------------------------------------------------------------
    def hello(self, device: str, command: str) -> None:
        self.emit("hello", protocol=PROTOCOL_VERSION, backend_version=__version__, device=device,
                  command=command)
        if not self.jsonl:
            self.log(f"tcmr backend {__version__} ({command}) on {device}")

    def stage(self, stage: str, message: str = "") -> None:
        self._stage_started[stage] = time.monotonic()
        self.emit("stage", stage=stage, message=message or stage)
        if not self.jsonl:
            self.log(f"== {message or stage}")

    def progress(self, stage: str, done: int, total: int) -> None:
        """Throttled: at most one line per `min_interval_s` per stage, plus the final one."""
        now = time.monotonic()
        last = self._last_progress.get(stage)
        if done < total and last is not None and now - last < self.min_interval_s:
            return
        self._last_progress[stage] = now
        self.emit("progress", stage=stage, done=int(done), total=int(total))
        if not self.jsonl:
            self._draw_bar(stage, done, total, now)

    def warning(self, code: str, message: str, hint: str = "") -> None:
        self.emit("warning", code=code, message=message, hint=hint)
        if not self.jsonl:
            self.log(f"warning [{code}] {message}" + (f" ({hint})" if hint else ""))

    def result(self, path: str, **fields) -> None:
        self._finish()
        self.emit("result", path=str(path), **fields)
        if not self.jsonl:
            self.log(f"result: {path}")

    def error(self, error: BackendError) -> None:
        self._finish()
        self.emit(**error.to_event())
        if not self.jsonl:
            self.log(f"error [{error.code}] {error.message}")
            if error.hint:
                self.log(f"  hint: {error.hint}")

    # -- helpers -----------------------------------------------------------------------------
    def _finish(self) -> None:
        if self.finished:
            raise RuntimeError("a command must end with exactly one result or error event")
        self.finished = True

    def _draw_bar(self, stage: str, done: int, total: int, now: float) -> None:
        frac = done / total if total else 1.0
        width = 30
        filled = round(frac * width)
        elapsed = now - self._stage_started.get(stage, now)
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        line = (f"\r{stage:>10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
                f"  {rate:6.1f}/s  eta {eta:5.0f}s")
        self.err.write(line + ("\n" if done >= total else ""))
        self.err.flush()


class NullReporter(Reporter):
    """Swallows everything: for library use and tests of inner stages."""

    def __init__(self) -> None:
        super().__init__(jsonl=False)

    def emit(self, event: str, **fields) -> None:
        return

    def log(self, message: str) -> None:
        return

    def _draw_bar(self, *args) -> None:
        return
