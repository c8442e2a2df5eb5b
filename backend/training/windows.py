"""Training windows of the official data sets (`split_into_chunks(..., is_train=True)`), pure numpy.

Rows of one video (`vid_name`) must be contiguous in a database, in frame order. For each video
with n >= 16 rows (shorter videos give no window):

* stride 1 (TRAIN.OVERLAP true, the table-4 3DPW configs): windows [i, i+15] start at every row
  up to the end of the last complete stride-16 chunk (VIBE's chunking, `match_vibe`), i.e. the
  last window ends at row 16*floor(n/16) - 1; then 8 copies of the first window are put in
  front and 7 copies of the last window at the end. Edge frames thus get no window of their
  own: the labels of the first/last real window's centre are seen more often instead.
* stride 16 (OVERLAP false): non-overlapping chunks [16k, 16k+15], no copies.
* other strides: windows every `stride` rows, VIBE truncation and copies as for stride 1.

A window supervises its centre row, start + 8 (docs/training.md).
"""

from __future__ import annotations

import numpy as np

SEQLEN = 16
MID = 8


def video_runs(vid_names: np.ndarray) -> list[tuple[int, int]]:
    """[(first_row, num_rows)] per video in order of first appearance; raises ValueError when a
    video's rows are not contiguous (the official split would silently mix videos)."""
    names = np.asarray(vid_names)
    if names.ndim != 1:
        raise ValueError(f"vid_name must be one-dimensional, got shape {names.shape}")
    if len(names) == 0:
        return []
    change = np.flatnonzero(names[1:] != names[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(names)]])
    run_names = names[starts]
    if len(np.unique(run_names)) != len(run_names):
        dup = next(n for n in run_names if (run_names == n).sum() > 1)
        raise ValueError(f"the rows of video '{dup}' are not contiguous")
    return [(int(s), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def video_windows(first: int, num_rows: int, stride: int, seqlen: int = SEQLEN) -> np.ndarray:
    """(W,) int64 start rows of one video's training windows (each covers start..start+seqlen-1)."""
    if num_rows < seqlen:
        return np.zeros(0, dtype=np.int64)
    starts = np.arange(0, num_rows - seqlen + 1, stride, dtype=np.int64)
    if stride != seqlen:
        last_end = (num_rows // seqlen) * seqlen - 1  # end row of VIBE's last stride-16 chunk
        hit = np.flatnonzero(starts + seqlen - 1 == last_end)
        if hit.size:  # the official loop keeps windows up to the one ending there
            starts = starts[:hit[-1] + 1]
        head = np.full(seqlen // 2, starts[0])
        tail = np.full(int(seqlen / 2 + 0.5) - 1, starts[-1])
        starts = np.concatenate([head, starts, tail])
    return starts + first


def train_windows(vid_names: np.ndarray, stride: int, seqlen: int = SEQLEN) -> np.ndarray:
    """(W,) int64 start rows of all training windows of a database, videos in order."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    parts = [video_windows(first, n, stride, seqlen) for first, n in video_runs(vid_names)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def stride_for(overlap: bool, seqlen: int = SEQLEN) -> int:
    """Official `int(seqlen * (1 - overlap) + 0.5)` with overlap = (seqlen-1)/seqlen or 0."""
    frac = (seqlen - 1) / seqlen if overlap else 0.0
    return int(seqlen * (1 - frac) + 0.5)
