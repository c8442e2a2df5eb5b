"""Crop-box smoothing on synthetic tracks whose true boxes are known by construction."""

import argparse

import numpy as np
import pytest

from backend.box_smoothing import BoxSmoothingConfig, raw_box_arrays, smooth_boxes, smooth_tracks
from backend.tracking import Track

FPS = 30.0


def true_boxes(n: int = 120) -> np.ndarray:
    """A person walking towards the camera: centre moves, side grows; smooth, known motion."""
    t = np.arange(n, dtype=np.float64)
    cx = 200 + 3.0 * t + 20 * np.sin(t / 15)
    cy = 300 + 0.5 * t
    side = 250 * np.exp(0.004 * t)
    return np.stack([cx, cy, side, side], axis=1)


def jittered(boxes: np.ndarray, seed: int = 0, rel: float = 0.015) -> np.ndarray:
    rng = np.random.default_rng(seed)
    side = boxes[:, 2:3]
    noisy = boxes.copy()
    noisy[:, :2] += rng.normal(0, rel, (len(boxes), 2)) * side
    noisy[:, 2:] *= np.exp(rng.normal(0, rel, (len(boxes), 1)))
    return noisy


def side_change_p90(boxes: np.ndarray) -> float:
    return float(np.percentile(np.abs(np.diff(boxes[:, 2]) / boxes[:-1, 2]), 90))


def test_smoothing_removes_jitter_and_comes_closer_to_the_truth():
    truth = true_boxes()
    raw = jittered(truth)
    out = smooth_boxes(raw, np.ones(len(raw), bool), FPS)
    assert side_change_p90(out) < 0.5 * side_change_p90(raw)
    err_raw = np.abs(raw[:, 2] / truth[:, 2] - 1).mean()
    err_out = np.abs(out[:, 2] / truth[:, 2] - 1).mean()
    assert err_out < 0.6 * err_raw
    centre_raw = np.linalg.norm(raw[:, :2] - truth[:, :2], axis=1).mean()
    centre_out = np.linalg.norm(out[:, :2] - truth[:, :2], axis=1).mean()
    assert centre_out < 0.6 * centre_raw


def test_steady_motion_passes_without_lag_also_at_the_ends():
    t = np.arange(40, dtype=np.float64)
    side = 200 * np.exp(0.01 * t)  # log-linear growth, linear centre motion: the fit's own model
    boxes = np.stack([100 + 6 * t, 50 - 2 * t, side, side], axis=1)
    out = smooth_boxes(boxes, np.ones(40, bool), FPS)
    np.testing.assert_allclose(out, boxes, rtol=1e-9, atol=1e-6)


def test_an_outlier_box_is_ignored():
    truth = true_boxes(60)
    raw = truth.copy()
    raw[30, 2:] *= 1.8  # a box around two people, for one frame
    raw[31, 0] += 0.6 * raw[31, 2]  # a box jumping sideways to a half body
    out = smooth_boxes(raw, np.ones(60, bool), FPS)
    np.testing.assert_allclose(out[:, 2] / truth[:, 2], 1.0, atol=0.01)
    assert np.abs(out[:, 0] - truth[:, 0]).max() < 0.01 * truth[:, 2].min()


def test_gap_filled_boxes_count_less_than_detected_ones():
    truth = true_boxes(60)
    raw = truth.copy()
    detected = np.ones(60, bool)
    detected[20:30] = False
    raw[20:30, 2:] *= 1.1  # a poor bridge
    out = smooth_boxes(raw, detected, FPS)
    even = smooth_boxes(raw, np.ones(60, bool), FPS)
    assert np.abs(out[20:30, 2] / truth[20:30, 2] - 1).mean() < np.abs(even[20:30, 2] / truth[20:30, 2]
                                                                         - 1).mean()


def test_the_width_is_in_seconds_so_a_higher_frame_rate_smooths_the_same_time_span():
    truth30 = true_boxes(120)
    t60 = np.arange(240) / 2.0
    truth60 = np.stack([np.interp(t60, np.arange(120), truth30[:, k]) for k in range(4)], axis=1)
    out30 = smooth_boxes(jittered(truth30, 1), np.ones(120, bool), 30.0)
    out60 = smooth_boxes(jittered(truth60, 1), np.ones(240, bool), 60.0)
    out60_as_30 = smooth_boxes(jittered(truth60, 1), np.ones(240, bool), 30.0)
    err = [np.abs(o[:, 2] / tr[:, 2] - 1).mean() for o, tr in ((out30, truth30), (out60, truth60),
                                                               (out60_as_30, truth60))]
    assert err[1] < err[2]  # 60 fps smoothed over the same seconds beats half the span
    assert err[1] == pytest.approx(err[0], rel=0.5)


def test_disabled_returns_the_boxes_unchanged_and_tracks_keep_their_raw_boxes():
    raw = jittered(true_boxes(30))
    off = BoxSmoothingConfig(enabled=False)
    np.testing.assert_array_equal(smooth_boxes(raw, np.ones(30, bool), FPS, off), raw)
    interpolated = np.zeros(30, bool)
    interpolated[10:12] = True
    track = Track(3, np.arange(5, 35), raw, interpolated)
    (smoothed,) = smooth_tracks([track], FPS)
    assert smoothed.id == 3 and not np.allclose(smoothed.boxes, raw)
    np.testing.assert_array_equal(smoothed.raw_boxes, raw)
    arrays = raw_box_arrays(smoothed)
    np.testing.assert_allclose(arrays["bbox_raw_xywh"][:, :2], raw[:, :2] - raw[:, 2:] / 2, rtol=1e-6)
    assert arrays["detected"].tolist() == (~interpolated).tolist()


def test_run_option_turns_box_smoothing_off():
    from backend.commands.run import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--device", default="auto")
    add_arguments(parser)
    assert config_from_args(parser.parse_args(["clip.mp4", "--out", "o"])).box_smoothing is True
    assert config_from_args(parser.parse_args(["clip.mp4", "--out", "o", "--no-box-smoothing"])
                            ).box_smoothing is False
