"""Reads an official SMPL model pickle without executing pickled code and without chumpy.

The official `SMPL_NEUTRAL.pkl` (SMPLify `basicModel_neutral_lbs_10_207_0_v1.0.0.pkl`) is a
Python-2 pickle whose arrays are partly chumpy `Ch` objects and whose `J_regressor` is a scipy
CSC matrix. A restricted unpickler resolves only an allow-list of globals: numpy's array and
scalar reconstructors, stand-ins for chumpy classes (we keep their pickled state, whose `x` is
the array) and for scipy sparse matrices (we keep data/indices/indptr and densify). Any other
global is refused with an error naming it, so a tampered file cannot run code.
"""

from __future__ import annotations

import codecs
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import BackendError, Code

NUM_JOINTS = 24
NUM_VERTS = 6890
NUM_FACES = 13776
NUM_POSE_BASIS = 207  # 23 joints x 9 entries of (R - I)
NUM_BETAS = 10  # TCMR regresses 10 betas; files with 300 shape dirs use the first 10

# SMPL kinematic tree (parent of each joint, -1 for the pelvis).
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)


class _PickledState:
    """Stand-in for a chumpy or scipy class: remembers the class name and the pickled state."""

    qualname = "?"

    def __setstate__(self, state) -> None:
        self.state = state


def _stub(qualname: str) -> type:
    return type("Stub_" + qualname.replace(".", "_"), (_PickledState,), {"qualname": qualname})


def _safe_reconstructor(cls, base, state):
    """copy_reg._reconstructor limited to our stand-ins (old-protocol Python-2 objects)."""
    if not (isinstance(cls, type) and issubclass(cls, _PickledState) and base is object):
        raise pickle.UnpicklingError(f"refused to reconstruct {cls!r} from {base!r}")
    obj = object.__new__(cls)
    if state is not None:
        obj.state = state
    return obj


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np.core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np.core.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): np.core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np.core.multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python-3 protocol-2 pickles store bytes as _codecs.encode(str, "latin1"): data, not code.
    ("_codecs", "encode"): codecs.encode,
    ("copy_reg", "_reconstructor"): _safe_reconstructor,
    ("copyreg", "_reconstructor"): _safe_reconstructor,
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("builtins", "frozenset"): frozenset,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if module == "chumpy" or module.startswith("chumpy."):
            return _stub(f"{module}.{name}")
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix"):
            return _stub(f"{module}.{name}")
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in an SMPL model file")


def _to_array(value, key: str) -> np.ndarray:
    """Plain array from an ndarray, a chumpy stand-in (state['x']) or a sparse stand-in."""
    if isinstance(value, _PickledState):
        state = value.state if isinstance(getattr(value, "state", None), dict) else {}
        if value.qualname.startswith("chumpy"):
            if "x" not in state:
                raise ValueError(f"'{key}' is a chumpy object without a stored value")
            return _to_array(state["x"], key)
        shape = tuple(int(s) for s in state.get("_shape", state.get("shape", ())))
        data, indices, indptr = (np.asarray(state[k]) for k in ("data", "indices", "indptr"))
        dense = np.zeros(shape, dtype=np.float64)
        compressed_rows = value.qualname.endswith("csr_matrix")
        for major in range(len(indptr) - 1):
            lo, hi = int(indptr[major]), int(indptr[major + 1])
            if compressed_rows:
                dense[major, indices[lo:hi]] = data[lo:hi]
            else:
                dense[indices[lo:hi], major] = data[lo:hi]
        return dense
    return np.asarray(value)


@dataclass(frozen=True)
class SmplData:
    """The SMPL arrays the network and the add-on need, all plain numpy.

    v_template (V,3) f64 | shapedirs (V,3,10) f64 | posedirs (V,3,207) f64 | J_regressor (24,V) f64
    weights (V,24) f64 | faces (13776,3) int64 | parents (24,) int64, -1 for the root
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    faces: np.ndarray
    parents: np.ndarray


def read_pickle_dict(data: bytes) -> dict:
    """Unpickle with the allow-list; Python-2 strings decode as latin1 like smplx does."""
    obj = _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    if not isinstance(obj, dict):
        raise ValueError(f"top level is {type(obj).__name__}, not a dict")
    return obj


def load_smpl(path: str | Path) -> SmplData:
    """Load and validate an official SMPL pkl; errors name the file and the problem."""
    path = Path(path)
    hint_get = "Download the SMPL neutral model (SMPLify basicModel_neutral_lbs_10_207_0_v1.0.0.pkl), " \
               "rename it SMPL_NEUTRAL.pkl and put it in the model data folder."
    if not path.is_file():
        raise BackendError(Code.DATA_MISSING, f"SMPL model file not found: {path}", hint_get)
    try:
        raw = read_pickle_dict(path.read_bytes())
        arrays = {k: _to_array(raw[k], k) for k in
                  ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f", "kintree_table")}
    except KeyError as exc:
        raise BackendError(Code.DATA_INVALID, f"{path.name} has no key {exc} - not an SMPL model file",
                           hint_get) from exc
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError, AttributeError, IndexError,
            UnicodeDecodeError, MemoryError) as exc:
        raise BackendError(Code.DATA_INVALID, f"{path.name} is not a readable SMPL model pickle: {exc}",
                           hint_get) from exc
    expect = {
        "v_template": (NUM_VERTS, 3), "posedirs": (NUM_VERTS, 3, NUM_POSE_BASIS),
        "J_regressor": (NUM_JOINTS, NUM_VERTS), "weights": (NUM_VERTS, NUM_JOINTS), "f": (NUM_FACES, 3),
        "kintree_table": (2, NUM_JOINTS),
    }
    for key, shape in expect.items():
        if arrays[key].shape != shape:
            raise BackendError(Code.DATA_INVALID,
                               f"{path.name}: '{key}' has shape {arrays[key].shape}, expected {shape}",
                               "Use the SMPL model (24 joints, 6890 vertices), not SMPL-H/SMPL-X. "
                               + hint_get)
    shapedirs = arrays["shapedirs"]
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (NUM_VERTS, 3) or shapedirs.shape[2] < NUM_BETAS:
        raise BackendError(Code.DATA_INVALID,
                           f"{path.name}: 'shapedirs' has shape {shapedirs.shape}, expected (6890, 3, >=10)",
                           hint_get)
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1  # stored as 4294967295 (uint32 -1)
    if tuple(parents.tolist()) != SMPL_PARENTS:
        raise BackendError(Code.DATA_INVALID, f"{path.name}: kinematic tree is not SMPL's", hint_get)
    return SmplData(
        v_template=arrays["v_template"].astype(np.float64),
        shapedirs=shapedirs[:, :, :NUM_BETAS].astype(np.float64),
        posedirs=arrays["posedirs"].astype(np.float64),
        J_regressor=arrays["J_regressor"].astype(np.float64),
        weights=arrays["weights"].astype(np.float64),
        faces=arrays["f"].astype(np.int64),
        parents=parents,
    )


