"""Crafted hostile pickles and archives (the tests write them; none is stored in the repo).

Each builder returns the file's bytes. The pickles are written opcode by opcode or through
stand-in classes exposed under the official class paths, so nothing here needs chumpy/scipy.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import pickle
import struct
import sys
import types

import numpy as np

_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]


@contextlib.contextmanager
def official_class(module: str, name: str):
    """A class that pickles as `module.name` (e.g. chumpy.ch.Ch) while the block runs."""
    saved = {m: sys.modules.get(m) for m in (module, module.split(".")[0])}
    cls = type(name, (), {"__module__": module, "__qualname__": name})
    mod = types.ModuleType(module)
    setattr(mod, name, cls)
    sys.modules[module] = mod
    sys.modules.setdefault(module.split(".")[0], types.ModuleType(module.split(".")[0]))
    try:
        yield cls
    finally:
        for m, old in saved.items():
            if old is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = old


class _Reduce:
    def __init__(self, *reduce_value) -> None:
        self.value = reduce_value

    def __reduce__(self):
        return self.value


class _Evil:
    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def _array_with_state(shape, dtype, data) -> _Reduce:
    """Pickles like a numpy array whose state claims `shape` but carries `data`."""
    return _Reduce(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, shape, np.dtype(dtype), False, data))


def billion_laughs() -> bytes:
    """~270 bytes: a list of 10 references to a list of 10 references ... 9 levels: 10^9 leaves."""
    nest = ["lol"]
    for _ in range(9):
        nest = [nest] * 10
    return pickle.dumps({"v_template": nest, "shapedirs": nest}, protocol=2)


def self_referencing_chumpy() -> bytes:
    """A chumpy Ch whose stored value `x` is the object itself."""
    with official_class("chumpy.ch", "Ch") as ch:
        obj = ch()
        obj.x = obj
        return pickle.dumps({key: obj for key in ("v_template", "shapedirs", "posedirs", "J_regressor",
                                                  "weights", "f", "kintree_table")}, protocol=2)


def sparse_bomb(shape=(24, 6890), indptr=(0, 10**12)) -> bytes:
    """~1 KB SMPL pkl whose J_regressor csc_matrix claims a huge indptr (or shape)."""
    with official_class("scipy.sparse.csc", "csc_matrix") as csc:
        matrix = csc()
        matrix.__dict__.update({"_shape": shape, "format": "csc", "maxprint": 50,
                                "indptr": np.array(indptr, np.int64), "indices": np.zeros(1, np.int32),
                                "data": np.ones(1)})
        tiny = np.zeros((1, 1))
        data = {key: tiny for key in ("v_template", "shapedirs", "posedirs", "weights", "f", "kintree_table")}
        data["J_regressor"] = matrix
        return pickle.dumps(data, protocol=2)


def crafted_pickles(marker) -> dict[str, bytes]:
    """Every hostile pickle of the shared suite, by name (marker: a file os.system would create)."""
    return {
        "runs_os_system": pickle.dumps({"v_template": _Evil(marker)}, protocol=2),
        "eval_global": b"cbuiltins\neval\n(S'1+1'\ntR.",
        "reconstructs_dict": b"ccopy_reg\n_reconstructor\n(cbuiltins\ndict\ncbuiltins\nobject\nNtR.",
        "newobj_bytes_1e9": b"\x80\x02c__builtin__\nbytes\nJ\x00\xca\x9a\x3b\x85\x81.",
        "calls_ndarray_1e12": b"\x80\x02cnumpy\nndarray\n\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85\x85R.",
        "array_claims_8TB": pickle.dumps({"v_template": _array_with_state((10**6, 10**6), "f8", b"")},
                                         protocol=2),
        "object_array_1e9_empty": pickle.dumps({"v_template": _array_with_state((10**9,), "O", [])},
                                               protocol=2),
        "zero_size_rows_200000": pickle.dumps({"vid_name": _array_with_state((200_000,), "S0", b""),
                                               "joints3D": _array_with_state((200_000, 14, 3), "V0", b"")},
                                              protocol=2),
        "subarray_dtype": pickle.dumps({"v_template": np.dtype(("f8", (10**6,)))}, protocol=2),
        "binbytes8_1TB": b"\x80\x04\x8e" + struct.pack("<Q", 10**12) + b"\x00" * 16,
        "frame_1TB": b"\x80\x04\x95" + struct.pack("<Q", 10**12) + b"}.",
        "long4_2GB": b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b"\x00" * 8,
        "nested_20000_deep": b"\x80\x02" + b"]" * 20_000 + b"a" * 19_999 + b".",
        "billion_laughs": billion_laughs(),
        "self_referencing_chumpy": self_referencing_chumpy(),
        "sparse_indptr_1e12": sparse_bomb(),
        "sparse_shape_1e12": sparse_bomb(shape=(10**6, 10**6), indptr=(0, 1)),
        "truncated": pickle.dumps({"a": np.zeros(10)}, protocol=4)[:40],
    }


def gzip_db_bomb(total=int(4.4e9), chunk=64 << 20) -> bytes:
    """~4 MB multi-member gzip whose pickle (a list of 64 MiB bytes objects) expands to `total`."""
    zeros = gzip.compress(bytes(chunk), 9)
    parts = [gzip.compress(b"\x80\x04]("), ]
    for _ in range(total // chunk):
        parts += [gzip.compress(b"\x8e" + struct.pack("<Q", chunk)), zeros]
    parts.append(gzip.compress(b"e."))
    return b"".join(parts)


def bz2_db_of_200000_frames(rows=200_000) -> bytes:
    """A few KB bz2 "database" of `rows` all-zero frames (vid_name, features (rows,2048) float16,
    joints3D, pose, shape): a whole-file compression bomb in the official key layout."""
    header = (b"\x80\x04}(" + _key(b"vid_name") + _bytes8_header(rows))
    chunk = 8 << 20
    zeros = bz2.compress(bytes(chunk), 9)
    features = rows * 2048 * 2
    parts = [bz2.compress(header), bz2.compress(bytes(rows)), bz2.compress(_key(b"features")
                                                                             + _bytes8_header(features))]
    parts += [zeros] * (features // chunk) + [bz2.compress(bytes(features % chunk))]
    parts.append(bz2.compress(b"u."))
    return b"".join(parts)


def _key(name: bytes) -> bytes:
    return b"\x8c" + bytes([len(name)]) + name  # SHORT_BINUNICODE


def _bytes8_header(n: int) -> bytes:
    return b"\x8e" + struct.pack("<Q", n)  # BINBYTES8 (its data follows)


def npy_claiming_terabytes() -> bytes:
    """A .npy whose header says (10^6, 10^6) float64 (8 TB) followed by 16 bytes."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }"
    header = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + b"\x00" * 16
