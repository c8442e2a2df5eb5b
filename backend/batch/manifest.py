"""DIR/batch.json: the batch manifest, rewritten atomically (backend.fileio) after every finished input.

    {"format": 1, "kind": "tcmr-batch", "out": DIR, "settings": {...}, "settings_hash": "sha256:...",
     "executor": {"kind": "local", "workers": 2}
                 | {"kind": "ray", "workers": 2, "ray_version": ..., "address": ..., "gpus_per_actor": 0},
     "inputs": [{"name", "input", "kind", "status", "content_hash", "settings_hash", "settings",
                 "result", "attempts", "error": {"code", "message", "hint"} | null,
                 "timings_s": {...}, "elapsed_s", "frames", "fps"}],
     "totals": {"inputs", "done", "failed", "skipped", "pending", "frames", "elapsed_s", "fps"}}

status: done (processed by this run), skipped (an earlier run's result with the same content hash
and settings is still there), failed (error filled in; redone by the next run), pending (not
finished when the batch stopped, e.g. on Ctrl-C; done by the next run).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from backend.fileio import json_text, write_atomic

MANIFEST = "batch.json"
FORMAT_VERSION = 1
STATUSES = ("done", "skipped", "failed", "pending")


def settings_hash(settings: dict) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def load_previous(out_dir: Path) -> dict[str, dict]:
    """The entries of an earlier batch.json by result name ({} when absent or unreadable)."""
    try:
        data = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
        return {e["name"]: e for e in data.get("inputs", []) if isinstance(e, dict) and "name" in e}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def reusable(previous: dict | None, content: str, settings_digest: str, out_dir: Path) -> bool:
    """An earlier entry whose result can stand: finished, same content and settings, result.json there."""
    return (previous is not None and previous.get("status") in ("done", "skipped")
            and previous.get("content_hash") == content and previous.get("settings_hash") == settings_digest
            and (Path(out_dir) / previous["name"] / "result.json").is_file())


class Manifest:
    """The in-memory manifest; `save()` writes it atomically."""

    def __init__(self, out_dir: Path, settings: dict, executor: dict) -> None:
        self.path = Path(out_dir) / MANIFEST
        self.out_dir = str(Path(out_dir).resolve())
        self.settings = settings
        self.settings_hash = settings_hash(settings)
        self.executor = executor
        self.entries: dict[str, dict] = {}  # by name, in input order

    def add(self, name: str, path: str, kind: str, **fields) -> dict:
        entry = {"name": name, "input": path, "kind": kind, "status": "pending", "content_hash": None,
                 "settings_hash": self.settings_hash, "settings": self.settings,
                 "result": str(Path(self.out_dir) / name), "attempts": 0, "error": None, "timings_s": {},
                 "elapsed_s": None, "frames": None, "fps": None}
        entry.update(fields)
        self.entries[name] = entry
        return entry

    def totals(self) -> dict:
        entries = list(self.entries.values())
        counts = {s: sum(e["status"] == s for e in entries) for s in STATUSES}
        done = [e for e in entries if e["status"] == "done"]
        frames = sum(e["frames"] or 0 for e in done)
        elapsed = sum(e["elapsed_s"] or 0.0 for e in done)
        return {"inputs": len(entries), **counts, "frames": frames, "elapsed_s": round(elapsed, 3),
                "fps": round(frames / elapsed, 3) if elapsed > 0 else None}

    def to_dict(self) -> dict:
        return {"format": FORMAT_VERSION, "kind": "tcmr-batch", "out": self.out_dir,
                "settings": self.settings,
                "settings_hash": self.settings_hash, "executor": self.executor,
                "inputs": list(self.entries.values()), "totals": self.totals()}

    def save(self) -> None:
        text = json_text(self.to_dict())
        write_atomic(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
