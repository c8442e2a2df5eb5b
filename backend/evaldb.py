"""Reads the official preprocessed evaluation databases (`3dpw_test_db.pt`, `h36m_*_db.pt`,
`mpii3d_*_db.pt`) safely: no pickled code ever runs.

The official files are written by `joblib.dump(dict_of_numpy_arrays, path)` (docs/tcmr_facts.md,
Databases). joblib's format is a pickle stream in which each numpy array is replaced by a
`joblib.numpy_pickle.NumpyArrayWrapper` object (subclass, shape, order, dtype, allow_mmap and,
since joblib 1.2, numpy_array_alignment_bytes) whose raw bytes follow right after the wrapper's
BUILD opcode: one padding-length byte plus that many 0xff bytes when the alignment field is
set, then the C- or F-ordered data. Arrays of Python objects are instead written as a nested
protocol-2 pickle at that place. A whole joblib file may be zlib/gzip/bz2/xz/lzma compressed.
A plain `pickle.dump` of the same dict (numpy arrays pickled normally) is read too.

`read_db` unpickles with the product's one restricted, bounded unpickler
(`backend.safe_pickle`): numpy's array/scalar/dtype reconstructors, a stand-in for the joblib
wrapper (whose bytes it reads itself, checking shape, order, dtype and length), OrderedDict and
latin-1 bytes. Any other global is refused and named in a DB_INVALID error. Sizes are bounded
before anything is allocated: an uncompressed file by its own size, a compressed one by
`safe_pickle.expanded_budget` (at most 64x its size, 4 GiB in all), objects and nesting by
`safe_pickle.DB_LIMITS`.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import io
import lzma
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from backend import safe_pickle
from backend.errors import BackendError, Code

OFFICIAL_HINT = ("Use the official preprocessed file (TCMR_RELEASE data/preprocessed_data, e.g. "
                 "3dpw_test_db.pt, h36m_test_25fps_nosmpl_db.pt, mpii3d_val_scale12_db.pt) as downloaded.")


def _open_stream(path: Path) -> tuple[BinaryIO, int, str]:
    """Open the file, undoing joblib's whole-file compression: (stream, byte budget, kind)."""
    raw = path.open("rb")
    head = raw.read(8)
    raw.seek(0)
    size = path.stat().st_size
    budget = safe_pickle.expanded_budget(size, safe_pickle.DB_LIMITS)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw), budget, "gzip"
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw), budget, "bz2"
    if head.startswith(b"\xfd7zXZ\x00") or head.startswith(b"\x5d\x00\x00"):
        return lzma.LZMAFile(raw), budget, "xz/lzma"
    if head[:1] == b"\x78" and len(head) > 1 and (head[0] * 256 + head[1]) % 31 == 0:
        return _ZlibStream(raw), budget, "zlib"
    labels = {b"ZF": "an old joblib (< 0.10) compressed file", b"PK": "a zip archive (torch.save?)",
              b"\x89HDF": "an HDF5 file (e.g. insta_train_db.h5, a training set)",
              b"\x04\x22\x4d\x18": "an lz4-compressed joblib file", b"\x93NUMPY": "a single .npy array"}
    for magic, label in labels.items():
        if head.startswith(magic):
            raw.close()
            raise BackendError(Code.DB_INVALID, f"{path.name} is {label}, not an evaluation database",
                               OFFICIAL_HINT)
    return raw, min(size, safe_pickle.DB_LIMITS.max_bytes), "pickle"


class _ZlibStream(io.RawIOBase):
    """Streaming zlib decompression (joblib's "zlib" compression), read in pieces so a bomb
    stops at the byte budget instead of expanding in memory at once."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self.raw, self.inflate, self.pending = raw, zlib.decompressobj(), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        while not self.pending and not self.inflate.eof:
            data = self.inflate.unconsumed_tail or self.raw.read(1 << 16)
            if not data:
                self.pending = self.inflate.flush()
                break
            self.pending = self.inflate.decompress(data, 1 << 20)
        n = min(len(buf), len(self.pending))
        buf[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def read_db(path: str | Path) -> dict[str, np.ndarray]:
    """Load an official (joblib or pickle) database -> {key: numpy array}. Raises BackendError."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"evaluation database not found: {path}",
                           "Pass the path of a preprocessed database such as data/preprocessed_data/"
                           "3dpw_test_db.pt.")
    stream, budget, kind = _open_stream(path)
    limits = dataclasses.replace(safe_pickle.DB_LIMITS, max_bytes=budget)
    try:
        with stream:
            obj = safe_pickle.load(io.BufferedReader(stream) if kind == "zlib" else stream, limits,
                                   "an evaluation database")
    except safe_pickle.Refused as exc:
        raise BackendError(Code.DB_INVALID, f"{path.name}: {exc}; nothing was executed",
                           OFFICIAL_HINT) from None
    except safe_pickle.OverLimit as exc:
        raise BackendError(Code.DB_INVALID, f"{path.name} ({kind}): {exc}; nothing was executed",
                           OFFICIAL_HINT) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            OSError, UnicodeDecodeError, MemoryError, RecursionError, OverflowError, zlib.error,
            lzma.LZMAError) as exc:
        raise BackendError(Code.DB_INVALID, f"{path.name} is not a readable joblib/pickle database ({kind}): "
                                            f"{type(exc).__name__}: {exc}", OFFICIAL_HINT) from None
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise BackendError(Code.DB_INVALID, f"{path.name} holds a {type(obj).__name__}, not a dict of arrays",
                           OFFICIAL_HINT)
    out = {}
    for key, value in obj.items():
        if isinstance(value, list | tuple):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray):
            raise BackendError(Code.DB_INVALID, f"{path.name}: '{key}' is a {type(value).__name__}, "
                                                "not an array", OFFICIAL_HINT)
        out[key] = value
    return out


# --------------------------------------------------------------------------------------------------
# Layout: which keys each benchmark needs, and the per-sequence split
# --------------------------------------------------------------------------------------------------
DATASETS = ("3dpw", "h36m", "mpii3d")


@dataclass(frozen=True)
class Sequence:
    """One evaluation sequence: the DB rows (after `valid` filtering) of one vid_name, in row order."""

    name: str
    rows: np.ndarray  # (F,) int64 row indices into the database
    num_rows: int  # rows with this vid_name before the valid filter


def detect_dataset(path: Path, db: dict[str, np.ndarray]) -> str:
    """'3dpw' | 'h36m' | 'mpii3d' from the file name (official names), else from the keys."""
    name = path.name.lower()
    for dataset in DATASETS:
        if dataset in name:
            return dataset
    if "valid_i" in db:
        return "mpii3d"
    raise BackendError(Code.BAD_ARGUMENT, f"cannot tell which benchmark {path.name} belongs to",
                       "Pass --dataset 3dpw, h36m or mpii3d.")


def validate_db(path: Path, db: dict[str, np.ndarray], dataset: str) -> int:
    """Check the keys and shapes the protocol reads (docs/tcmr_facts.md); returns N rows."""
    need = ["vid_name", "features", "joints3D"]
    if dataset == "3dpw":
        need += ["pose", "shape"]
    if dataset == "mpii3d":
        need += ["valid_i"]
    missing = [k for k in need if k not in db]
    if missing:
        raise BackendError(Code.DB_INVALID, f"{path.name} has no key(s) {', '.join(missing)} "
                                            f"(keys: {', '.join(sorted(db))}), needed for {dataset}",
                           OFFICIAL_HINT + " Or pass the right --dataset.")
    n = len(db["vid_name"])
    joints = {"3dpw": (14, 49), "h36m": (14, 49), "mpii3d": (49,)}[dataset]
    expect = {"vid_name": ((n,), None), "features": ((n, 2048), "float"), "pose": ((n, 72), "float"),
              "shape": ((n, 10), "float"), "valid": ((n,), None), "valid_i": ((n,), None)}
    for key, (shape, kind) in expect.items():
        if key not in db:
            continue
        value = db[key]
        if key in ("valid", "valid_i") and value.ndim == 2 and value.shape[1] == 1:
            value = value[:, 0]  # MPI-INF-3DHP stores valid_i as (N, 1)
        if value.shape != shape or (kind == "float" and not np.issubdtype(value.dtype, np.floating)):
            raise BackendError(Code.DB_INVALID, f"{path.name}: '{key}' has shape {value.shape} "
                                                f"({value.dtype}), expected {shape}", OFFICIAL_HINT)
    j3d = db["joints3D"]
    if (not np.issubdtype(j3d.dtype, np.floating) or j3d.ndim != 3 or j3d.shape[0] != n
            or j3d.shape[1] not in joints or j3d.shape[2] < 3):
        raise BackendError(Code.DB_INVALID, f"{path.name}: 'joints3D' has shape {j3d.shape} ({j3d.dtype}), "
                                            f"expected floats of shape "
                                            f"({n}, {' or '.join(map(str, joints))}, 3) for {dataset}",
                           OFFICIAL_HINT)
    for key in ("features", "joints3D", "pose", "shape"):
        if key in db and not np.isfinite(db[key]).all():
            raise BackendError(Code.DB_INVALID, f"{path.name}: '{key}' holds NaN or infinite values",
                               OFFICIAL_HINT)
    return n


def split_sequences(db: dict[str, np.ndarray]) -> list[Sequence]:
    """Official grouping (evaluate.py): sorted unique vid_name, rows with that name in row order,
    rows with `valid == 0` dropped when the key exists (`valid_i` of MPI-INF-3DHP is a later mask)."""
    names = np.asarray(db["vid_name"])
    if names.dtype.kind == "S":
        names = np.char.decode(names, "latin1")
    names = names.astype(str)
    valid = np.asarray(db["valid"]).reshape(-1).astype(bool) if "valid" in db else np.ones(len(names), bool)
    sequences = []
    for name in np.unique(names):
        mask = names == name
        rows = np.flatnonzero(mask & valid)
        sequences.append(Sequence(name=str(name), rows=rows.astype(np.int64), num_rows=int(mask.sum())))
    return sequences
