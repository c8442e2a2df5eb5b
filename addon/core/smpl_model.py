"""Reads the official SMPL model pickle inside Blender: numpy + stdlib only, no code execution.

Blender ships numpy but not scipy, chumpy or torch, and a pickle can run arbitrary code, so
the file is read with a restricted unpickler whose `find_class` resolves only:

* numpy's array/scalar reconstructors and dtype (the arrays themselves);
* stand-ins for any `chumpy.*` class: we keep the pickled state, whose `x` is the array;
* stand-ins for scipy's `csc_matrix`/`csr_matrix` (any `scipy.sparse*` module path): we keep
  data/indices/indptr/_shape and densify;
* `_codecs.encode` (how protocol-2 pickles store bytes) and `copy_reg._reconstructor`, the
  latter only for the stand-ins above.

Anything else (os.system, builtins.eval, ...) is refused with an error naming the global, before
it can be called. This module is written independently of the backend's reader (the add-on and
the backend never import each other).

Shapes: V = 6890 vertices, J = 24 joints.
"""

from __future__ import annotations

import codecs
import importlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .skeleton import NUM_JOINTS, PARENTS

NUM_VERTS = 6890
NUM_FACES = 13776
NUM_BETAS = 10
NUM_POSE_BASIS = 207  # 23 joints x 9 entries of (R - I)

GET_SMPL_HINT = ("Download the SMPL neutral model (SMPLify 'basicModel_neutral_lbs_10_207_0_v1.0.0.pkl'), "
                 "rename it SMPL_NEUTRAL.pkl and put it in the model data folder (add-on preferences).")


class SmplModelError(Exception):
    """A missing or unusable SMPL file: `message` says what, `hint` names the fix."""

    def __init__(self, message: str, hint: str = GET_SMPL_HINT) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class _Kept:
    """Stand-in for a chumpy or scipy sparse object: keeps the class path and pickled state."""

    source = ""

    def __setstate__(self, state) -> None:
        self.state = state


def _stand_in(module: str, name: str) -> type:
    return type(f"Kept_{name}", (_Kept,), {"source": f"{module}.{name}"})


def _reconstructor(cls, base, state):
    """copy_reg._reconstructor, allowed only to build our stand-ins on `object`."""
    if not (isinstance(cls, type) and issubclass(cls, _Kept)) or base is not object:
        raise pickle.UnpicklingError(f"refused copy_reg._reconstructor({cls!r}, {base!r})")
    obj = object.__new__(cls)
    if state is not None:
        obj.state = state
    return obj


def _numpy_multiarray():
    # numpy 2 renamed numpy.core to numpy._core (pickles name either path).
    module = "numpy._core.multiarray" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core.multiarray"
    return importlib.import_module(module)


def _allowed_globals() -> dict[tuple[str, str], object]:
    ma = _numpy_multiarray()
    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
        ("copy_reg", "_reconstructor"): _reconstructor,
        ("copyreg", "_reconstructor"): _reconstructor,
        ("__builtin__", "object"): object,
        ("builtins", "object"): object,
        ("__builtin__", "set"): set,
        ("builtins", "set"): set,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = ma._reconstruct
        allowed[(module, "scalar")] = ma.scalar
    return allowed


class _SafeUnpickler(pickle.Unpickler):
    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str):
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        if module == "chumpy" or module.startswith("chumpy."):
            return _stand_in(module, name)
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix"):
            return _stand_in(module, name)
        raise pickle.UnpicklingError(f"refused global '{module}.{name}' (not allowed in an SMPL model file)")


def safe_unpickle(data: bytes):
    """Unpickle with the allow-list above. Python-2 str objects decode as latin1."""
    return _SafeUnpickler(io.BytesIO(data), encoding="latin1").load()


def _densify(kept: _Kept, key: str) -> np.ndarray:
    state = kept.state if isinstance(getattr(kept, "state", None), dict) else {}
    try:
        shape = tuple(int(n) for n in state.get("_shape", state.get("shape")))
        data = np.asarray(state["data"], dtype=np.float64)
        indices = np.asarray(state["indices"], dtype=np.int64)
        indptr = np.asarray(state["indptr"], dtype=np.int64)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"'{key}' is a sparse matrix without data/indices/indptr/shape") from exc
    by_rows = kept.source.endswith("csr_matrix")
    counts = np.diff(indptr)
    major = np.repeat(np.arange(len(counts)), counts)
    dense = np.zeros(shape, dtype=np.float64)
    if by_rows:
        dense[major, indices[: len(major)]] = data[: len(major)]
    else:
        dense[indices[: len(major)], major] = data[: len(major)]
    return dense


def _as_array(value, key: str) -> np.ndarray:
    if isinstance(value, _Kept):
        if value.source.startswith("chumpy"):
            state = getattr(value, "state", None)
            if not isinstance(state, dict) or "x" not in state:
                raise ValueError(f"'{key}' is a chumpy object without a stored value")
            return _as_array(state["x"], key)
        return _densify(value, key)
    if isinstance(value, np.ndarray):
        return value
    raise ValueError(f"'{key}' holds {type(value).__name__}, not an array")


@dataclass(frozen=True)
class SmplModel:
    """The SMPL arrays the character needs (float64 unless noted), SMPL canonical frame, metres.

    v_template (V,3) | shapedirs (V,3,10) | posedirs (V,3,207) | J_regressor (J,V)
    weights (V,J) | faces (13776,3) int64 | parents (J,) int64, -1 for the root
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    faces: np.ndarray
    parents: np.ndarray

    def shaped_vertices(self, betas: np.ndarray) -> np.ndarray:
        """Rest mesh for a body shape: v_template + shapedirs . betas -> (V,3)."""
        return self.v_template + self.shapedirs @ np.asarray(betas, dtype=np.float64)

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        """Rest joints for a body shape: J_regressor @ shaped vertices -> (J,3)."""
        return self.J_regressor @ self.shaped_vertices(betas)


_EXPECTED = {
    "v_template": (NUM_VERTS, 3),
    "posedirs": (NUM_VERTS, 3, NUM_POSE_BASIS),
    "J_regressor": (NUM_JOINTS, NUM_VERTS),
    "weights": (NUM_VERTS, NUM_JOINTS),
    "f": (NUM_FACES, 3),
    "kintree_table": (2, NUM_JOINTS),
}


def load_smpl_model(path: str | Path) -> SmplModel:
    """Read and validate an official SMPL .pkl; raises SmplModelError naming file and problem."""
    path = Path(path)
    if not path.is_file():
        raise SmplModelError(f"SMPL model file not found: {path}")
    try:
        raw = safe_unpickle(path.read_bytes())
        if not isinstance(raw, dict):
            raise ValueError(f"top level is a {type(raw).__name__}, not a dict")
        missing = [k for k in (*_EXPECTED, "shapedirs") if k not in raw]
        if missing:
            raise SmplModelError(f"{path.name} has no {', '.join(missing)}: not an SMPL model file")
        arrays = {k: _as_array(raw[k], k) for k in (*_EXPECTED, "shapedirs")}
    except SmplModelError:
        raise
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError, AttributeError, IndexError,
            KeyError, UnicodeDecodeError, MemoryError, ImportError) as exc:
        raise SmplModelError(f"{path.name} is not a readable SMPL model pickle: {exc}") from exc
    for key, shape in _EXPECTED.items():
        if arrays[key].shape != shape:
            raise SmplModelError(f"{path.name}: '{key}' has shape {arrays[key].shape}, expected {shape}",
                                 "Use the SMPL body model (6890 vertices, 24 joints), not SMPL-H or "
                                 "SMPL-X. " + GET_SMPL_HINT)
    shapedirs = arrays["shapedirs"]
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (NUM_VERTS, 3) or shapedirs.shape[2] < NUM_BETAS:
        raise SmplModelError(f"{path.name}: 'shapedirs' has shape {shapedirs.shape}, "
                             f"expected ({NUM_VERTS}, 3, >= {NUM_BETAS})")
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1  # stored as uint32 4294967295
    if tuple(parents.tolist()) != PARENTS:
        raise SmplModelError(f"{path.name}: its kinematic tree is not SMPL's")
    faces = arrays["f"].astype(np.int64)
    if faces.min() < 0 or faces.max() >= NUM_VERTS:
        raise SmplModelError(f"{path.name}: face indices out of range")
    return SmplModel(
        v_template=arrays["v_template"].astype(np.float64),
        shapedirs=shapedirs[:, :, :NUM_BETAS].astype(np.float64),
        posedirs=arrays["posedirs"].astype(np.float64),
        J_regressor=arrays["J_regressor"].astype(np.float64),
        weights=arrays["weights"].astype(np.float64),
        faces=faces,
        parents=parents,
    )
