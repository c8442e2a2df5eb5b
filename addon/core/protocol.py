"""Reader side of Contract 2 (docs/contracts.md): JSON lines from the backend's stdout.

One JSON object per line. Unknown events and unknown fields are ignored (the backend may add
them freely); a line that is not a JSON object is reported as `None` so the caller can log it
instead of crashing. `LineSplitter` turns arbitrary text chunks into whole lines, so a line
that arrives in two pieces is parsed once, complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

KNOWN_EVENTS = ("hello", "stage", "progress", "warning", "result", "error")
PROTOCOL_VERSION = 1  # the newest protocol this reader understands


@dataclass(frozen=True)
class Event:
    """One protocol event: its kind and the fields this reader uses (others are dropped)."""

    kind: str
    fields: dict = field(default_factory=dict)

    def get(self, name: str, default=None):
        return self.fields.get(name, default)


# Fields this reader looks at, per event, with the type each must have to be used.
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "hello": {"protocol": (int,), "backend_version": (str,), "device": (str,), "command": (str,)},
    "stage": {"stage": (str,), "message": (str,)},
    "progress": {"stage": (str,), "done": (int, float), "total": (int, float)},
    "warning": {"code": (str,), "message": (str,), "hint": (str,)},
    "result": {"path": (str,)},
    "error": {"code": (str,), "message": (str,), "hint": (str,)},
}


def parse_line(line: str) -> Event | None:
    """Parse one protocol line. Returns None for blank lines, non-JSON, non-objects and unknown
    events; keeps only known fields of the right type (a bool is not a number here)."""
    text = line.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    kind = obj.get("event")
    if kind not in _FIELDS:
        return None
    kept = {}
    for name, types in _FIELDS[kind].items():
        value = obj.get(name)
        if isinstance(value, types) and not isinstance(value, bool):
            kept[name] = value
    return Event(kind, kept)


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
