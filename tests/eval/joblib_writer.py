"""A minimal writer of joblib's uncompressed dump format, for building test databases without joblib.

Layout (what `joblib.dump` writes, see backend/evaldb.py): a pickle stream in which every numpy
array is pickled as a `joblib.numpy_pickle.NumpyArrayWrapper` object (attributes subclass,
shape, order, dtype, allow_mmap, numpy_array_alignment_bytes); right after the wrapper's BUILD
opcode (the protocol-4 frame committed first) come one padding-length byte, that many 0xff
bytes to reach a 16-byte boundary, and the raw array bytes; object arrays are a nested
protocol-2 pickle instead. test_evaldb checks that this writer's output is byte-identical to
real joblib 1.4.2 output.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import sys
import types
from pathlib import Path

import numpy as np

ALIGNMENT = 16


class NumpyArrayWrapper:
    """Same name, module and attribute order as joblib's class."""

    def __init__(self, subclass, shape, order, dtype, allow_mmap, alignment):
        self.subclass = subclass
        self.shape = shape
        self.order = order
        self.dtype = dtype
        self.allow_mmap = allow_mmap
        self.numpy_array_alignment_bytes = alignment


NumpyArrayWrapper.__module__ = "joblib.numpy_pickle"


@contextlib.contextmanager
def _fake_joblib_module():
    """The pickler checks that joblib.numpy_pickle.NumpyArrayWrapper resolves to our class."""
    package, module = types.ModuleType("joblib"), types.ModuleType("joblib.numpy_pickle")
    module.NumpyArrayWrapper = NumpyArrayWrapper
    package.numpy_pickle = module
    saved = {k: sys.modules.get(k) for k in ("joblib", "joblib.numpy_pickle")}
    sys.modules.update({"joblib": package, "joblib.numpy_pickle": module})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


class _JoblibLikePickler(pickle._Pickler):
    def __init__(self, file, protocol):
        super().__init__(file, protocol=protocol)
        self.file_handle = file

    def save(self, obj, save_persistent_id=True):
        if type(obj) is not np.ndarray:
            return super().save(obj, save_persistent_id)
        order = "F" if obj.flags.f_contiguous and not obj.flags.c_contiguous else "C"
        wrapper = NumpyArrayWrapper(type(obj), obj.shape, order, obj.dtype,
                                    allow_mmap=not obj.dtype.hasobject, alignment=ALIGNMENT)
        super().save(wrapper)
        if self.proto >= 4:
            self.framer.commit_frame(force=True)
        if obj.dtype.hasobject:
            pickle.dump(obj, self.file_handle, protocol=2)
            return None
        padding = ALIGNMENT - (self.file_handle.tell() + 1) % ALIGNMENT
        self.file_handle.write(bytes([padding]) + b"\xff" * padding)
        self.file_handle.write(obj.tobytes(order=order))
        return None


def dumps(data: dict, protocol: int = 4) -> bytes:
    buffer = io.BytesIO()
    with _fake_joblib_module():
        _JoblibLikePickler(buffer, protocol).dump(data)
    return buffer.getvalue()


def dump(data: dict, path: str | Path, protocol: int = 4) -> Path:
    path = Path(path)
    path.write_bytes(dumps(data, protocol))
    return path
