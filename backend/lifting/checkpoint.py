"""Strict reading of a VideoPose3D checkpoint (`pretrained_h36m_detectron_coco.bin` layout).

`torch.load(weights_only=True)`: no pickled code runs. Beside the tensors the released file
pickles the training generator's numpy RandomState (`random_state`, written by numpy < 1.17 as
`numpy.random.__RandomState_ctor` + its legacy state tuple holding a uint32 array). The
allow-list is exactly what that needs: the constructor name (resolved to a function of ours that
takes no arguments and returns a fresh RandomState, so nothing of numpy's is called by name),
the RandomState class (whose `__setstate__` checks the state), numpy's array reconstructor,
`numpy.ndarray`, `numpy.dtype` and the uint32 dtype class. Nothing else.

Then strict keys and shapes (backend.models.checkpoint.map_state): `model_pos` must match the
17->17 model exactly; `model_traj` (17->1) is used when it is a state dict and absent/None
means "no trajectory". Any other top-level key than the known ones, or a file of another kind
(a TCMR/SPIN checkpoint), is CHECKPOINT_INVALID naming the file and the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from backend.errors import BackendError, Code
from backend.lifting.model import DEFAULT_CONFIG, LiftConfig, TemporalModel

KNOWN_KEYS = frozenset({"epoch", "lr", "random_state", "optimizer", "model_pos", "model_traj",
                        "random_state_semi"})
OTHER_FILES = {"gen_state_dict": "the TCMR checkpoint (tcmr_demo_model.pth.tar)",
               "model": "the SPIN checkpoint (spin_model_checkpoint.pth.tar)"}
HINT = ("Download VideoPose3D's pretrained_h36m_detectron_coco.bin (facebookresearch/VideoPose3D, "
        "README 'Inference in the wild') unchanged and put it into the model data folder or pass it "
        "with --checkpoint.")


def _random_state_ctor() -> np.random.RandomState:
    """Stand-in for numpy.random.__RandomState_ctor: an empty RandomState the BUILD then fills."""
    return np.random.RandomState(0)


_UINT32_DTYPE = type(np.dtype(np.uint32))
LIFT_SAFE_GLOBALS: list = [
    (_random_state_ctor, "numpy.random.__RandomState_ctor"),
    np.random.RandomState,
    (np.core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
    np.ndarray,
    (np.dtype, "numpy.dtype"),
    _UINT32_DTYPE,
]


def invalid(path: Path, problem: str) -> BackendError:
    return BackendError(Code.CHECKPOINT_INVALID, f"{path}: {problem}", HINT)


@dataclass
class LiftWeights:
    """Validated state dicts: `pos` for the 17->17 model, `traj` for 17->1 or None."""

    pos: dict[str, torch.Tensor]
    traj: dict[str, torch.Tensor] | None
    epoch: int | None


def read_lift_file(path: Path) -> dict:
    """torch.load with weights_only and the allow-list above -> the top-level dict."""
    from backend.models.checkpoint import read_checkpoint

    return read_checkpoint(path, LIFT_SAFE_GLOBALS, invalid, HINT)


def load_lift_weights(path: str | Path, config: LiftConfig = DEFAULT_CONFIG) -> LiftWeights:
    """Read and check a VideoPose3D checkpoint against `config` (17->17 pose, 17->1 trajectory)."""
    from backend.models.checkpoint import expected_shapes, map_state

    path = Path(path)
    ckpt = read_lift_file(path)
    if "model_pos" not in ckpt:
        for marker, looks_like in OTHER_FILES.items():
            if marker in ckpt:
                raise invalid(path, f"has no 'model_pos' entry; it looks like {looks_like} (wrong file)")
        raise invalid(path, f"has no 'model_pos' entry (top-level keys: {sorted(map(str, ckpt))[:8]}); "
                            "not a VideoPose3D checkpoint")
    unknown = sorted(str(k) for k in ckpt if k not in KNOWN_KEYS)
    if unknown:
        raise invalid(path, f"unexpected top-level key(s) {unknown}; not a VideoPose3D checkpoint")
    pos = _section(ckpt["model_pos"], "model_pos", path)
    pos = map_state(pos, expected_shapes(lambda: TemporalModel(config)), path, "model_pos")
    traj = ckpt.get("model_traj")
    if traj is not None:
        traj_config = config.trajectory()
        traj = map_state(_section(traj, "model_traj", path),
                         expected_shapes(lambda: TemporalModel(traj_config)), path, "model_traj")
    epoch = ckpt.get("epoch")
    return LiftWeights(pos, traj, int(epoch) if isinstance(epoch, int) else None)


def _section(state, key: str, path: Path) -> Mapping:
    if not isinstance(state, Mapping):
        raise invalid(path, f"'{key}' is a {type(state).__name__}, expected a state dict")
    return state


def build_models(weights: LiftWeights, config: LiftConfig = DEFAULT_CONFIG, device="cpu",
                 dtype=torch.float32):
    """(pose model, trajectory model or None), weights loaded strictly, in eval mode."""
    pos = TemporalModel(config)
    pos.load_state_dict(weights.pos, strict=True)
    traj = None
    if weights.traj is not None:
        traj = TemporalModel(config.trajectory())
        traj.load_state_dict(weights.traj, strict=True)
    models = [m.to(device=device, dtype=dtype).eval() for m in (pos, traj) if m is not None]
    return models[0], (models[1] if traj is not None else None)
