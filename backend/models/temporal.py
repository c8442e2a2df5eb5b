"""TCMR temporal encoder (docs/tcmr_facts.md, Temporal encoder; official lib/models/tcmr.py).

Input windows (B,T=16,2048); the output describes the window's centre frame, index 8:

    g_cur  = linear_cur(relu(y[8]))       y = bidirectional gru_cur over all 16 frames
    g_past = linear_bef(relu(gru_bef(frames 0..7)[-1]))           (never sees frame 8)
    g_fut  = linear_aft(relu(gru_aft(frames 15,14,..,9)[-1]))     (never sees frame 8)
    scores = softmax(attention([g_past, g_cur, g_fut]))  (B,3)
    out    = sum_k scores[:,k] * Z[:,k]                  (B,2048)

Parameter names match the checkpoint's `encoder.*` keys.

Two equivalent ways to run the GRUs:
* `branches(x)`: nn.GRU on gathered windows (cuDNN on CUDA);
* `branches_indexed(frames, idx)`: for a whole track on the CPU. The first layer's input
  projection W_ih x + b_ih depends only on the frame, so it is computed once per frame for
  all four first-layer GRU directions and gathered per window step, instead of once per
  window step (16 times per frame); the recurrences are the PyTorch GRU cell equations
  (gate order r, z, n). gru_cur's second layer runs only the steps its centre output depends
  on (0..8 forward, 15..8 backward). About half the multiply-adds of `branches` per window.
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

    def branches_indexed(self, frames: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """frames (F,2048) of a track, idx (B,T) frame indices of B windows -> Z (B,K,2048).

        Same result as `branches(frames[idx])`, with the first-layer input projections shared.
        """
        if idx.shape[1] != SEQLEN:
            raise ValueError(f"windows must have {SEQLEN} frames, got {idx.shape[1]}")
        return self.branches_local(*frames_read(frames, idx))

    def branches_local(self, frames: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """frames (S,2048), idx (B,T) indices into them (0 <= idx < S) -> Z (B,K,2048).

        `branches_indexed` without the slicing to the frames read: its shapes depend only on
        the inputs', so it also traces to a graph (backend.engines.temporal_onnx).
        """
        first = [(self.gru_cur, ""), (self.gru_cur, "_reverse"), (self.gru_bef, ""), (self.gru_aft, "")]
        w_ih = torch.cat([getattr(g, f"weight_ih_l0{sfx}") for g, sfx in first])  # (4*3H, 2048)
        b_ih = torch.cat([getattr(g, f"bias_ih_l0{sfx}") for g, sfx in first])  # (4*3H,)
        proj = torch.addmm(b_ih, frames, w_ih.t())  # (S, 4*3H): per-frame input projections
        gi = proj[idx.t()]  # (T, B, 4*3H), time-major
        g3 = 3 * HIDDEN
        cur_f, cur_b, bef, aft = (gi[:, :, k * g3:(k + 1) * g3] for k in range(4))

        # gru_cur, bidirectional, 2 layers over all 16 frames
        cur = self.gru_cur
        y_f = _recur(cur_f, cur.weight_hh_l0, cur.bias_hh_l0)
        y_b = _recur(cur_b.flip(0), cur.weight_hh_l0_reverse, cur.bias_hh_l0_reverse).flip(0)
        y0 = torch.cat([y_f, y_b], dim=-1)  # (T, B, 2H)
        # Only the second layer's outputs at MID are read: its forward direction needs steps
        # 0..MID, its backward direction steps T-1..MID (17 of the 32 steps).
        y_f = _layer(y0[:MID + 1], cur, "")[-1]
        y_b = _layer(y0[MID:].flip(0), cur, "_reverse")[-1]
        g_cur = self.linear_cur(torch.relu(torch.cat([y_f, y_b], dim=-1)))
        # gru_bef over frames 0..7, gru_aft over frames 15..9
        past = _layer(_recur(bef[:MID], self.gru_bef.weight_hh_l0, self.gru_bef.bias_hh_l0), self.gru_bef, "")
        g_past = self.linear_bef(torch.relu(past[-1]))
        fut0 = _recur(aft[MID + 1:].flip(0), self.gru_aft.weight_hh_l0, self.gru_aft.bias_hh_l0)
        g_fut = self.linear_aft(torch.relu(_layer(fut0, self.gru_aft, "")[-1]))
        return torch.stack([g_past, g_cur, g_fut], dim=1)

    def integrate(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Z (B,K,2048) -> integrated feature (B,2048), attention scores (B,K)."""
        scores = self.attention(z)
        return (scores.unsqueeze(-1) * z).sum(dim=1), scores

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B,T,2048) -> integrated feature (B,2048), attention scores (B,K)."""
        return self.integrate(self.branches(x))


def frames_read(frames: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """frames (F,2048) of a track, idx (B,T) window indices -> (the frames these windows read (S,2048),
    idx into them). A batch of B windows spans at most B + T - 1 frames, so a whole track costs
    time and memory linear in its length."""
    lo, hi = int(idx.min()), int(idx.max()) + 1
    return frames[lo:hi], idx - lo


def _recur(gi: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
    """GRU recurrence from precomputed input projections gi (T,B,3H) -> outputs (T,B,H), h0 = 0.

    r = sigmoid(gi_r + W_hr h + b_hr), z = sigmoid(gi_z + W_hz h + b_hz),
    n = tanh(gi_n + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    """
    h = gi.new_zeros(gi.shape[1], w_hh.shape[1])
    outputs = []
    for step in range(gi.shape[0]):
        gh = torch.addmm(b_hh, h, w_hh.t())  # (B, 3H)
        i_r, i_z, i_n = gi[step].chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        h = n + z * (h - n)
        outputs.append(h)
    return torch.stack(outputs)


def _layer(x: torch.Tensor, gru: nn.GRU, suffix: str) -> torch.Tensor:
    """Second GRU layer (weights *_l1{suffix}) over x (T,B,In) -> (T,B,H)."""
    w_ih, b_ih = getattr(gru, f"weight_ih_l1{suffix}"), getattr(gru, f"bias_ih_l1{suffix}")
    gi = torch.addmm(b_ih, x.reshape(-1, x.shape[-1]), w_ih.t()).reshape(x.shape[0], x.shape[1], -1)
    return _recur(gi, getattr(gru, f"weight_hh_l1{suffix}"), getattr(gru, f"bias_hh_l1{suffix}"))
