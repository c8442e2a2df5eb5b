"""Batch inputs: expand the command line into one `Input` per video file or image folder.

An INPUT is a video file, an image folder (holds .png/.jpg frames), a folder of videos and/or image
folders (one level), or a text file listing such paths one a line (`#` comments, blank lines and
paths relative to the list file's folder allowed). Each input gets a unique, stable result name
(its file stem, with `-2`, `-3`... on a clash, in command-line order).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from backend.errors import BackendError, Code
from backend.video import IMAGE_SUFFIXES

LIST_SUFFIXES = (".txt", ".lst", ".list")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Input:
    name: str  # result folder name under --out
    path: str  # absolute path of the video file or image folder
    kind: str  # "video" | "images"


def _has_images(folder: Path) -> bool:
    return any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())


def _read_list(path: Path) -> list[Path]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BackendError(Code.INPUT_UNREADABLE, f"cannot read the input list {path}: {exc}",
                           "Give a UTF-8 text file with one video or image folder per line.") from None
    items = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return [p if p.is_absolute() else path.parent / p for p in map(Path, items)]


def _expand_one(path: Path, depth: int = 0) -> list[tuple[Path, str]]:
    if not path.exists():
        raise BackendError(Code.INPUT_NOT_FOUND, f"input not found: {path}",
                           "Check the path; give video files, image folders, folders of them or a list file.")
    if path.is_dir():
        if _has_images(path):
            return [(path, "images")]
        if depth > 0:
            return []
        found = []
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir():
                found.extend(_expand_one(child, depth + 1))
            elif child.suffix.lower() not in IMAGE_SUFFIXES + LIST_SUFFIXES:
                found.append((child, "video"))
        return found
    if path.suffix.lower() in LIST_SUFFIXES and depth == 0:
        return [item for p in _read_list(path) for item in _expand_one(p, depth=1)]
    return [(path, "video")]


def _safe_name(path: Path) -> str:
    stem = path.stem if path.is_file() else path.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "input"


def expand(inputs: list[str]) -> list[Input]:
    """Command-line INPUTs -> unique Inputs in order (a path given twice counts once)."""
    seen: set[str] = set()
    names: set[str] = set()
    result = []
    for raw in inputs:
        for path, kind in _expand_one(Path(raw)):
            absolute = str(path.resolve())
            if absolute in seen:
                continue
            seen.add(absolute)
            base = name = _safe_name(path)
            n = 2
            while name.lower() in names or name.lower() == "batch.json":
                name, n = f"{base}-{n}", n + 1
            names.add(name.lower())
            result.append(Input(name, absolute, kind))
    if not result:
        raise BackendError(Code.INPUT_NOT_FOUND, f"no video or image folder found in {' '.join(inputs)}",
                           "Give video files, image folders, a folder of them, or a text file listing them.")
    return result


def content_hash(item: Input) -> str:
    """sha256 of the video's bytes, or of an image folder's frame names and bytes (sorted)."""
    digest = hashlib.sha256()
    path = Path(item.path)
    files = [path] if item.kind == "video" else sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    try:
        for f in files:
            if item.kind == "images":
                digest.update(f.name.encode() + b"\0")
            with open(f, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
    except OSError as exc:
        raise BackendError(Code.INPUT_UNREADABLE, f"cannot read {path}: {exc}",
                           "Check the file's permissions.") from None
    return "sha256:" + digest.hexdigest()
