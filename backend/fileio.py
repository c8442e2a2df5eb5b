"""Output files that readers never see half-written, and JSON from numpy-bearing values.

The one place for both conventions: results (result.json), `regress` outputs, evaluation
reports and protocol lines all go through here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from backend.errors import BackendError, Code

_WRITE_HINT = "Choose an --out path in a folder you can write to, with free space."


def npz_output(text: str, example: str) -> Path:
    """An `--out FILE.npz` argument -> its path; BAD_ARGUMENT / OUTPUT_UNWRITABLE (hint: `example`)
    for another suffix or an existing folder, before any work starts."""
    out = Path(text).expanduser()
    if out.suffix != ".npz":
        raise BackendError(Code.BAD_ARGUMENT, f"--out must end in .npz, got {out.name}",
                           f"Use e.g. --out {example}.")
    if out.is_dir():
        raise BackendError(Code.OUTPUT_UNWRITABLE, f"--out {out} is a folder",
                           "Give a file name ending in .npz.")
    return out


def write_atomic(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Call `write(tmp)` for a temporary file beside `path`, then rename it over `path`.

    `suffix` ends the temporary name (np.savez appends ".npz" to names without it). Any OS
    failure becomes OUTPUT_UNWRITABLE and the temporary file is removed.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot create the folder {path.parent}: {exc}",
                           _WRITE_HINT) from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot write {path}: {exc}", _WRITE_HINT) from None
    finally:
        tmp.unlink(missing_ok=True)


def to_json(value):
    """Plain JSON types from nested dicts/lists holding numpy scalars/arrays, paths or enums;
    non-finite floats become null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, np.generic):
        return to_json(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def json_text(value, indent: int | None = 1) -> str:
    """One JSON document ending in a newline (compact on one line when indent is None)."""
    return json.dumps(to_json(value), indent=indent) + "\n"
