"""Low-confidence frame ranges of a character (pure; docs/confidence_and_editing.md)."""

from __future__ import annotations

import numpy as np


def per_frame_min(confidence: np.ndarray) -> np.ndarray:
    """confidence (T,24) -> (T,) the least confident joint of each frame."""
    return np.asarray(confidence, dtype=np.float64).reshape(len(confidence), -1).min(axis=1)


def low_ranges(frames: np.ndarray, values: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """frames (T,) increasing, values (T,) -> [(first frame, last frame, lowest value)] of each run of
    consecutive rows with value < threshold."""
    frames = np.rint(np.asarray(frames, dtype=np.float64)).astype(np.int64).reshape(-1)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    low = values < threshold
    ranges = []
    start = None
    for i, flag in enumerate(np.r_[low, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            ranges.append((int(frames[start]), int(frames[i - 1]), float(np.min(values[start:i]))))
            start = None
    return ranges


def scene_to_video_frame(scene_frame: float, scene_frames: np.ndarray, video_frames: np.ndarray) -> int:
    """The video frame of a track row nearest to `scene_frame` (the character's key frames)."""
    scene_frames = np.asarray(scene_frames, dtype=np.float64)
    return int(np.asarray(video_frames)[int(np.argmin(np.abs(scene_frames - scene_frame)))])
