"""A synthetic VideoPose3D checkpoint in the official layout, for tests and `selftest` only.

Layout of the released `pretrained_h36m_detectron_coco.bin` (VideoPose3D run.py's torch.save):
a dict with `epoch` (int), `lr` (float), `random_state` (the training generator's pickled
numpy RandomState), `optimizer`, `model_pos` (the TemporalModel state dict), `model_traj`
(the trajectory model's state dict, or None when trained without it) and `random_state_semi`.
The RandomState is pickled the way numpy < 1.17 did (`numpy.random.__RandomState_ctor` with the
legacy state tuple), as in the released files. The weights are random: output made with this
file is meaningless and must never be presented as a real reconstruction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.lifting.model import DEFAULT_CONFIG, LiftConfig
from backend.synthetic import SYNTHETIC_MARKER

LIFT_CHECKPOINT_NAME = "pretrained_h36m_detectron_coco.bin"


class _LegacyRandomState:
    """Pickles as numpy < 1.17 pickled a RandomState: __RandomState_ctor() + BUILD(state tuple)."""

    def __init__(self, seed: int) -> None:
        self.state = np.random.RandomState(seed).get_state(legacy=True)

    def __reduce__(self):
        return (getattr(np.random, "__RandomState_ctor"), (), self.state)  # (name mangling)


def temporal_state(rng: np.random.Generator, config: LiftConfig) -> dict:
    """Random weights under the official TemporalModel key names; BN statistics non-trivial."""
    import torch

    from backend.lifting.model import TemporalModel

    with torch.device("meta"):
        shapes = {k: v.shape for k, v in TemporalModel(config).state_dict().items()}
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.from_numpy(rng.uniform(0.5, 2.0, shape).astype(np.float32))
        elif key.endswith(("running_mean", "bias")) and "bn" in key:
            state[key] = torch.from_numpy(rng.normal(0.0, 0.1, shape).astype(np.float32))
        elif key.endswith("weight") and "bn" in key:
            state[key] = torch.from_numpy(rng.uniform(0.8, 1.2, shape).astype(np.float32))
        else:  # conv weights (He-like scale keeps activations O(1)) and the shrink bias
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            scale = np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.1
            state[key] = torch.from_numpy(rng.normal(0.0, scale, shape).astype(np.float32))
    return state


def write_lift_checkpoint(path: str | Path, seed: int = 0, trajectory: bool = True,
                          config: LiftConfig = DEFAULT_CONFIG, legacy_format: bool = False) -> Path:
    """Write a synthetic checkpoint with the official top-level keys to `path`; `legacy_format`:
    torch's pre-1.6 serialization (pickle protocol 2), as the 2018-2019 release was written."""
    import torch

    path = Path(path)
    rng = np.random.default_rng(seed)
    traj_config = config.trajectory()
    ckpt = {
        "epoch": 80,
        "lr": 0.001 * 0.95 ** 80,
        "random_state": _LegacyRandomState(seed),
        "optimizer": None,
        "model_pos": temporal_state(rng, config),
        "model_traj": temporal_state(rng, traj_config) if trajectory else None,
        "random_state_semi": _LegacyRandomState(seed + 1) if trajectory else None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy_format)
    (path.parent / SYNTHETIC_MARKER).write_text("Synthetic model data for tests: random weights, meaningless "
                                               "output.\n")
    return path
