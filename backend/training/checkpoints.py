"""Run checkpoints in the official trainer layout (`Trainer.save_model`; docs/tcmr_facts.md,
"Checkpoints and model files").

    {"epoch": int, "gen_state_dict": 71 tensors, "performance": float, "gen_optimizer": Adam state,
     "train_state": {...}}

* `gen_state_dict` has the official 71 keys in the official order: the network's 59
  (`encoder.*`, `regressor.*`) and the 12 `regressor.smpl.*` buffers of smplx 0.1.13's SMPL
  layer, filled from the SMPL data on disk, so the official `evaluate.py` (strict loading) and
  demo load the file as they load the released ones. This project's own loader ignores those 12.
* `performance` is the validation PA-MPJPE in mm (`--eval-db`), else the epoch's mean training
  loss (`train_state["performance_metric"]` says which). A Python float, so any torch reads it.
* `train_state` (extra; the official code ignores it) holds what `--resume` needs beyond the
  official keys: the step, the plateau schedule's state, the running epoch loss, the best
  performance and the run's settings. The motion discriminator entries are left out: TCMR
  trains without it (D_MOTION_LOSS_W = 0) and the official resume reads them only if present.

Files are written to a temporary name and renamed (`backend.fileio.write_atomic`): a killed
run leaves the previous checkpoint intact. All entries load with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from backend.errors import BackendError, Code
from backend.fileio import write_atomic
from backend.models import checkpoint as ckpt
from backend.models.smpl import EXTRA_VERTEX_IDS
from backend.models.tcmr import TCMR
from backend.smpl_file import SmplData

STATE_FORMAT = 1
LAST = "checkpoint_last.pth.tar"
BEST = "checkpoint_best.pth.tar"
SMPL_BATCH = 64  # the official SMPL layer was built with batch_size=64 (its betas/pose buffers)


def smpl_buffers(smpl: SmplData, j_extra: np.ndarray) -> OrderedDict:
    """The 12 `regressor.smpl.*` entries of an official gen_state_dict, from the SMPL on disk."""
    def f32(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    s = "regressor.smpl."
    posedirs = smpl.posedirs.reshape(-1, smpl.posedirs.shape[-1]).T  # (207, V*3), smplx layout
    return OrderedDict([
        (s + "betas", torch.zeros(SMPL_BATCH, 10)),
        (s + "global_orient", torch.zeros(SMPL_BATCH, 3)),
        (s + "body_pose", torch.zeros(SMPL_BATCH, 69)),
        (s + "faces_tensor", torch.from_numpy(np.asarray(smpl.faces, dtype=np.int64))),
        (s + "v_template", f32(smpl.v_template)),
        (s + "shapedirs", f32(smpl.shapedirs[:, :, :10])),
        (s + "J_regressor", f32(smpl.J_regressor)),
        (s + "posedirs", f32(posedirs)),
        (s + "parents", torch.from_numpy(np.asarray(smpl.parents, dtype=np.int64))),
        (s + "lbs_weights", f32(smpl.weights)),
        (s + "J_regressor_extra", f32(j_extra)),
        (s + "vertex_joint_selector.extra_joints_idxs", torch.tensor(EXTRA_VERTEX_IDS, dtype=torch.int64)),
    ])


def gen_state_dict(tcmr: TCMR, smpl: OrderedDict) -> OrderedDict:
    """Network weights (CPU copies) followed by the SMPL buffers: the official 71 keys."""
    state = OrderedDict((k, v.detach().to("cpu", copy=True)) for k, v in tcmr.state_dict().items())
    state.update(smpl)
    return state


def save(path: Path, tcmr: TCMR, smpl: OrderedDict, optimizer: torch.optim.Optimizer, epoch: int,
         performance: float, train_state: dict) -> None:
    payload = {
        "epoch": int(epoch),
        "gen_state_dict": gen_state_dict(tcmr, smpl),
        "performance": float(performance),
        "gen_optimizer": _to_cpu(optimizer.state_dict()),
        "train_state": {"format": STATE_FORMAT, **train_state},
    }
    write_atomic(path, lambda tmp: torch.save(payload, tmp))


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


def read_resume(path: Path) -> dict:
    """A run's checkpoint_last -> {"gen": validated network state, "optimizer", "epoch",
    "performance", "train_state"}. Raises CHECKPOINT_INVALID / DATA_MISSING."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"--resume: no {path.name} in {path.parent}",
                           "Start the run without --resume, or pass the --out folder of an earlier run.")
    data = ckpt.read_checkpoint(path)
    gen = ckpt.section(data, "gen_state_dict", path, {"model": "the SPIN checkpoint"})
    gen = ckpt.map_state(gen, ckpt.expected_shapes(TCMR), path, "gen_state_dict",
                         ignored=ckpt.TCMR_IGNORED_KEYS)
    state = data.get("train_state")
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ckpt.invalid(path, "has no train_state of this trainer: not a checkpoint of `train`, "
                                 "so it cannot be resumed (use it as --init to fine-tune from it)")
    if not isinstance(data.get("gen_optimizer"), dict):
        raise ckpt.invalid(path, "has no optimizer state (gen_optimizer)")
    return {"gen": gen, "optimizer": data["gen_optimizer"], "epoch": int(data.get("epoch", 0)),
            "performance": float(data.get("performance", float("inf"))), "train_state": state}
