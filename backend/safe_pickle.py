"""The one restricted, bounded unpickler for the pickled files the product reads.

Used by the SMPL model reader of the backend (`backend.smpl_file`), the evaluation-database
reader (`backend.evaldb`) and the add-on's SMPL reader (`addon/core/smpl_model.py`). Standard
library + numpy only, and no import of anything else in `backend`: the add-on (Blender's
Python, no torch, never `import backend`) loads this very file from the bundled `backend/`
folder by its path (`backend/` sits beside the add-on's files in the built extension, and beside
`addon/` in a checkout). There is no second copy.

No code execution: `find_class` resolves only the allow-list `_GLOBALS` (numpy's array, scalar
and dtype reconstructors, each wrapped so that its arguments are checked first; latin-1 bytes;
`set`/`frozenset`/`OrderedDict`) plus inert stand-ins for chumpy classes, scipy's csc/csr
matrices and joblib's NumpyArrayWrapper, which only keep their pickled state. Every other global
is refused by name (`Refused`) before anything could call it; object-building opcodes
(NEWOBJ, INST, OBJ, copyreg._reconstructor) accept only the stand-ins.

Bounded (`Limits`, `OverLimit`), checked before anything is allocated:
  * bytes read from the (decompressed) stream: every read asks the budget first, so a length
    field that claims gigabytes is refused without allocating them;
  * opcodes executed (bounds the number of objects);
  * each array: dtype plain (no sub-array/structured), itemsize, and shape x itemsize, checked
    against the data that is actually present before numpy builds it;
  * the loaded object tree: nodes (shared references counted each time they are reached, which
    stops "billion laughs" nests) and depth (which stops self-references) before any reader walks
    or converts it.
"""

from __future__ import annotations

import codecs
import collections
import io
import math
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

MIB = 1 << 20
GIB = 1 << 30


class Rejected(pickle.UnpicklingError):
    """The file was not loaded: `Refused` (would build something that is not data) or
    `OverLimit` (larger or deeper than the format allows). Nothing in it was executed."""


class Refused(Rejected):
    """A global or an object construction outside the allow-list."""


class OverLimit(Rejected):
    """A size, count or depth beyond the bounds of the format being read."""


@dataclass(frozen=True)
class Limits:
    """Bounds for one file format (see the module docstring)."""

    max_bytes: int  # bytes read from the (decompressed) stream
    max_array_bytes: int  # one array's data
    max_opcodes: int  # pickle opcodes executed (>= objects created)
    max_nodes: int  # objects in the loaded tree, shared references counted each time
    max_depth: int  # containers nested in each other
    max_itemsize: int = 4096  # bytes per array element ('U1024' strings at most)


# The official SMPL pkl is ~40 MB (posedirs 6890x3x207 f64 = 34 MB is its largest array; a
# 300-beta shapedirs is 50 MB); a few hundred objects, nested < 10 deep.
SMPL_LIMITS = Limits(max_bytes=512 * MIB, max_array_bytes=128 * MIB, max_opcodes=200_000,
                     max_nodes=200_000, max_depth=24)
# The official evaluation databases are uncompressed joblib dumps well under 2 GB (3DPW test:
# ~35k rows, its largest array the (N,2048) float32 features ~0.3 GB); the string arrays
# (vid_name, img_name) are one object per row.
DB_LIMITS = Limits(max_bytes=4 * GIB, max_array_bytes=2 * GIB, max_opcodes=20_000_000,
                   max_nodes=5_000_000, max_depth=24)
# A compressed file may expand to at most this many times its size (real float data compresses
# by 1.1-3x; a bomb by 1000x), with a floor for tiny files.
MAX_EXPANSION = 64
MIN_EXPANDED_BYTES = 64 * MIB


def expanded_budget(compressed_size: int, limits: Limits) -> int:
    """Decompressed bytes allowed for a compressed file of `compressed_size` bytes."""
    return min(limits.max_bytes, max(MIN_EXPANDED_BYTES, MAX_EXPANSION * compressed_size))


# --------------------------------------------------------------------------------------------------
# Stand-ins and checked reconstructors (the allow-list)
# --------------------------------------------------------------------------------------------------
class Kept:
    """Stand-in for a chumpy / scipy sparse object: `source` is the class path, `state` the
    pickled state (a chumpy Ch keeps its array in state["x"])."""

    source = ""

    def __setstate__(self, state) -> None:
        self.state = state


class JoblibArray:
    """Stand-in for joblib.numpy_pickle.NumpyArrayWrapper; replaced by the array it announces."""

    def __setstate__(self, state) -> None:
        if not isinstance(state, dict):
            raise Refused("joblib array wrapper without an attribute dict")
        self.state = state


class _NdarrayClass:
    """What the global `numpy.ndarray` resolves to: usable only as the class argument of the
    reconstructors below (calling numpy.ndarray(shape) would allocate an unchecked array)."""


class _MemmapClass:
    """`numpy.memmap` as a joblib wrapper's subclass: read as a plain array."""


_KEPT_CLASSES: dict[str, type] = {}


def _kept_class(source: str) -> type:
    if source not in _KEPT_CLASSES:
        _KEPT_CLASSES[source] = type("Kept_" + source.replace(".", "_"), (Kept,), {"source": source})
    return _KEPT_CLASSES[source]


def _stand_in(cls) -> bool:
    return isinstance(cls, type) and (issubclass(cls, Kept | JoblibArray) or cls is collections.OrderedDict)


def check_dtype(dtype, limits: Limits) -> np.dtype:
    if not isinstance(dtype, np.dtype):
        raise Refused(f"an array dtype must be a numpy dtype, got {type(dtype).__name__}")
    if dtype.subdtype is not None or dtype.fields is not None or dtype.kind == "V" or dtype.itemsize == 0:
        raise Refused(f"dtype {dtype!r} (structured, sub-array, void or zero-size) is not used by these "
                      "files")
    if dtype.itemsize > limits.max_itemsize:
        raise OverLimit(f"dtype {dtype} has {dtype.itemsize} bytes per element (at most "
                        f"{limits.max_itemsize})")
    return dtype


def _count(shape, limits: Limits, dtype: np.dtype) -> int:
    """Elements of `shape` after checking it is a tuple of ints and fits max_array_bytes."""
    ints = isinstance(shape, tuple) and len(shape) <= 32 and all(isinstance(s, int) and s >= 0 for s in shape)
    if not ints:
        raise Refused(f"array shape {shape!r} is not a tuple of non-negative ints")
    count = math.prod(shape)
    if count * max(dtype.itemsize, 1) > limits.max_array_bytes:
        raise OverLimit(f"array of shape {shape} ({dtype}) is larger than {limits.max_array_bytes} bytes")
    return count


def _np_reconstructor(limits: Limits):
    real = np.ndarray((0,)).__reduce__()[0]  # numpy's _reconstruct, without touching np.core

    def reconstruct(cls, shape, dtype_code):
        if cls is not _NdarrayClass:
            raise Refused(f"refused to reconstruct an array of class {cls!r}")
        code = np.dtype(dtype_code) if isinstance(dtype_code, str | bytes) else dtype_code
        dtype = check_dtype(code, limits)
        _count(shape, limits, dtype)
        return real(np.ndarray, shape, dtype)

    return reconstruct


def _np_scalar(limits: Limits):
    real = np.float64(0).__reduce__()[0]

    def scalar(dtype, data=None):
        check_dtype(dtype, limits)
        if dtype.hasobject:
            return real(dtype, data)
        if not isinstance(data, bytes | str) or len(data) != dtype.itemsize:
            raise Refused(f"numpy scalar of {dtype} with {type(data).__name__} data")
        return real(dtype, data)

    return scalar


def _np_frombuffer(limits: Limits):
    real = np.arange(1).__reduce_ex__(5)[0]  # protocol-5 pickles of arrays

    def frombuffer(buf, dtype, shape, order):
        check_dtype(dtype, limits)
        count = _count(shape, limits, dtype)
        if not isinstance(buf, bytes | bytearray) or len(buf) != count * dtype.itemsize or order not in "CFA":
            raise Refused(f"numpy buffer of {type(buf).__name__} does not match shape {shape} {dtype}")
        return real(buf, dtype, shape, order)

    return frombuffer


def _np_dtype(spec, align=False, copy=True):
    if not isinstance(spec, str | bytes):
        raise Refused(f"numpy dtype from {type(spec).__name__}")
    return np.dtype(spec, bool(align), True)  # copy=True: BUILD must never edit numpy's own dtypes


def _latin1(text="", encoding="latin1", errors="strict"):
    """_codecs.encode as protocol-2 pickles use it for bytes: str -> latin-1 bytes only."""
    if not isinstance(text, str) or str(encoding).lower() not in ("latin1", "latin-1") or errors != "strict":
        raise Refused(f"_codecs.encode only as latin-1 bytes, got encoding {encoding!r}")
    return codecs.encode(text, "latin1")


def _bytes(data=b""):
    if not isinstance(data, bytes | bytearray):
        raise Refused(f"bytes() of {type(data).__name__}")
    return bytes(data)


def _reconstructor(cls, base, state):
    """copyreg._reconstructor (protocol 0-2 objects), limited to the stand-ins on `object`."""
    if not (isinstance(cls, type) and issubclass(cls, Kept | JoblibArray)) or base is not object:
        raise Refused(f"refused to reconstruct {cls!r} from {base!r}")
    obj = object.__new__(cls)
    if state is not None:
        obj.__setstate__(state)
    return obj


def _globals(limits: Limits) -> dict[tuple[str, str], object]:
    table: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): _NdarrayClass,
        ("numpy", "memmap"): _MemmapClass,
        ("numpy", "dtype"): _np_dtype,
        ("joblib.numpy_pickle", "NumpyArrayWrapper"): JoblibArray,
        ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"): JoblibArray,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _latin1,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = _np_reconstructor(limits)
        table[(f"{core}.multiarray", "scalar")] = _np_scalar(limits)
        table[(f"{core}.numeric", "_frombuffer")] = _np_frombuffer(limits)
    for builtins in ("builtins", "__builtin__"):
        table[(builtins, "object")] = object
        table[(builtins, "set")] = set
        table[(builtins, "frozenset")] = frozenset
        table[(builtins, "bytes")] = _bytes
    for copyreg in ("copyreg", "copy_reg"):
        table[(copyreg, "_reconstructor")] = _reconstructor
    return table


# --------------------------------------------------------------------------------------------------
# The bounded stream and unpickler
# --------------------------------------------------------------------------------------------------
class _Budget:
    """File view that refuses any read beyond `limit` bytes in total, before reading."""

    def __init__(self, file: BinaryIO, limit: int) -> None:
        self.file, self.left, self.limit = file, limit, limit

    def _take(self, n: int) -> None:
        if n > self.left:
            raise OverLimit(f"the file asks for more than {self.limit} bytes of data "
                            "(larger than any official file of this kind)")

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.left + 1
        self._take(n)
        data = self.file.read(n)
        self.left -= len(data)
        return data

    def readinto(self, buf) -> int:
        self._take(len(buf))
        n = self.file.readinto(buf)
        self.left -= n
        return n

    def readline(self) -> bytes:
        line = self.file.readline(min(self.left, 1 << 16) + 1)
        self._take(len(line))
        self.left -= len(line)
        return line


class _ReadThrough:
    """File view for a nested pickle (joblib object arrays): reads go through the outer unpickler."""

    def __init__(self, outer: BoundedUnpickler) -> None:
        self.read, self.readinto, self._readline = outer.read, outer.readinto, outer.readline

    def readline(self, size: int = -1) -> bytes:  # the outer stream's budget applies
        return self._readline()


def _counted(op: Callable) -> Callable:
    def run(self) -> None:
        self.ops[0] += 1
        if self.ops[0] > self.limits.max_opcodes:
            raise OverLimit(f"more than {self.limits.max_opcodes} pickle operations")
        op(self)

    return run


class BoundedUnpickler(pickle._Unpickler):
    """Pure-Python unpickler (its opcodes can be hooked) with the allow-list and the bounds."""

    dispatch = {code: _counted(op) for code, op in pickle._Unpickler.dispatch.items()}

    def __init__(self, file: BinaryIO, limits: Limits, what: str = "this file",
                 ops: list[int] | None = None) -> None:
        self.budget = _Budget(file, limits.max_bytes)
        super().__init__(self.budget, encoding="latin1")
        self.limits, self.what = limits, what
        self.ops = ops if ops is not None else [0]  # shared with nested pickles
        self._table = _globals(limits)

    def find_class(self, module: str, name: str):
        key = (module, name)
        if key in self._table:
            return self._table[key]
        if module == "chumpy" or module.startswith("chumpy."):
            return _kept_class(f"{module}.{name}")
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix"):
            return _kept_class(f"{module}.{name}")
        if module.startswith("joblib.numpy_pickle_compat") or name in ("NDArrayWrapper", "ZNDArrayWrapper"):
            raise Refused("written by joblib < 0.10 (arrays kept in companion .npy/.z files); "
                          "re-save it with a current joblib")
        raise Refused(f"refused global '{module}.{name}' (not allowed in {self.what})")

    def _instantiate(self, klass, args) -> None:  # INST / OBJ
        if not _stand_in(klass):
            raise Refused(f"refused to instantiate {klass!r}")
        super()._instantiate(klass, args)

    def _load_newobj(self) -> None:
        if not _stand_in(self.stack[-2]):
            raise Refused(f"refused to create {self.stack[-2]!r}")
        pickle._Unpickler.load_newobj(self)

    def _load_newobj_ex(self) -> None:
        if not _stand_in(self.stack[-3]):
            raise Refused(f"refused to create {self.stack[-3]!r}")
        pickle._Unpickler.load_newobj_ex(self)

    def _load_build(self) -> None:
        target = self.stack[-2]
        if not isinstance(target, np.ndarray | np.dtype | Kept | JoblibArray):
            raise Refused(f"refused to set the state of {type(target).__name__} (only arrays and stand-ins)")
        if isinstance(target, np.ndarray):
            _check_array_state(self.stack[-1], self.limits)
        pickle._Unpickler.load_build(self)
        top = self.stack[-1]
        if isinstance(top, np.dtype):
            check_dtype(top, self.limits)
        elif isinstance(top, JoblibArray):
            self.stack[-1] = self._joblib_array(top.state)

    dispatch[pickle.NEWOBJ[0]] = _counted(_load_newobj)
    dispatch[pickle.NEWOBJ_EX[0]] = _counted(_load_newobj_ex)
    dispatch[pickle.BUILD[0]] = _counted(_load_build)

    def _joblib_array(self, state: dict) -> np.ndarray:
        """The data announced by a joblib wrapper follows its BUILD opcode in the stream."""
        cls, shape, order, dtype = state.get("subclass"), state.get("shape"), state.get("order", "C"), \
            state.get("dtype")
        if cls not in (_NdarrayClass, _MemmapClass):
            raise Refused(f"joblib array of unsupported class {cls!r}")
        if order not in ("C", "F"):
            raise Refused(f"joblib array with order {order!r}")
        check_dtype(dtype, self.limits)
        count = _count(shape, self.limits, dtype)
        if dtype.hasobject:  # object arrays are a nested protocol-2 pickle at this place
            nested = BoundedUnpickler(_ReadThrough(self), self.limits, self.what, self.ops).load()
            if not isinstance(nested, np.ndarray) or nested.shape != shape:
                raise Refused(f"object array of shape {getattr(nested, 'shape', '?')}, expected {shape}")
            return nested
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = self.read(1)
            if len(padding) != 1:
                raise pickle.UnpicklingError("file ends inside a joblib array header")
            self.read(padding[0])
        nbytes = count * dtype.itemsize
        data = self.read(nbytes)
        if len(data) != nbytes:
            raise pickle.UnpicklingError(f"file is truncated: array of shape {shape} needs {nbytes} bytes, "
                                         f"{len(data)} left")
        array = np.frombuffer(data, dtype=dtype, count=count).copy()
        array = array.reshape(shape[::-1]).T if order == "F" else array.reshape(shape)
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return array


def _check_array_state(state, limits: Limits) -> None:
    """ndarray.__setstate__'s argument: (version,) shape, dtype, fortran, data with matching size."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise Refused("numpy array state is not (version, shape, dtype, fortran, data)")
    shape, dtype, _, data = state[-4:]
    check_dtype(dtype, limits)
    count = _count(shape, limits, dtype)
    if dtype.hasobject:
        ok = isinstance(data, list) and len(data) == count
    else:
        ok = isinstance(data, bytes | bytearray | str) and len(data) == count * dtype.itemsize
    if not ok:
        raise Refused(f"numpy array of shape {shape} {dtype} with {type(data).__name__} data of another size")


# --------------------------------------------------------------------------------------------------
# Loading and the tree check
# --------------------------------------------------------------------------------------------------
_LEAVES = (str, bytes, bytearray, int, float, complex, bool, type(None), np.generic, np.dtype)


def _children(value) -> list | None:
    """The objects inside a container (None for a leaf); anything that is not data is refused."""
    if isinstance(value, _LEAVES):
        return None
    if isinstance(value, np.ndarray):
        return value.ravel().tolist() if value.dtype.hasobject else None
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    if isinstance(value, Kept):
        return [getattr(value, "state", None)]
    raise Refused(f"the file holds a {type(value).__name__}, which is not data")


def check_tree(obj, limits: Limits) -> None:
    """Refuse the loaded object when, with every shared reference expanded as a reader would walk
    it, it has more than max_nodes nodes ("billion laughs") or is nested deeper than max_depth, or
    when an object contains itself. Iterative post-order walk with the expanded size of each
    container memoised by identity, so the cost is that of the objects actually in memory."""
    size: dict[int, int] = {}
    kids_of: dict[int, list] = {}
    on_path: set[int] = set()  # ids of the containers being walked: the current node's ancestors
    stack = [(obj, False)]
    while stack:
        value, finished = stack.pop()
        key = id(value)
        if finished:
            size[key] = 1 + sum(size.get(id(k), 1) for k in kids_of.pop(key))
            on_path.discard(key)
            if size[key] > limits.max_nodes:
                raise OverLimit(f"more than {limits.max_nodes} objects once shared references are "
                                "expanded (a 'billion laughs' nest?)")
            continue
        if key in size:
            continue
        if key in on_path:
            raise OverLimit("an object that contains itself (a reader would never finish walking it)")
        kids = _children(value)
        if kids is None:
            continue
        if len(on_path) >= limits.max_depth:
            raise OverLimit(f"objects nested deeper than {limits.max_depth} levels")
        if len(size) + len(on_path) > limits.max_nodes:
            raise OverLimit(f"more than {limits.max_nodes} objects")
        on_path.add(key)
        kids_of[key] = kids
        stack.append((value, True))
        stack.extend((k, False) for k in kids if not isinstance(k, _LEAVES))


def load(file: BinaryIO, limits: Limits, what: str = "this file"):
    """Unpickle `file` (binary stream) within `limits` and check the tree. Raises Rejected,
    pickle.UnpicklingError, EOFError, ValueError, TypeError... for malformed input (readers map
    all of these to their own coded error)."""
    try:
        obj = BoundedUnpickler(file, limits, what).load()
    except struct.error as exc:  # a length field cut off by the end of the file
        raise pickle.UnpicklingError(f"the file ends inside a pickle opcode ({exc})") from None
    check_tree(obj, limits)
    return obj


def loads(data: bytes, limits: Limits, what: str = "this file"):
    return load(io.BytesIO(data), limits, what)


# --------------------------------------------------------------------------------------------------
# The official SMPL model pickle (both SMPL readers)
# --------------------------------------------------------------------------------------------------
NUM_JOINTS = 24
NUM_VERTS = 6890
NUM_FACES = 13776
NUM_POSE_BASIS = 207  # 23 joints x 9 entries of (R - I)
NUM_BETAS = 10  # TCMR regresses 10 betas; files with 300 shape dirs use the first 10
# SMPL kinematic tree: the parent of each joint, -1 for the pelvis (written once for the backend;
# the add-on's copy addon/core/skeleton.PARENTS is pinned equal by tests/test_contract_result.py).
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
SMPL_SHAPES = {
    "v_template": (NUM_VERTS, 3), "posedirs": (NUM_VERTS, 3, NUM_POSE_BASIS),
    "J_regressor": (NUM_JOINTS, NUM_VERTS), "weights": (NUM_VERTS, NUM_JOINTS), "f": (NUM_FACES, 3),
    "kintree_table": (2, NUM_JOINTS),
}
SMPL_KEYS = (*SMPL_SHAPES, "shapedirs")


class SmplLayoutError(ValueError):
    """Readable pickle, wrong content. kind: "missing" (keys), "shape" (e.g. SMPL-X) or "content"."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _densify(kept: Kept, key: str, shape: tuple[int, int]) -> np.ndarray:
    """A scipy csc/csr stand-in -> dense float64 `shape`, every field checked before allocating."""
    state = getattr(kept, "state", None)
    state = state if isinstance(state, dict) else {}
    stored = state.get("_shape", state.get("shape"))
    if tuple(int(s) for s in stored or ()) != shape:
        raise SmplLayoutError(f"'{key}' is a sparse matrix of shape {stored}, expected {shape}", "shape")
    parts = [state.get(k) for k in ("data", "indices", "indptr")]
    if not all(isinstance(p, np.ndarray) and p.ndim == 1 for p in parts):
        raise SmplLayoutError(f"'{key}' is a sparse matrix without 1-D data/indices/indptr", "content")
    data, indices, indptr = parts[0].astype(np.float64), parts[1].astype(np.int64), parts[2].astype(np.int64)
    by_rows = kept.source.endswith("csr_matrix")
    majors, minors = (shape[0], shape[1]) if by_rows else (shape[1], shape[0])
    if (len(indptr) != majors + 1 or indptr[0] != 0 or (np.diff(indptr) < 0).any()
            or indptr[-1] != len(indices) or len(indices) != len(data)
            or (len(indices) and (indices.min() < 0 or indices.max() >= minors))):
        raise SmplLayoutError(f"'{key}' is a malformed sparse matrix (indptr/indices out of range)",
                              "content")
    major = np.repeat(np.arange(majors), np.diff(indptr))
    dense = np.zeros(shape, dtype=np.float64)
    if by_rows:
        dense[major, indices] = data
    else:
        dense[indices, major] = data
    return dense


def _plain_array(value, key: str) -> np.ndarray:
    """An ndarray, a chumpy stand-in (its state["x"], followed a few levels) or a sparse stand-in."""
    for _ in range(8):
        if not (isinstance(value, Kept) and value.source.startswith("chumpy")):
            break
        state = getattr(value, "state", None)
        if not isinstance(state, dict) or "x" not in state:
            raise SmplLayoutError(f"'{key}' is a chumpy object without a stored value", "content")
        value = state["x"]
    if isinstance(value, Kept) and value.source.startswith("scipy"):
        return _densify(value, key, SMPL_SHAPES.get(key, (NUM_JOINTS, NUM_VERTS)))
    if not isinstance(value, np.ndarray) or value.dtype.hasobject:
        raise SmplLayoutError(f"'{key}' holds {type(value).__name__}, not an array", "content")
    return value


def read_smpl_arrays(data: bytes) -> dict[str, np.ndarray]:
    """An official SMPL pkl's bytes -> the arrays the product uses, validated:
    v_template (V,3) f64 | shapedirs (V,3,10) f64 | posedirs (V,3,207) f64 | J_regressor (24,V) f64
    weights (V,24) f64 | faces (13776,3) int64 | parents (24,) int64, -1 for the root.
    Raises Rejected / pickle errors (unreadable) or SmplLayoutError (wrong content)."""
    raw = loads(data, SMPL_LIMITS, "an SMPL model file")
    if not isinstance(raw, dict):
        raise SmplLayoutError(f"top level is a {type(raw).__name__}, not a dict", "content")
    missing = [k for k in SMPL_KEYS if k not in raw]
    if missing:
        raise SmplLayoutError(f"has no key(s) {', '.join(missing)}: not an SMPL model file", "missing")
    arrays = {k: _plain_array(raw[k], k) for k in SMPL_KEYS}
    for key, shape in SMPL_SHAPES.items():
        if arrays[key].shape != shape:
            raise SmplLayoutError(f"'{key}' has shape {arrays[key].shape}, expected {shape}", "shape")
    shapedirs = arrays["shapedirs"]
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (NUM_VERTS, 3) or shapedirs.shape[2] < NUM_BETAS:
        raise SmplLayoutError(f"'shapedirs' has shape {shapedirs.shape}, expected ({NUM_VERTS}, 3, >= "
                              f"{NUM_BETAS})", "shape")
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1  # stored as uint32 4294967295
    if tuple(parents.tolist()) != SMPL_PARENTS:
        raise SmplLayoutError("its kinematic tree is not SMPL's", "content")
    faces = arrays["f"].astype(np.int64)
    if faces.min() < 0 or faces.max() >= NUM_VERTS:
        raise SmplLayoutError("face indices out of range", "content")
    return {"v_template": arrays["v_template"].astype(np.float64),
            "shapedirs": shapedirs[:, :, :NUM_BETAS].astype(np.float64),
            "posedirs": arrays["posedirs"].astype(np.float64),
            "J_regressor": arrays["J_regressor"].astype(np.float64),
            "weights": arrays["weights"].astype(np.float64), "faces": faces, "parents": parents}
