"""Start weights for training (`--init`).

* a TCMR checkpoint (default: the data folder's tcmr_demo_model.pth.tar, or any file in the
  official trainer layout, e.g. a `train` run's checkpoint): its `gen_state_dict`, read
  strictly by `backend.models.checkpoint.load_tcmr_state` (wrong kinds of file are refused with
  CHECKPOINT_INVALID naming what they look like);
* `none`, the official from-scratch start (`train.py`): the temporal encoder with PyTorch's
  default initialisation drawn from `--seed`, the regressor's fc1/fc2/dec*/init_* from the SPIN
  checkpoint's `model` (the official TCMR constructor loads it with strict=False).
"""

from __future__ import annotations

from pathlib import Path

import torch

from backend.models import checkpoint as ckpt
from backend.models.regressor import Regressor
from backend.models.tcmr import TCMR


def from_checkpoint(path: Path) -> TCMR:
    state = ckpt.load_tcmr_state(path)
    model = TCMR()
    model.load_state_dict(state, strict=True)
    return model


def spin_regressor_state(path: Path) -> dict[str, torch.Tensor]:
    """The regressor part of spin_model_checkpoint.pth.tar['model'], checked key by key."""
    path = Path(path)
    state = ckpt.section(ckpt.read_checkpoint(path), "model", path,
                         {"gen_state_dict": "a TCMR checkpoint (use it as --init PATH instead)"})
    expected = ckpt.expected_shapes(Regressor)
    head = {k: v for k, v in state.items() if k in expected}
    return ckpt.map_state(head, expected, path, "model (regressor part)")


def from_scratch(spin_path: Path, seed: int) -> TCMR:
    torch.manual_seed(seed)
    model = TCMR()
    for layer in (model.regressor.decpose, model.regressor.decshape, model.regressor.deccam):
        torch.nn.init.xavier_uniform_(layer.weight, gain=0.01)  # official, then overwritten by SPIN
    model.regressor.load_state_dict(spin_regressor_state(spin_path), strict=True)
    return model
