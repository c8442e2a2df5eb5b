"""High frame rates: window strides, which frames feed a window, one output row per source frame."""

from __future__ import annotations

import numpy as np
import pytest

from backend.frame_rate import window_span_s, window_stride
from backend.windowing import real_window_mask, window_indices


@pytest.mark.parametrize(("fps", "stride"), [(23.976, 1), (25, 1), (29.97, 1), (30, 1), (40, 1), (48, 2),
                                             (50, 2), (59.94, 2), (60, 2), (90, 3), (120, 4), (240, 8)])
def test_the_stride_brings_the_window_near_30_fps(fps, stride):
    assert window_stride(fps) == stride
    assert window_stride(fps, native=True) == 1


def test_a_60_fps_window_spans_half_a_second_like_a_30_fps_one():
    assert window_span_s(60.0, window_stride(60.0)) == pytest.approx(0.5)
    assert window_span_s(30.0, window_stride(30.0)) == pytest.approx(0.5)
    assert window_span_s(60.0, 1) == pytest.approx(0.25)  # what 16 consecutive frames would cover


def test_stride_two_windows_take_every_second_frame_around_their_own_frame():
    idx = window_indices(100, stride=2)
    assert idx.shape == (100, 16)
    assert idx[50].tolist() == list(range(34, 66, 2))  # t-16 .. t+14, t at column 8
    assert idx[51].tolist() == list(range(35, 67, 2))  # the in-between frame has its own window
    real = real_window_mask(100, stride=2)
    assert np.flatnonzero(real).tolist() == list(range(16, 86))  # t-16 >= 0 and t+14 <= 99
    assert idx[15].tolist() == [15] * 16 and idx[86].tolist() == [86] * 16  # static at the edges
    np.testing.assert_array_equal(window_indices(40, stride=1), window_indices(40))


def test_stride_must_be_positive():
    with pytest.raises(ValueError):
        window_indices(20, stride=0)


def test_run_option_keeps_the_consecutive_windows_reachable():
    import argparse

    from backend.commands.run import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--device", default="auto")
    add_arguments(parser)
    config = config_from_args(parser.parse_args(["clip.mp4", "--out", "o", "--native-windows"]))
    assert config.native_windows is True
    assert window_stride(60.0, native=config.native_windows) == 1
