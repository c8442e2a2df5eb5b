"""Per-frame 16-frame windows, as the official demo builds them (pure numpy).

Output frame t of an F-frame track is predicted as the centre (index 8) of one window:

* the real window [t-8, t+7] when it lies inside the track (0 <= t-8 and t+7 <= F-1);
* otherwise a static window: 16 copies of frame t's own feature (no padding, no clamping).

For F >= 16 this is exactly the official FeatureDataset (docs/tcmr_facts.md, Windowing). It gives
one row per frame for every F >= 1; the official demo misaligns rows for F = 8..14 and fails
for F < 8, which is intentionally not reproduced.

`stride` > 1 spaces a window's frames `stride` frames apart (window [t-8s, t+7s] in steps of s)
so that high-frame-rate video gives the network the time span it was trained on
(backend.frame_rate picks s from the video's rate); stride 1 is the official window.
"""

from __future__ import annotations

import numpy as np

SEQLEN = 16  # T
MID = 8  # centre index: 8 past frames, 7 future frames


def real_window_mask(num_frames: int, seqlen: int = SEQLEN, mid: int = MID, stride: int = 1) -> np.ndarray:
    """(F,) bool: True where frame t gets the real window [t-mid*s, t+(seqlen-1-mid)*s], s = stride."""
    if num_frames < 1:
        raise ValueError(f"a track needs at least 1 frame, got {num_frames}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    t = np.arange(num_frames)
    return (t - mid * stride >= 0) & (t + (seqlen - 1 - mid) * stride <= num_frames - 1)


def window_indices(num_frames: int, seqlen: int = SEQLEN, mid: int = MID, stride: int = 1) -> np.ndarray:
    """(F, T) int64 frame indices of each output frame's window (row t has t at column mid)."""
    real = real_window_mask(num_frames, seqlen, mid, stride)
    t = np.arange(num_frames, dtype=np.int64)[:, None]  # (F, 1)
    offsets = (np.arange(seqlen, dtype=np.int64)[None, :] - mid) * stride  # (1, T)
    return np.where(real[:, None], t + offsets, t)
