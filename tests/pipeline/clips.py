"""Synthetic footage for the pipeline tests: a bright stick figure walking across a dark frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 160, 120
BBOX = (20, 10, 60, 100)  # X, Y, W, H: covers the figure's path in every frame


def figure_frame(i: int, width: int = WIDTH, height: int = HEIGHT, x0: float = 30.0) -> np.ndarray:
    """Frame i (H,W,3) uint8 BGR: a figure whose centre moves 1 px per frame."""
    frame = np.full((height, width, 3), 30, dtype=np.uint8)
    cx = int(x0 + i) % (width - 20) + 10
    cv2.circle(frame, (cx, 25), 8, (200, 220, 240), -1)  # head
    cv2.line(frame, (cx, 33), (cx, 70), (60, 160, 230), 5)  # body
    swing = int(10 * np.sin(i / 3.0))
    cv2.line(frame, (cx, 70), (cx - 8 + swing, 105), (200, 80, 40), 4)  # legs
    cv2.line(frame, (cx, 70), (cx + 8 - swing, 105), (200, 80, 40), 4)
    cv2.line(frame, (cx - 15, 45), (cx + 15, 45 + swing), (60, 160, 230), 3)  # arms
    return frame


def write_mp4(path: Path, frames: int, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(figure_frame(i))
    writer.release()
    return path


def write_images(folder: Path, frames: int, suffix: str = ".png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        cv2.imwrite(str(folder / f"frame_{i:04d}{suffix}"), figure_frame(i))
    return folder
