"""Reads an official SMPL model pickle without executing pickled code and without chumpy.

The official `SMPL_NEUTRAL.pkl` (SMPLify `basicModel_neutral_lbs_10_207_0_v1.0.0.pkl`) is a
Python-2 pickle whose arrays are partly chumpy `Ch` objects and whose `J_regressor` is a scipy
CSC matrix. The bytes go through the product's one restricted, bounded unpickler
(`backend.safe_pickle`, shared with the add-on's reader), which keeps chumpy/scipy objects as
inert stand-ins, refuses every other global by name and bounds sizes, counts and nesting; this
module maps its outcome to coded errors.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend import safe_pickle
from backend.errors import BackendError, Code
from backend.safe_pickle import NUM_BETAS, NUM_FACES, NUM_JOINTS, NUM_POSE_BASIS, NUM_VERTS, SMPL_PARENTS

__all__ = ["NUM_BETAS", "NUM_FACES", "NUM_JOINTS", "NUM_POSE_BASIS", "NUM_VERTS", "SMPL_PARENTS", "SmplData",
           "load_smpl"]

HINT_GET = ("Download the SMPL neutral model (SMPLify basicModel_neutral_lbs_10_207_0_v1.0.0.pkl), "
            "rename it SMPL_NEUTRAL.pkl and put it in the model data folder.")
HINT_LAYOUT = "Use the SMPL model (24 joints, 6890 vertices), not SMPL-H/SMPL-X. "
# Everything a malformed or hostile pickle can raise while being read (never INTERNAL).
READ_ERRORS = (pickle.UnpicklingError, ValueError, EOFError, TypeError, AttributeError, IndexError, KeyError,
               UnicodeDecodeError, MemoryError, RecursionError, OverflowError)


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


def load_smpl(path: str | Path) -> SmplData:
    """Load and validate an official SMPL pkl; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(Code.DATA_MISSING, f"SMPL model file not found: {path}", HINT_GET)
    if path.stat().st_size > safe_pickle.SMPL_LIMITS.max_bytes:
        raise BackendError(Code.DATA_INVALID, f"{path.name} is {path.stat().st_size} bytes, larger than any "
                                              "SMPL model file", HINT_GET)
    try:
        arrays = safe_pickle.read_smpl_arrays(path.read_bytes())
    except safe_pickle.SmplLayoutError as exc:
        hint = HINT_LAYOUT + HINT_GET if exc.kind == "shape" else HINT_GET
        raise BackendError(Code.DATA_INVALID, f"{path.name}: {exc}", hint) from None
    except READ_ERRORS as exc:
        raise BackendError(Code.DATA_INVALID, f"{path.name} is not a readable SMPL model pickle: {exc}",
                           HINT_GET) from None
    return SmplData(**arrays)


def read_pickle_dict(data: bytes) -> dict:
    """The SMPL pkl's top-level dict through the restricted, bounded unpickler (tests, tools)."""
    obj = safe_pickle.loads(data, safe_pickle.SMPL_LIMITS, "an SMPL model file")
    if not isinstance(obj, dict):
        raise ValueError(f"top level is {type(obj).__name__}, not a dict")
    return obj
