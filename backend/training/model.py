"""The training-mode forward of TCMR (official `TCMR.forward(is_train=True)`; docs/tcmr_facts.md,
"The network").

The encoder's three branch features Z = [g_past, g_cur, g_fut] and the attention-integrated
feature give the three features that are decoded in training, in the official order
[g_past, g_fut, integrated]; each goes through the iterative regressor (dropout 0.5 after fc1
and fc2 in train mode) and the SMPL layer, and the 49 joints are projected with the crop
camera (official `projection`: focal 5000 px, 224 crop, principal point 0, result / 112).
"""

from __future__ import annotations

import torch
from torch import nn

from backend.models.smpl import SmplLayer
from backend.models.tcmr import TCMR

K = 3  # decoded features per window
FOCAL = 5000.0
CROP = 224.0


def set_dropout(module: nn.Module, p: float) -> None:
    """Every nn.Dropout in `module` gets probability p (official: 0.5 in the regressor)."""
    for m in module.modules():
        if isinstance(m, nn.Dropout):
            m.p = float(p)


def project(joints: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """joints (B,J,3) metres, cam (B,3) = (s, tx, ty) -> (B,J,2) crop-normalised keypoints.

    t = (tx, ty, 2*5000 / (224*s + 1e-9)); x = 5000 * (X + t) / (Z + t_z) / 112."""
    t = torch.stack([cam[:, 1], cam[:, 2], 2 * FOCAL / (CROP * cam[:, 0] + 1e-9)], dim=-1)  # (B, 3)
    p = joints + t[:, None, :]
    return FOCAL * p[..., :2] / p[..., 2:3] / (CROP / 2)


def encode(tcmr: TCMR, windows: torch.Tensor) -> torch.Tensor:
    """windows (B,16,2048) -> the three features decoded in training, (B,3,2048) =
    [g_past, g_fut, integrated] (official order)."""
    enc = tcmr.encoder
    z = enc.branches(windows)  # (B, 3, 2048) = [past, cur, fut]
    integrated, _ = enc.integrate(z)
    return torch.stack([z[:, 0], z[:, 2], integrated], dim=1)


class TrainForward(nn.Module):
    """windows (B,16,2048) -> regressor outputs of the three decoded features, (B*3, ...);
    with encoded=True the input is already `encode`d (B,3,2048) (frozen encoder).

    Wraps a `TCMR` so DistributedDataParallel sees exactly its parameters; `self.tcmr`'s state
    dict keeps the official names."""

    def __init__(self, tcmr: TCMR) -> None:
        super().__init__()
        self.tcmr = tcmr

    def forward(self, x: torch.Tensor, encoded: bool = False) -> dict[str, torch.Tensor]:
        feats = x if encoded else encode(self.tcmr, x)
        return self.tcmr.regressor(feats.reshape(-1, feats.shape[-1]))


def decode(out: dict[str, torch.Tensor], smpl: SmplLayer) -> dict[str, torch.Tensor]:
    """Regressor outputs (B*3, ...) -> the loss inputs (B, 3, ...): kp_2d (B,3,49,2),
    kp_3d (B,3,49,3), rotmat (B,3,24,3,3), betas (B,3,10), cam (B,3,3)."""
    _, joints = smpl(out["rotmat"], out["betas"])  # (B*3, 49, 3)
    kp_2d = project(joints, out["cam"])
    b = out["rotmat"].shape[0] // K
    return {"kp_2d": kp_2d.reshape(b, K, -1, 2), "kp_3d": joints.reshape(b, K, -1, 3),
            "rotmat": out["rotmat"].reshape(b, K, 24, 3, 3), "betas": out["betas"].reshape(b, K, 10),
            "cam": out["cam"].reshape(b, K, 3)}


class EncodedCache:
    """Frozen encoder: each window's `encode` output is computed once (no grad) and kept, up to
    `max_windows` windows (3 x 2048 float32 = 24 KiB each); later windows are encoded per step."""

    def __init__(self, tcmr: TCMR, max_windows: int = 65536) -> None:
        self.tcmr = tcmr
        self.max_windows = max_windows
        self.store: dict[tuple[int, int], torch.Tensor] = {}

    def __call__(self, keys: list[tuple[int, int]], windows: torch.Tensor) -> torch.Tensor:
        """keys: (stream, window id) per row of windows (B,16,2048) -> (B,3,2048)."""
        todo = [i for i, k in enumerate(keys) if k not in self.store]
        fresh = None
        if todo:
            with torch.no_grad():
                fresh = encode(self.tcmr, windows[todo])
            for row, i in enumerate(todo):
                if len(self.store) < self.max_windows:
                    self.store[keys[i]] = fresh[row]
        where = {i: row for row, i in enumerate(todo)}
        rows = [self.store[k] if k in self.store else fresh[where[i]] for i, k in enumerate(keys)]
        return torch.stack(rows)
