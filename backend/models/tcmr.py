"""TCMR = temporal encoder + iterative regressor (eval mode; docs/tcmr_facts.md, The network).

The SMPL layer is separate (`backend.models.smpl.SmplLayer`): as in the official demo, the
SMPL data used is the pkl on disk, not the copy inside the checkpoint.
"""

from __future__ import annotations

import torch
from torch import nn

from backend.models.regressor import Regressor
from backend.models.temporal import TemporalEncoder


class TCMR(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = TemporalEncoder()
        self.regressor = Regressor()

    def forward(self, windows: torch.Tensor) -> dict[str, torch.Tensor]:
        """windows (B,16,2048) -> pose6d (B,144), rotmat (B,24,3,3), betas (B,10), cam (B,3),
        scores (B,3) for each window's centre frame."""
        feature, scores = self.encoder(windows)
        out = self.regressor(feature)
        out["scores"] = scores
        return out

    def forward_indexed(self, frames: torch.Tensor, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """frames (F,2048) of one track, idx (B,16) window frame indices -> as forward(frames[idx])."""
        feature, scores = self.encoder.integrate(self.encoder.branches_indexed(frames, idx))
        out = self.regressor(feature)
        out["scores"] = scores
        return out
