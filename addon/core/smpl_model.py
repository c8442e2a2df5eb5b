"""Reads the official SMPL model pickle inside Blender: numpy + stdlib only, no code execution.

Blender ships numpy but not scipy, chumpy or torch, and a pickle can run arbitrary code. The
bytes go through the product's one restricted, bounded unpickler, `backend/safe_pickle.py`
(allow-list of numpy reconstructors, inert stand-ins for chumpy / scipy sparse objects, bounds
on sizes, object counts and nesting; see that module). The add-on never imports the `backend`
package: `_safe_pickle()` loads that one file by its path from the bundled `backend/` folder
(beside this package's files in the built extension, `<extension>/backend/safe_pickle.py`; beside
`addon/` in a checkout, `<repo>/backend/safe_pickle.py`). That file imports only the standard
library and numpy. There is no second copy of the allow-list.

Shapes: V = 6890 vertices, J = 24 joints.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GET_SMPL_HINT = ("Download the SMPL neutral model (SMPLify 'basicModel_neutral_lbs_10_207_0_v1.0.0.pkl'), "
                 "rename it SMPL_NEUTRAL.pkl and put it in the model data folder (add-on preferences).")
_LAYOUT_HINT = "Use the SMPL body model (6890 vertices, 24 joints), not SMPL-H or SMPL-X. "
_MODULE_NAME = "tcmr_mocap_safe_pickle"  # a private name: never the backend package
_READ_ERRORS = (pickle.UnpicklingError, ValueError, EOFError, TypeError, AttributeError, IndexError, KeyError,
                UnicodeDecodeError, MemoryError, RecursionError, OverflowError)


class SmplModelError(Exception):
    """A missing or unusable SMPL file: `message` says what, `hint` names the fix."""

    def __init__(self, message: str, hint: str = GET_SMPL_HINT) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _safe_pickle():
    """The shared unpickler module, loaded once per file path from the bundled backend folder."""
    here = Path(__file__).resolve().parent  # .../core
    for root in (here.parent, here.parent.parent):  # the extension's root, or a checkout's root
        path = root / "backend" / "safe_pickle.py"
        if not path.is_file():
            continue
        # Keyed by path and modification time: an updated add-on never reuses an older copy.
        name = f"{_MODULE_NAME}_{zlib.crc32(f'{path}:{path.stat().st_mtime_ns}'.encode()):08x}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses look their module up while it runs
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        return sys.modules[name]
    raise SmplModelError("the add-on's backend/safe_pickle.py is missing (a damaged install)",
                         "Reinstall the add-on from its zip.")


# The SMPL sizes, from the shared module (one place for them).
NUM_VERTS, NUM_FACES, NUM_BETAS, NUM_POSE_BASIS = (getattr(_safe_pickle(), name) for name in (
    "NUM_VERTS", "NUM_FACES", "NUM_BETAS", "NUM_POSE_BASIS"))


def safe_unpickle(data: bytes):
    """Unpickle with the shared allow-list and bounds (SMPL limits); Python-2 strings as latin1."""
    sp = _safe_pickle()
    return sp.loads(data, sp.SMPL_LIMITS, "an SMPL model file")


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


def load_smpl_model(path: str | Path) -> SmplModel:
    """Read and validate an official SMPL .pkl; raises SmplModelError naming file and problem."""
    path = Path(path)
    if not path.is_file():
        raise SmplModelError(f"SMPL model file not found: {path}")
    sp = _safe_pickle()
    if path.stat().st_size > sp.SMPL_LIMITS.max_bytes:
        raise SmplModelError(f"{path.name} is {path.stat().st_size} bytes, larger than any SMPL model file")
    try:
        arrays = sp.read_smpl_arrays(path.read_bytes())
    except sp.SmplLayoutError as exc:
        raise SmplModelError(f"{path.name}: {exc}",
                             _LAYOUT_HINT + GET_SMPL_HINT if exc.kind == "shape" else GET_SMPL_HINT) from None
    except _READ_ERRORS as exc:
        raise SmplModelError(f"{path.name} is not a readable SMPL model pickle: {exc}") from None
    return SmplModel(**arrays)
