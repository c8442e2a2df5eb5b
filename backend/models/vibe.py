"""VIBE = temporal encoder + the same iterative regressor as TCMR (official mkocabas/VIBE
`lib/models/vibe.py`, eval mode; see docs/models.md).

The released models are built by the demo as
`VIBE_Demo(seqlen=16, n_layers=2, hidden_size=1024, add_linear=True, use_residual=True)`
(`bidirectional` left at False; configs/config.yaml and config_wo_3dpw.yaml say the same:
MODEL.TGRU NUM_LAYERS 2, ADD_LINEAR true, RESIDUAL true, BIDIRECTIONAL false, HIDDEN_SIZE 1024).
For a sequence x (B,T,2048), every frame t gets its own feature (no centre frame, no windows):

    y    = gru(x)             2 layers, unidirectional, hidden 1024, h0 = 0 at the sequence start
    f[t] = linear(relu(y[t])) + x[t]       Linear 1024 -> 2048, then the residual (static) feature

f[t] depends on frames 0..t of the sequence only (causal). The regressor then runs on every
frame. Parameter names match the checkpoint's `encoder.*` / `regressor.*` keys.

How a track becomes sequences (the official demo, `demo.py`): the crops of one tracklet go
through a DataLoader with `batch_size=--vibe_batch_size` (default 450), each batch is one
sequence (`batch.unsqueeze(0)`, (1, L, ...)), so the track is cut into consecutive chunks of
450 frames (the last one shorter) and the GRU restarts from a zero state at every chunk border;
frames 450, 900, ... see no earlier frame. `CHUNK` reproduces that.
"""

from __future__ import annotations

import torch
from torch import nn

from backend.models.regressor import Regressor

FEATURE_DIM = 2048
HIDDEN = 1024
NUM_LAYERS = 2
CHUNK = 450  # official demo.py --vibe_batch_size default: frames per GRU sequence


class VibeTemporalEncoder(nn.Module):
    """GRU(2048 -> 1024, 2 layers) -> ReLU -> Linear(1024 -> 2048) -> + input (residual)."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(FEATURE_DIM, HIDDEN, num_layers=NUM_LAYERS)
        self.linear = nn.Linear(HIDDEN, FEATURE_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B,T,2048) -> per-frame features (B,T,2048); each sequence starts from h0 = 0."""
        seq = x.permute(1, 0, 2)  # (T, B, 2048): the GRU is time-major
        y, _ = self.gru(seq)  # (T, B, 1024)
        y = self.linear(torch.relu(y)) + seq
        return y.permute(1, 0, 2)


class VIBE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = VibeTemporalEncoder()
        self.regressor = Regressor()

    def forward(self, sequences: torch.Tensor) -> dict[str, torch.Tensor]:
        """sequences (B,T,2048) -> pose6d (B*T,144), rotmat (B*T,24,3,3), betas (B*T,10),
        cam (B*T,3), one row per frame in (sequence, frame) order."""
        feature = self.encoder(sequences)
        return self.regressor(feature.reshape(-1, FEATURE_DIM))


def chunk_bounds(num_frames: int, chunk: int = CHUNK) -> list[tuple[int, int]]:
    """[start, end) of the consecutive GRU sequences a track of `num_frames` is cut into."""
    if num_frames < 1 or chunk < 1:
        raise ValueError(f"need num_frames >= 1 and chunk >= 1, got {num_frames}, {chunk}")
    return [(s, min(s + chunk, num_frames)) for s in range(0, num_frames, chunk)]
