"""backend.windowing: the official per-frame windows, for every track length."""

from __future__ import annotations

import numpy as np
import pytest

from backend.windowing import real_window_mask, window_indices


@pytest.mark.parametrize("num_frames", [1, 5, 15])
def test_short_tracks_use_only_static_windows(num_frames):
    idx = window_indices(num_frames)
    assert idx.shape == (num_frames, 16)
    assert not real_window_mask(num_frames).any()
    np.testing.assert_array_equal(idx, np.repeat(np.arange(num_frames)[:, None], 16, axis=1))


def test_sixteen_frames_have_exactly_one_real_window_at_frame_8():
    idx = window_indices(16)
    assert np.flatnonzero(real_window_mask(16)).tolist() == [8]
    assert idx[8].tolist() == list(range(16))
    assert idx[7].tolist() == [7] * 16 and idx[9].tolist() == [9] * 16


def test_forty_frames_real_windows_for_8_to_32():
    idx = window_indices(40)
    real = real_window_mask(40)
    assert np.flatnonzero(real).tolist() == list(range(8, 33))  # 8 <= t <= F-8
    assert idx[8].tolist() == list(range(0, 16))
    assert idx[32].tolist() == list(range(24, 40))
    assert idx[20].tolist() == list(range(12, 28))
    for t in [*range(0, 8), *range(33, 40)]:  # first 8 and last 7 frames: static
        assert idx[t].tolist() == [t] * 16


@pytest.mark.parametrize("num_frames", [1, 2, 5, 8, 14, 15, 16, 17, 23, 40])
def test_every_row_is_centred_on_its_own_frame(num_frames):
    idx = window_indices(num_frames)
    assert idx.shape == (num_frames, 16) and idx.dtype == np.int64
    assert idx[:, 8].tolist() == list(range(num_frames))
    assert idx.min() >= 0 and idx.max() <= num_frames - 1


def test_zero_frames_is_an_error():
    with pytest.raises(ValueError):
        window_indices(0)
