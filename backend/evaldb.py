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

`read_db` unpickles with an allow-list: numpy's array/scalar/dtype reconstructors, a stand-in
for the joblib wrapper (we read the bytes ourselves, checking shape, order, dtype and length),
OrderedDict and latin-1 bytes. Any other global is refused and named in a DB_INVALID error.
"""

from __future__ import annotations

import bz2
import codecs
import collections
import gzip
import io
import lzma
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from backend.errors import BackendError, Code

OFFICIAL_HINT = ("Use the official preprocessed file (TCMR_RELEASE data/preprocessed_data, e.g. "
                 "3dpw_test_db.pt, h36m_test_25fps_nosmpl_db.pt, mpii3d_val_scale12_db.pt) as downloaded.")

# numpy's own reconstructors, taken from reduce tuples (no deprecated np.core attribute access).
_NP_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]
_NP_SCALAR = np.float64(0).__reduce__()[0]
_NP_FROMBUFFER = np.arange(1).__reduce_ex__(5)[0]  # protocol-5 pickles of arrays (plain pickle.dump)


class _ArrayWrapper:
    """Stand-in for joblib.numpy_pickle.NumpyArrayWrapper: keeps the pickled attributes only."""

    def __setstate__(self, state) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("joblib array wrapper without an attribute dict")
        self.state = state


class _Memmap:
    """Marker for `numpy.memmap` as a wrapper's subclass: read as a plain array."""


def _reconstruct(subclass, shape, dtype):
    if subclass is not np.ndarray:
        raise pickle.UnpicklingError(f"refused to build an array of class {subclass!r}")
    return _NP_RECONSTRUCT(subclass, shape, dtype)


def _reconstructor(cls, base, state):
    """copyreg._reconstructor (protocol 0/1 objects), limited to the joblib wrapper stand-in."""
    if cls is not _ArrayWrapper or base is not object:
        raise pickle.UnpicklingError(f"refused to reconstruct {cls!r}")
    obj = object.__new__(_ArrayWrapper)
    if state is not None:
        obj.__setstate__(state)
    return obj


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _NP_SCALAR,
    ("numpy._core.multiarray", "scalar"): _NP_SCALAR,
    ("numpy.core.numeric", "_frombuffer"): _NP_FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _NP_FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "memmap"): _Memmap,
    ("numpy", "dtype"): np.dtype,
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): _ArrayWrapper,
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"): _ArrayWrapper,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): codecs.encode,  # protocol-2 bytes are stored as encode(str, "latin1")
    ("copyreg", "_reconstructor"): _reconstructor,
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("builtins", "bytes"): bytes,  # protocol 2 writes b"" as bytes()
    ("__builtin__", "bytes"): bytes,
    ("builtins", "object"): object,
    ("__builtin__", "object"): object,
}


class _Refused(pickle.UnpicklingError):
    """A global outside the allow-list: the file wants to build something that is not data."""


class _DbUnpickler(pickle._Unpickler):
    """Pure-Python unpickler (its BUILD opcode can be hooked, as joblib itself does)."""

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file: BinaryIO, size_hint: int | None) -> None:
        super().__init__(file, encoding="latin1")
        self._size_hint = size_hint  # bytes in the (uncompressed) file, to catch absurd shapes early

    def find_class(self, module: str, name: str):
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if module.startswith("joblib.numpy_pickle_compat") or name in ("NDArrayWrapper", "ZNDArrayWrapper"):
            raise _Refused("written by joblib < 0.10 (arrays kept in companion .npy/.z files); "
                           "re-save it with a current joblib")
        raise _Refused(f"refused to load global '{module}.{name}' (only numpy arrays are allowed)")

    def _load_build_hooked(self) -> None:
        pickle._Unpickler.load_build(self)
        if isinstance(self.stack[-1], _ArrayWrapper):
            wrapper = self.stack.pop()
            self.stack.append(self._read_wrapped_array(wrapper.state))

    dispatch[pickle.BUILD[0]] = _load_build_hooked

    def _read_wrapped_array(self, state: dict) -> np.ndarray:
        subclass, shape, order = state.get("subclass"), state.get("shape"), state.get("order", "C")
        dtype = state.get("dtype")
        if subclass not in (np.ndarray, _Memmap):
            raise pickle.UnpicklingError(f"joblib array of unsupported class {subclass!r}")
        if not isinstance(dtype, np.dtype) or order not in ("C", "F"):
            raise pickle.UnpicklingError(f"joblib array with dtype {dtype!r} / order {order!r}")
        if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise pickle.UnpicklingError(f"joblib array with shape {shape!r}")
        if dtype.hasobject:
            # Object arrays (e.g. strings kept as objects) are a nested protocol-2 pickle here.
            nested = _DbUnpickler(_ReadThrough(self), self._size_hint).load()
            if not isinstance(nested, np.ndarray) or nested.shape != shape:
                raise pickle.UnpicklingError(f"object array of shape {getattr(nested, 'shape', '?')}, "
                                             f"expected {shape}")
            return nested
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = self.read(1)
            if len(padding) != 1:
                raise pickle.UnpicklingError("file ends inside a joblib array header")
            self.read(padding[0])
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = count * dtype.itemsize
        if self._size_hint is not None and nbytes > self._size_hint:
            raise pickle.UnpicklingError(f"array of shape {shape} ({nbytes} bytes) is larger than the file")
        data = self.read(nbytes)
        if len(data) != nbytes:
            raise pickle.UnpicklingError(f"file is truncated: array of shape {shape} needs {nbytes} bytes, "
                                         f"{len(data)} left")
        array = np.frombuffer(data, dtype=dtype, count=count).copy()
        array = array.reshape(shape[::-1]).T if order == "F" else array.reshape(shape)
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return array


class _ReadThrough:
    """File view for a nested pickle: reads go through the outer unpickler (frame-aware)."""

    def __init__(self, outer: _DbUnpickler) -> None:
        self.read = outer.read
        self.readline = outer.readline
        self.readinto = outer.readinto


def _open_stream(path: Path) -> tuple[BinaryIO, int | None, str]:
    """Open the file, undoing joblib's whole-file compression: (stream, size or None, kind)."""
    raw = path.open("rb")
    head = raw.read(8)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw), None, "gzip"
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw), None, "bz2"
    if head.startswith(b"\xfd7zXZ\x00") or head.startswith(b"\x5d\x00\x00"):
        return lzma.LZMAFile(raw), None, "xz/lzma"
    if head[:1] == b"\x78" and len(head) > 1 and (head[0] * 256 + head[1]) % 31 == 0:
        with raw:
            data = zlib.decompress(raw.read())
        return io.BytesIO(data), len(data), "zlib"
    labels = {b"ZF": "an old joblib (< 0.10) compressed file", b"PK": "a zip archive (torch.save?)",
              b"\x89HDF": "an HDF5 file (e.g. insta_train_db.h5, a training set)",
              b"\x04\x22\x4d\x18": "an lz4-compressed joblib file", b"\x93NUMPY": "a single .npy array"}
    for magic, label in labels.items():
        if head.startswith(magic):
            raw.close()
            raise BackendError(Code.DB_INVALID, f"{path.name} is {label}, not an evaluation database",
                               OFFICIAL_HINT)
    return raw, path.stat().st_size, "pickle"


def read_db(path: str | Path) -> dict[str, np.ndarray]:
    """Load an official (joblib or pickle) database -> {key: numpy array}. Raises BackendError."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"evaluation database not found: {path}",
                           "Pass the path of a preprocessed database such as data/preprocessed_data/"
                           "3dpw_test_db.pt.")
    stream, size, kind = _open_stream(path)
    try:
        with stream:
            obj = _DbUnpickler(stream, size).load()
    except _Refused as exc:
        raise BackendError(Code.DB_INVALID, f"{path.name}: {exc}; nothing was executed",
                           OFFICIAL_HINT) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            OSError, UnicodeDecodeError, MemoryError, zlib.error, lzma.LZMAError) as exc:
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
    if j3d.ndim != 3 or j3d.shape[0] != n or j3d.shape[1] not in joints or j3d.shape[2] < 3:
        raise BackendError(Code.DB_INVALID, f"{path.name}: 'joints3D' has shape {j3d.shape}, expected "
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
