"""addon/core/confidence_ranges.py (pure) and the add-on's default of saving features."""

from __future__ import annotations

import numpy as np

from addon.core import backend_cmd
from addon.core.confidence_ranges import low_ranges, per_frame_min, scene_to_video_frame


def test_low_ranges_finds_every_run_with_its_lowest_value():
    frames = np.arange(1, 11)
    values = np.array([0.1, 0.2, 0.9, 0.9, 0.4, 0.9, 0.9, 0.3, 0.2, 0.05])
    assert low_ranges(frames, values, 0.5) == [(1, 2, 0.1), (5, 5, 0.4), (8, 10, 0.05)]
    assert low_ranges(frames, values, 0.01) == []


def test_per_frame_min_and_nearest_video_frame():
    conf = np.ones((3, 24))
    conf[1, 5] = 0.25
    assert list(per_frame_min(conf)) == [1.0, 0.25, 1.0]
    assert scene_to_video_frame(6.4, [1.0, 3.0, 6.0], [0, 2, 5]) == 5


def test_the_addon_runs_with_save_features_by_default():
    argv = backend_cmd.run_argv("python", backend_cmd.RunSettings(video="v.mp4", out_dir="out"))
    assert "--save-features" in argv
    off = backend_cmd.RunSettings(video="v.mp4", out_dir="out", save_features=False)
    assert "--save-features" not in backend_cmd.run_argv("python", off)
