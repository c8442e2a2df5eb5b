"""Steadier crop boxes: a zero-lag smoother over a whole track, with an outlier guard (pure numpy).

TCMR's translation comes from the box and the crop camera (backend.camera, equation (2): depth is
inversely proportional to the box side), so frame-to-frame jitter of the detector's box becomes
centimetres of jitter in the world. The track is known in full before any crop is cut, so the
boxes can be smoothed without delay:

1. Outlier guard: each detected box is compared with a running median of the track (over
   `median_s` seconds); a box whose side differs by more than `outlier_side` (relative) or whose
   centre is more than `outlier_centre` box sides away is given no weight (a detector glitch:
   a box around two people, a half body).
2. Local linear regression with Gaussian weights (sigma `sigma_s` seconds) on cx, cy and
   log(side), each sample weighted by how much it is trusted (detected 1, gap-filled
   `bridged_weight`, outlier 0). A centred, locally linear fit follows steady motion without
   lag or overshoot, also at the ends of the track, and removes jitter faster than the person
   moves.

The raw boxes stay in the track (`Track.raw_boxes`) and are written to the result as
`bbox_raw_xywh`. Boxes are [cx, cy, w, h] pixels, square (w == h) as backend.tracking makes
them; F frames of a track.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import correlate1d, median_filter

from backend.tracking import Track

RAW_BOX_KEYS = ("bbox_raw_xywh", "detected")  # optional track-file keys written by raw_box_arrays


@dataclass(frozen=True)
class BoxSmoothingConfig:
    enabled: bool = True  # False (`run --no-box-smoothing`): the tracker's boxes as they are (official)
    sigma_s: float = 0.15  # seconds: Gaussian width of the local fit
    median_s: float = 0.5  # seconds: window of the running median the outlier guard compares with
    outlier_side: float = 0.2  # relative side change from the running median that marks an outlier
    outlier_centre: float = 0.3  # centre distance from the running median, in box sides
    bridged_weight: float = 0.3  # weight of gap-filled (not detected) boxes in the fit


def _frames(seconds: float, fps: float) -> float:
    return max(float(seconds) * float(fps), 1e-6)


def outlier_mask(boxes: np.ndarray, weights: np.ndarray, config: BoxSmoothingConfig,
                 fps: float) -> np.ndarray:
    """(F,) bool: boxes (F,4) far from the running median of the track (see the module docstring)."""
    size = max(3, round(_frames(config.median_s, fps)) | 1)  # odd window, in frames
    if len(boxes) < 3:
        return np.zeros(len(boxes), dtype=bool)
    log_side = np.log(np.maximum(boxes[:, 2], 1e-6))
    med_side = median_filter(log_side, size=size, mode="nearest")
    med_cx = median_filter(boxes[:, 0], size=size, mode="nearest")
    med_cy = median_filter(boxes[:, 1], size=size, mode="nearest")
    side = np.exp(med_side)
    centre_off = np.hypot(boxes[:, 0] - med_cx, boxes[:, 1] - med_cy) / side
    side_off = np.abs(np.expm1(log_side - med_side))
    return (weights > 0) & ((side_off > config.outlier_side) | (centre_off > config.outlier_centre))


def local_linear(values: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    """Weighted local linear regression with a Gaussian kernel: values (F,C), weights (F,) -> (F,C).

    At frame t it fits a + b (k - t) to the samples k with weights w_k g(k - t) and returns a.
    Where the fit is ill-conditioned (too few trusted samples nearby) it falls back to the
    weighted mean; where no sample nearby has weight, to the value itself."""
    values = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    radius = max(1, int(np.ceil(3.0 * sigma)))
    d = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (d / sigma) ** 2)

    def corr(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:  # sum_k kernel[k - t] x[k]
        return correlate1d(x, kernel, axis=0, mode="constant", cval=0.0)

    s0, s1, s2 = corr(w, g), corr(w, g * d), corr(w, g * d * d)
    wx = w[:, None] * values
    t0, t1 = corr(wx, g), corr(wx, g * d)
    det = s0 * s2 - s1 * s1
    good = det > 1e-6 * np.maximum(s0 * s2, 1e-12)
    out = values.copy()
    mean_ok = s0 > 1e-9
    out[mean_ok] = t0[mean_ok] / s0[mean_ok, None]
    lin = good & mean_ok
    out[lin] = (s2[lin, None] * t0[lin] - s1[lin, None] * t1[lin]) / det[lin, None]
    return out


def smooth_boxes(boxes: np.ndarray, detected: np.ndarray, fps: float,
                 config: BoxSmoothingConfig = BoxSmoothingConfig()) -> np.ndarray:
    """boxes (F,4) [cx,cy,w,h] pixels, detected (F,) bool, fps -> smoothed (F,4), same layout.

    Centre and log-size are fitted separately; sides stay positive."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not config.enabled or len(boxes) < 3:
        return boxes.copy()
    weights = np.where(np.asarray(detected, dtype=bool), 1.0, config.bridged_weight)
    weights[outlier_mask(boxes, weights, config, fps)] = 0.0
    channels = np.stack([boxes[:, 0], boxes[:, 1], np.log(np.maximum(boxes[:, 2], 1e-6)),
                         np.log(np.maximum(boxes[:, 3], 1e-6))], axis=1)
    fitted = local_linear(channels, weights, _frames(config.sigma_s, fps))
    return np.stack([fitted[:, 0], fitted[:, 1], np.exp(fitted[:, 2]), np.exp(fitted[:, 3])], axis=1)


def smooth_tracks(tracks: list[Track], fps: float, config: BoxSmoothingConfig = BoxSmoothingConfig()
                  ) -> list[Track]:
    """Each track with smoothed `boxes` and its tracker boxes kept as `raw_boxes`."""
    return [dataclasses.replace(t, boxes=smooth_boxes(t.boxes, ~np.asarray(t.interpolated, dtype=bool), fps,
                                                      config),
                                raw_boxes=np.asarray(t.boxes, dtype=np.float64))
            for t in tracks]


def raw_box_arrays(track: Track) -> dict[str, np.ndarray]:
    """Optional result keys: `bbox_raw_xywh` (T,4) float32, the tracker's boxes before smoothing
    (top-left + size, pixels, before the x1.2 margin), and `detected` (T,) bool."""
    raw = np.asarray(track.raw_boxes if track.raw_boxes is not None else track.boxes, dtype=np.float64)
    xywh = np.stack([raw[:, 0] - raw[:, 2] / 2, raw[:, 1] - raw[:, 3] / 2, raw[:, 2], raw[:, 3]], axis=1)
    return {"bbox_raw_xywh": xywh.astype(np.float32), "detected": ~np.asarray(track.interpolated, dtype=bool)}
