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
        self.branch_heads = True  # also regress each branch alone (confidence); off: the official output only

    def forward(self, windows: torch.Tensor) -> dict[str, torch.Tensor]:
        """windows (B,16,2048) -> pose6d (B,144), rotmat (B,24,3,3), betas (B,10), cam (B,3),
        scores (B,3) for each window's centre frame, and branch_rotmat (B,3,24,3,3)."""
        return self._heads(self.encoder.branches(windows))

    def forward_indexed(self, frames: torch.Tensor, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """frames (F,2048) of one track, idx (B,16) window frame indices -> as forward(frames[idx])."""
        return self._heads(self.encoder.branches_indexed(frames, idx))

    def forward_local(self, frames: torch.Tensor, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """frames (S,2048), idx (B,16) indices into them -> as forward(frames[idx]) (traceable)."""
        return self._heads(self.encoder.branches_local(frames, idx))

    def _heads(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Z (B,3,2048) [past, current, future] -> the regressor on the integrated feature, plus
        `branch_rotmat` (B,3,24,3,3): the regressor run on each of the three decoded features
        alone, as in training (docs/confidence_and_editing.md; their spread is the confidence)."""
        feature, scores = self.encoder.integrate(z)
        out = self.regressor(feature)
        out["scores"] = scores
        if not self.branch_heads:
            return out
        b, k = z.shape[0], z.shape[1]
        out["branch_rotmat"] = self.regressor(z.reshape(b * k, -1))["rotmat"].reshape(b, k, 24, 3, 3)
        return out
