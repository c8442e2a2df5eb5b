"""Result cache: the same clip with the same settings and model files re-imports instantly.

Key = sha256 over (video content hash, the settings that change the result, a fingerprint of
the model files, the result format version). Each cached result is a folder
`<cache>/<key[:16]>/` holding the backend's result directory; `index.json` lists them, newest
first, for the panel's "Recent results" list. A folder is only indexed after `result.json`
exists in it (the backend writes it last), so a cancelled run never becomes a hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .datacheck import FILES

RESULT_FORMAT_VERSION = 1
MODEL_FILES = tuple(f.name for f in FILES if f.needed_for_run)  # the files a run reads


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
Progress = Callable[[int], None]  # called with the bytes read since the last call


def file_hash(path: str | os.PathLike, chunk: int = 1 << 20, progress: Progress | None = None) -> str:
    """sha256 of a file's bytes (hex). `progress(n)` after each chunk may raise to stop."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            if progress is not None:
                progress(len(block))
    return h.hexdigest()


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)


def input_size(path: str | os.PathLike) -> int:
    """Bytes `input_hash` reads: the video file, or the images of a folder."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in _images(path))


def input_hash(path: str | os.PathLike, progress: Progress | None = None) -> str:
    """Content hash of a video file, or of an image folder (names + bytes of its images)."""
    path = Path(path)
    if path.is_file():
        return file_hash(path, progress=progress)
    h = hashlib.sha256()
    for item in _images(path):
        h.update(item.name.encode("utf-8") + b"\0" + file_hash(item, progress=progress).encode())
    return h.hexdigest()


def model_fingerprint(data_dir: str | os.PathLike) -> str:
    """Cheap fingerprint of the model files: name, size and modification time of each."""
    data_dir = Path(data_dir)
    parts = []
    for name in MODEL_FILES:
        p = data_dir / name
        try:
            st = p.stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{name}:missing")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def cache_key(video_hash: str, settings: dict, model_fp: str) -> str:
    payload = json.dumps({"video": video_hash, "settings": settings, "models": model_fp,
                          "format": RESULT_FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    key: str
    result_dir: str
    video: str  # the video's path when it was processed (for the list label)
    created: float  # unix time
    settings: dict

    @property
    def label(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created))
        return f"{Path(self.video).name} ({when})"


_FIELDS = ("key", "result_dir", "video", "created", "settings")


class ResultCache:
    """The cache folder and its index (a small JSON file, rewritten atomically)."""

    def __init__(self, root: str | os.PathLike, max_entries: int = 20) -> None:
        self.root = Path(root)
        self.max_entries = max_entries

    @property
    def index_path(self) -> Path:
        return self.root / "index.json"

    def folder_for(self, key: str) -> Path:
        return self.root / key[:16]

    def entries(self) -> list[CacheEntry]:
        """Indexed results whose result.json still exists, newest first."""
        try:
            raw = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        out = []
        for item in raw.get("entries", []) if isinstance(raw, dict) else []:
            try:
                entry = CacheEntry(**{k: item[k] for k in _FIELDS})
            except (KeyError, TypeError):
                continue
            if (Path(entry.result_dir) / "result.json").is_file():
                out.append(entry)
        return sorted(out, key=lambda e: e.created, reverse=True)

    def lookup(self, key: str) -> CacheEntry | None:
        return next((e for e in self.entries() if e.key == key), None)

    def add(self, key: str, result_dir: str | os.PathLike, video: str, settings: dict,
            now: float | None = None) -> CacheEntry:
        result_dir = Path(result_dir)
        if not (result_dir / "result.json").is_file():
            raise FileNotFoundError(f"{result_dir} has no result.json; only finished results are cached")
        created = time.time() if now is None else now
        entry = CacheEntry(key, str(result_dir), str(video), created, dict(settings))
        kept = [e for e in self.entries() if e.key != key]
        entries = [entry, *kept][: self.max_entries]
        self._write(entries)
        return entry

    def _write(self, entries: list[CacheEntry]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.index_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"entries": [asdict(e) for e in entries]}, indent=1), encoding="utf-8")
        os.replace(tmp, self.index_path)
