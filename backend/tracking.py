"""Multi-person tracking: per-frame person boxes -> tracks with stable ids.

The `Track` type and `fixed_track` (for `--bbox`) are the interface the pipeline relies on;
the SORT-style `Tracker` (Kalman + Hungarian on IoU) fills the rest of this module.

Box convention of a Track (as the official multi-person tracker): square boxes
[cx, cy, w, h] in pixels with w == h == max(width, height) of the person box, i.e. BEFORE the
x1.2 crop margin that the crop step applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Track:
    """One person. frames (n,) int64 strictly increasing source frame indices;
    boxes (n,4) float64 [cx, cy, w, h] square boxes, pixels; interpolated (n,) bool marks
    frames filled by gap interpolation rather than seen by the detector."""

    id: int
    frames: np.ndarray
    boxes: np.ndarray
    interpolated: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)


def square_box(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    """Corner box -> square [cx, cy, s, s] with s = max(width, height), same centre."""
    side = max(x2 - x1, y2 - y1)
    return np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0, side, side], dtype=np.float64)


def fixed_track(frames: np.ndarray, bbox_xywh: tuple[float, float, float, float], track_id: int = 1) -> Track:
    """`--bbox X,Y,W,H` (top-left and size, pixels): one person in that box in every frame."""
    x, y, w, h = bbox_xywh
    box = square_box(x, y, x + w, y + h)
    frames = np.asarray(frames, dtype=np.int64)
    return Track(track_id, frames, np.tile(box, (len(frames), 1)), np.zeros(len(frames), dtype=bool))
