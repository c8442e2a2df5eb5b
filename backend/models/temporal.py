"""TCMR temporal encoder (TCMR_SPEC.md section 1.3; official lib/models/tcmr.py).

Input windows (B,T=16,2048); the output describes the window's centre frame, index 8:

    g_cur  = linear_cur(relu(y[8]))       y = bidirectional gru_cur over all 16 frames
    g_past = linear_bef(relu(gru_bef(frames 0..7)[-1]))           (never sees frame 8)
    g_fut  = linear_aft(relu(gru_aft(frames 15,14,..,9)[-1]))     (never sees frame 8)
    scores = softmax(attention([g_past, g_cur, g_fut]))  (B,3)
    out    = sum_k scores[:,k] * Z[:,k]                  (B,2048)

Parameter names match the checkpoint's `encoder.*` keys.
"""

from __future__ import annotations

import torch
from torch import nn

SEQLEN = 16  # T
MID = 8  # the predicted frame's index inside a window
HIDDEN = 1024
FEATURE_DIM = 2048
NUM_BRANCHES = 3  # K: past, current, future


class TemporalAttention(nn.Module):
    """fc 2048->256 with NO activation, flatten (B,768), MLP tanh-tanh-tanh, softmax over K."""

    def __init__(self, dim: int = FEATURE_DIM, seq_len: int = NUM_BRANCHES, hidden: int = 256) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, hidden)
        # Indices 0, 2, 4 carry weights, as in the checkpoint (attention.attention.{0,2,4}).
        self.attention = nn.Sequential(
            nn.Linear(hidden * seq_len, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, seq_len), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B,K,2048) -> scores (B,K), each row summing to 1."""
        h = self.fc(z).flatten(1)  # (B, K*256)
        return torch.softmax(self.attention(h), dim=-1)


class TemporalEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru_cur = nn.GRU(FEATURE_DIM, HIDDEN, num_layers=2, bidirectional=True)
        self.gru_bef = nn.GRU(FEATURE_DIM, HIDDEN, num_layers=2)
        self.gru_aft = nn.GRU(FEATURE_DIM, HIDDEN, num_layers=2)
        self.linear_cur = nn.Linear(2 * HIDDEN, FEATURE_DIM)
        self.linear_bef = nn.Linear(HIDDEN, FEATURE_DIM)
        self.linear_aft = nn.Linear(HIDDEN, FEATURE_DIM)
        self.attention = TemporalAttention()

    def branches(self, x: torch.Tensor) -> torch.Tensor:
        """x (B,T,2048) -> Z (B,K,2048) = [g_past, g_cur, g_fut]."""
        if x.shape[1] != SEQLEN:
            raise ValueError(f"windows must have {SEQLEN} frames, got {x.shape[1]}")
        seq = x.permute(1, 0, 2)  # (T, B, 2048): the GRUs are time-major
        y, _ = self.gru_cur(seq)  # (T, B, 2*H)
        g_cur = self.linear_cur(torch.relu(y[MID]))
        past, _ = self.gru_bef(seq[:MID])  # frames 0..7
        g_past = self.linear_bef(torch.relu(past[-1]))
        fut, _ = self.gru_aft(seq[MID + 1:].flip(0))  # frames 15..9
        g_fut = self.linear_aft(torch.relu(fut[-1]))
        return torch.stack([g_past, g_cur, g_fut], dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B,T,2048) -> integrated feature (B,2048), attention scores (B,K)."""
        z = self.branches(x)
        scores = self.attention(z)
        return (scores.unsqueeze(-1) * z).sum(dim=1), scores
