"""State of one backend job as the panel shows it: stage, progress, speed and ETA.

Pure: `JobState.apply(event, now)` folds protocol events (addon.core.protocol) into the state;
time is passed in, so the maths is tested without clocks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .protocol import PROTOCOL_VERSION, ErrorEvent, Event, Hello, Progress, Result, Stage, WarningEvent

# Readable names for the run pipeline's stages; an unknown stage shows its own name.
STAGE_LABELS = {
    "load": "Loading models",
    "decode": "Reading video",
    "envsetup": "Setting up the environment",
    "detect": "Detecting people",
    "track": "Tracking people",
    "features": "Extracting features",
    "regress": "Estimating bodies",
    "smooth": "Smoothing",
    "write": "Writing result",
    "ground": "Finding the floor",
}


class RateMeter:
    """Items per second over a sliding time window, and the time left for the remaining items.

    Samples are (time s, done). The rate is (done_last - done_first) / (t_last - t_first) over
    the samples of the last `window_s` seconds, so a stall shows as a falling rate.
    """

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()

    def reset(self) -> None:
        self._samples.clear()

    def add(self, now: float, done: float) -> None:
        if self._samples and done < self._samples[-1][1]:
            self._samples.clear()  # a counter that went back is a new pass: start over
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()

    def rate(self) -> float:
        """Items per second, 0.0 until two samples at different times exist."""
        if len(self._samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 <= t0:
            return 0.0
        return max(0.0, (d1 - d0) / (t1 - t0))

    def eta(self, total: float) -> float | None:
        """Seconds until `total`, or None while the rate is unknown."""
        r = self.rate()
        if r <= 0.0 or not self._samples:
            return None
        return max(0.0, (total - self._samples[-1][1]) / r)


def format_eta(seconds: float | None) -> str:
    """'1:05' style (h:mm:ss past an hour); '--' when unknown."""
    if seconds is None:
        return "--"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class JobState:
    """What the panel shows about a running or finished job."""

    stage: str = ""
    stage_label: str = "Starting backend"
    done: float = 0.0
    total: float = 0.0
    device: str = ""
    unit: str = "frames"  # what `done` / `total` (and the rate) count
    backend_version: str = ""
    protocol: int | None = None
    warnings: list[tuple[str, str, str]] = field(default_factory=list)  # (code, message, hint)
    result_path: str | None = None
    result: Result | None = None  # the result event, with its extra fields
    error: tuple[str, str, str] | None = None  # (code, message, hint)
    ignored_lines: int = 0
    counts: dict = field(default_factory=dict)  # events seen per kind
    meter: RateMeter = field(default_factory=RateMeter)

    @property
    def finished(self) -> bool:
        return self.result_path is not None or self.error is not None

    @property
    def factor(self) -> float:
        """Progress of the current stage in [0, 1]."""
        if self.total <= 0:
            return 0.0
        return min(1.0, max(0.0, self.done / self.total))

    @property
    def rate(self) -> float:
        return self.meter.rate()

    @property
    def eta(self) -> float | None:
        return self.meter.eta(self.total) if self.total > 0 else None

    def apply(self, event: Event | None, now: float) -> None:
        if event is None:
            self.ignored_lines += 1
            return
        self.counts[event.kind] = self.counts.get(event.kind, 0) + 1
        if isinstance(event, Hello):
            self._hello(event)
        elif isinstance(event, Stage):
            self._enter(event.stage or "", event.message)
        elif isinstance(event, Progress):
            stage = event.stage if event.stage is not None else self.stage
            if stage != self.stage:
                self._enter(stage, None)
            self.done = float(event.done or 0)
            self.total = float(event.total or 0)
            unit = event.extra.get("unit")  # the add-on's own jobs count MB; the backend frames
            self.unit = unit if isinstance(unit, str) and unit else "frames"
            self.meter.add(now, self.done)
        elif isinstance(event, WarningEvent):
            self.warnings.append((event.code or "", event.message or "", event.hint or ""))
        elif isinstance(event, Result) and not self.finished:
            self.result = event
            self.result_path = event.path or ""
        elif isinstance(event, ErrorEvent) and not self.finished:
            self.error = (event.code or "INTERNAL", event.message or "unknown error", event.hint or "")

    def _hello(self, event: Hello) -> None:
        self.device = event.device or ""
        self.backend_version = event.backend_version or ""
        self.protocol = event.protocol
        if self.protocol is not None and self.protocol > PROTOCOL_VERSION:
            message = f"the backend speaks protocol {self.protocol}, this add-on knows {PROTOCOL_VERSION}"
            self.warnings.append(("PROTOCOL_NEWER", message, "Update the add-on to match the backend."))

    def _enter(self, stage: str, message: str | None) -> None:
        self.stage = stage
        self.stage_label = message or STAGE_LABELS.get(stage) or stage
        self.done = 0.0
        self.total = 0.0
        self.meter.reset()

    def fail_from_exit(self, returncode: int, stderr_tail: str) -> None:
        """The process ended without a result or error event (crash, kill): make one up."""
        if self.finished:
            return
        tail = stderr_tail.strip().splitlines()[-1:] if stderr_tail.strip() else []
        detail = f": {tail[0]}" if tail else ""
        self.error = ("BACKEND_CRASHED",
                      f"the backend stopped (exit code {returncode}) without an answer{detail}",
                      "Open the backend log for details; run 'Test backend' in the add-on preferences.")
