"""Batch progress on the protocol (Contract 2; readers ignore unknown fields):

    {"event": "progress", "stage": "batch", "done": 3, "total": 10, "fps": 41.2, "eta_s": 95.0}
    {"event": "stage"|"progress"|"warning", ..., "input": "<result name>"}   one input's own events

done counts finished inputs (done, failed and skipped); fps is frames per wall second of this
run; eta_s extrapolates this run's seconds per processed input. In a terminal: one bar on stderr.
"""

from __future__ import annotations

import time

from backend.events import Reporter


class BatchProgress:
    def __init__(self, reporter: Reporter, total: int, already: int, to_process: int) -> None:
        self.reporter = reporter
        self.total, self.done, self.to_process = total, already, to_process
        self.processed = 0
        self.frames = 0
        self.t0 = time.monotonic()

    def input_event(self, name: str, fields: dict) -> None:
        """A worker's stage/progress/warning for one input, forwarded with its name."""
        fields = dict(fields)
        event = fields.pop("event")
        if event in ("stage", "progress", "warning"):
            self.reporter.emit(event, **fields, input=name)

    def finished(self, name: str, outcome: dict) -> None:
        self.done += 1
        self.processed += 1
        self.frames += outcome.get("frames") or 0
        self.report()
        if not self.reporter.jsonl:
            status = outcome["status"]
            error = outcome.get("error") or {}
            extra = f" [{error.get('code')}] {error.get('message')}" if status == "failed" else ""
            self.reporter.log(f"\n{name}: {status}{extra}")

    def report(self) -> None:
        elapsed = time.monotonic() - self.t0
        fps = round(self.frames / elapsed, 3) if elapsed > 0 else None
        left = self.to_process - self.processed
        eta = round(elapsed / self.processed * left, 1) if self.processed else None
        self.reporter.emit("progress", stage="batch", done=self.done, total=self.total, fps=fps, eta_s=eta)
        if not self.reporter.jsonl:
            width = 30
            filled = round(width * self.done / self.total) if self.total else width
            self.reporter.err.write(f"\r     batch [{'#' * filled}{'.' * (width - filled)}] {self.done}/"
                                    f"{self.total} inputs  {fps or 0:6.1f} frames/s  eta "
                                    f"{eta if eta is not None else 0:5.0f}s")
            self.reporter.err.flush()
