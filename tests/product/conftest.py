"""Fixtures for the add-on-as-a-product tests: synthetic clips and a job poller."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest


def write_clip(path: Path, frames: int = 12, size: tuple[int, int] = (160, 120), fps: float = 25.0) -> Path:
    """A small synthetic mp4: a light figure (head, torso, legs) walking over a grey gradient."""
    import cv2

    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened(), "opencv cannot write mp4v here"
    for f in range(frames):
        img = np.tile(np.linspace(60, 120, w, dtype=np.uint8)[None, :, None], (h, 1, 3))
        cx = w // 2 + int(10 * np.sin(f / 3))
        cv2.circle(img, (cx, h // 5), h // 14, (210, 190, 170), -1)
        top, bottom = h // 5 + h // 14, h // 2 + h // 10
        cv2.rectangle(img, (cx - w // 14, top), (cx + w // 14, bottom), (40, 60, 200), -1)
        cv2.line(img, (cx, h // 2 + h // 10), (cx - w // 12, h - 8), (30, 30, 30), 4)
        cv2.line(img, (cx, h // 2 + h // 10), (cx + w // 12, h - 8), (30, 30, 30), 4)
        writer.write(img)
    writer.release()
    return path


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "synthetic clip.mp4")


def poll_until(jobs, job, timeout_s: float = 240.0, on_tick=None) -> None:
    """Drive the timer callback by hand (bpy.app.timers never fire in the bpy module)."""
    deadline = time.monotonic() + timeout_s
    while not job.done:
        assert time.monotonic() < deadline, "the job did not finish in time"
        jobs.poll_jobs()
        if on_tick:
            on_tick(job)
        time.sleep(0.02)
