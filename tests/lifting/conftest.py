"""Fixtures of the lifting tests: a synthetic VideoPose3D checkpoint (official layout and
size, random weights) written once per session, and a smooth made-up keypoint track."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

WIDTH, HEIGHT = 812.0, 720.0


@pytest.fixture(scope="session")
def lift_data_dir(tmp_path_factory):
    from backend.synthetic_lift import LIFT_CHECKPOINT_NAME, write_lift_checkpoint

    cache = os.environ.get("TCMR_TEST_DATA_CACHE")
    folder = Path(cache + "_lift") if cache else tmp_path_factory.mktemp("lift_data")
    if not (folder / LIFT_CHECKPOINT_NAME).exists():
        write_lift_checkpoint(folder / LIFT_CHECKPOINT_NAME, seed=3)
    return folder


def make_track(frames: int, seed: int = 0) -> np.ndarray:
    """(T,17,3) COCO keypoints in pixels (a swaying figure) with confidences 0.6..1."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([300, 150], [500, 600], (17, 2))
    t = np.arange(frames)[:, None, None]
    xy = base + 20 * np.sin(t / 9.0 + np.arange(17)[None, :, None]) + rng.normal(0, 1, (frames, 17, 2))
    conf = rng.uniform(0.6, 1.0, (frames, 17, 1))
    return np.concatenate([xy, conf], axis=-1)
