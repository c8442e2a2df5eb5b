"""Reader side of Contract 2 (docs/contracts.md): JSON lines from the backend's stdout, as typed events.

One JSON object per line. Each known event becomes its dataclass (`Hello`, `Stage`, `Progress`,
`WarningEvent`, `Result`, `ErrorEvent`) with the fields this reader uses, checked for type (a field of
the wrong type is left at its default, None); every other field the backend sent is kept in
`extra` (the result event's `torch`, `summary`, `files`... that callers read). Unknown events,
blank lines and lines that are not a JSON object are `None`, so the caller can count them instead
of crashing. `LineSplitter` turns arbitrary text chunks into whole lines, so a line that arrives
in two pieces is parsed once, complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import ClassVar

PROTOCOL_VERSION = 1  # the newest protocol this reader understands


@dataclass(frozen=True)
class Event:
    """Base of the typed events. `fields`: the known fields that were present and well typed."""

    kind: ClassVar[str] = ""
    types: ClassVar[dict[str, tuple[type, ...]]] = {}
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def fields(self) -> dict:
        return {name: getattr(self, name) for name in self.types if getattr(self, name) is not None}


@dataclass(frozen=True)
class Hello(Event):
    kind: ClassVar[str] = "hello"
    types: ClassVar[dict] = {"protocol": (int,), "backend_version": (str,), "device": (str,),
                             "command": (str,)}
    protocol: int | None = None
    backend_version: str | None = None
    device: str | None = None
    command: str | None = None


@dataclass(frozen=True)
class Stage(Event):
    kind: ClassVar[str] = "stage"
    types: ClassVar[dict] = {"stage": (str,), "message": (str,)}
    stage: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Progress(Event):
    kind: ClassVar[str] = "progress"
    types: ClassVar[dict] = {"stage": (str,), "done": (int, float), "total": (int, float)}
    stage: str | None = None
    done: float | None = None
    total: float | None = None


@dataclass(frozen=True)
class WarningEvent(Event):
    kind: ClassVar[str] = "warning"
    types: ClassVar[dict] = {"code": (str,), "message": (str,), "hint": (str,)}
    code: str | None = None
    message: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class Result(Event):
    kind: ClassVar[str] = "result"
    types: ClassVar[dict] = {"path": (str,)}
    path: str | None = None


@dataclass(frozen=True)
class ErrorEvent(Event):
    kind: ClassVar[str] = "error"
    types: ClassVar[dict] = {"code": (str,), "message": (str,), "hint": (str,)}
    code: str | None = None
    message: str | None = None
    hint: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {cls.kind: cls for cls in (Hello, Stage, Progress, WarningEvent,
                                                                  Result, ErrorEvent)}
KNOWN_EVENTS = tuple(EVENT_TYPES)


def parse_line(line: str) -> Event | None:
    """Parse one protocol line into its typed event, or None (blank, not JSON, not an object,
    unknown event). A known field of the wrong type (a bool is not a number here) stays None
    and is not copied to `extra` either."""
    text = line.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    cls = EVENT_TYPES.get(obj.get("event"))
    if cls is None:
        return None
    known, extra = {}, {}
    for name, value in obj.items():
        if name == "event":
            continue
        if name in cls.types:
            if isinstance(value, cls.types[name]) and not isinstance(value, bool):
                known[name] = value
        else:
            extra[name] = value
    return cls(extra=extra, **known)


class LineSplitter:
    """Accumulates text chunks and hands out complete lines (without the newline)."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, chunk: str) -> list[str]:
        self._pending += chunk
        *lines, self._pending = self._pending.split("\n")
        return [line.rstrip("\r") for line in lines]

    def flush(self) -> list[str]:
        """The trailing text without a newline (a backend killed mid-line), if any."""
        rest, self._pending = self._pending, ""
        return [rest] if rest.strip() else []
