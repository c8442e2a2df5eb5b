"""Per-frame, per-joint confidence in [0,1] (pure numpy; docs/confidence_and_editing.md).

Two sources, multiplied:

* the network's own disagreement: TCMR decodes three temporal features per frame (past,
  current, future); the regressor run on each alone gives three rotations per joint
  (`branch_rotmat` of `regress_track`). Their spread, the largest pairwise geodesic angle in
  degrees, maps to

      c_net(spread) = 1 / (1 + (spread / half_spread_deg)^2)

  which is exactly 1 where the three coincide, strictly decreasing in the spread and 1/2 at
  `half_spread_deg`;
* what the pipeline knows about the frame's evidence: a box filled in by the tracker's gap
  interpolation, a box cut by the frame edge, a low detection score (when known). Each gives a
  factor in (0,1], the same for every joint of that frame.

Shapes: T frames of a track, K=3 branches, J=24 SMPL joints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_JOINTS = 24


@dataclass(frozen=True)
class ConfidenceConfig:
    half_spread_deg: float = 20.0  # spread at which c_net = 0.5 (see calibrate_half_spread)
    interpolated_factor: float = 0.5  # frames whose box the tracker interpolated
    edge_weight: float = 0.6  # factor = 1 - edge_weight * (fraction of the box outside the frame)
    score_low: float = 0.3  # detection score at or below which the score factor is score_floor
    score_high: float = 0.8  # detection score at or above which the score factor is 1
    score_floor: float = 0.5


DEFAULT = ConfidenceConfig()


def pairwise_spread_deg(rotmats: np.ndarray) -> np.ndarray:
    """rotmats (..., K, 3, 3) -> (...) the largest geodesic angle between any two of the K, degrees.

    Uses angle = 2 asin(|Ra - Rb|_F / (2 sqrt 2)), accurate also for nearly equal rotations.
    """
    r = np.asarray(rotmats, dtype=np.float64)
    k = r.shape[-3]
    spread = np.zeros(r.shape[:-3])
    for a in range(k):
        for b in range(a + 1, k):
            frob = np.linalg.norm(r[..., a, :, :] - r[..., b, :, :], axis=(-2, -1))
            angle = 2.0 * np.arcsin(np.clip(frob / (2.0 * np.sqrt(2.0)), 0.0, 1.0))
            spread = np.maximum(spread, np.degrees(angle))
    return spread


def branch_spread_deg(branch_rotmat: np.ndarray) -> np.ndarray:
    """branch_rotmat (T,K,24,3,3) -> spread (T,24) degrees, across the K branch predictions."""
    r = np.asarray(branch_rotmat)
    if r.ndim != 5 or r.shape[2:] != (NUM_JOINTS, 3, 3):
        raise ValueError(f"branch_rotmat must be (T,K,24,3,3), got {r.shape}")
    return pairwise_spread_deg(np.swapaxes(r, 1, 2))  # (T,24,K,3,3) -> (T,24)


def network_confidence(spread_deg: np.ndarray, config: ConfidenceConfig = DEFAULT) -> np.ndarray:
    """spread (...) degrees >= 0 -> c_net (...) in (0,1]: 1 at 0, monotone decreasing."""
    s = np.maximum(np.asarray(spread_deg, dtype=np.float64), 0.0) / config.half_spread_deg
    return 1.0 / (1.0 + s * s)


def outside_fraction(bbox_xywh: np.ndarray, width: int, height: int) -> np.ndarray:
    """bbox_xywh (T,4) top-left + size px -> (T,) fraction of each box's area outside the frame."""
    b = np.asarray(bbox_xywh, dtype=np.float64).reshape(-1, 4)
    x0, y0 = b[:, 0], b[:, 1]
    x1, y1 = x0 + b[:, 2], y0 + b[:, 3]
    inside_w = np.clip(np.minimum(x1, width) - np.maximum(x0, 0.0), 0.0, None)
    inside_h = np.clip(np.minimum(y1, height) - np.maximum(y0, 0.0), 0.0, None)
    area = np.maximum(b[:, 2] * b[:, 3], 1e-9)
    return np.clip(1.0 - inside_w * inside_h / area, 0.0, 1.0)


def evidence_factor(num_frames: int, interpolated: np.ndarray | None = None,
                    bbox_xywh: np.ndarray | None = None, frame_size: tuple[int, int] | None = None,
                    det_score: np.ndarray | None = None, config: ConfidenceConfig = DEFAULT) -> np.ndarray:
    """(T,) factor in (0,1] from what the pipeline knows; each input is optional (None: unknown)."""
    factor = np.ones(num_frames)
    if interpolated is not None:
        factor *= np.where(np.asarray(interpolated, dtype=bool).reshape(num_frames),
                           config.interpolated_factor, 1.0)
    if bbox_xywh is not None and frame_size is not None:
        factor *= 1.0 - config.edge_weight * outside_fraction(bbox_xywh, *frame_size)
    if det_score is not None:
        s = np.asarray(det_score, dtype=np.float64).reshape(num_frames)
        ramp = np.clip((s - config.score_low) / (config.score_high - config.score_low), 0.0, 1.0)
        factor *= config.score_floor + (1.0 - config.score_floor) * np.where(np.isfinite(s), ramp, 1.0)
    return factor


def track_confidence(branch_rotmat: np.ndarray, interpolated: np.ndarray | None = None,
                     bbox_xywh: np.ndarray | None = None, frame_size: tuple[int, int] | None = None,
                     det_score: np.ndarray | None = None,
                     config: ConfidenceConfig = DEFAULT) -> np.ndarray:
    """branch_rotmat (T,3,24,3,3) + pipeline knowledge -> confidence (T,24) float32 in [0,1]."""
    c_net = network_confidence(branch_spread_deg(branch_rotmat), config)  # (T, 24)
    factor = evidence_factor(c_net.shape[0], interpolated, bbox_xywh, frame_size, det_score, config)
    return np.clip(c_net * factor[:, None], 0.0, 1.0).astype(np.float32)


def calibrate_half_spread(spread_deg: np.ndarray, error_deg: np.ndarray, tolerance_deg: float = 30.0,
                          grid: np.ndarray | None = None) -> float:
    """Fit half_spread_deg on data with ground truth (e.g. `evaluate` on 3DPW).

    spread_deg and error_deg: matching samples (any shape) of a joint's branch spread and its
    rotation error against ground truth. Reads c_net as the probability that the error is within
    `tolerance_deg` and returns the grid value with the highest Bernoulli log-likelihood.
    """
    s = np.asarray(spread_deg, dtype=np.float64).ravel()
    ok = np.asarray(error_deg, dtype=np.float64).ravel() <= tolerance_deg
    if s.size == 0 or s.size != ok.size:
        raise ValueError("spread and error need the same, non-zero number of samples")
    grid = np.geomspace(0.5, 180.0, 400) if grid is None else np.asarray(grid, dtype=np.float64)
    best, best_ll = float(grid[0]), -np.inf
    for h in grid:
        p = np.clip(1.0 / (1.0 + (s / h) ** 2), 1e-9, 1 - 1e-9)
        ll = float(np.sum(np.where(ok, np.log(p), np.log1p(-p))))
        if ll > best_ll:
            best, best_ll = float(h), ll
    return best


def confidence_arrays(regressed: dict, arrays: dict, interpolated: np.ndarray,
                      frame_size: tuple[int, int]) -> dict[str, np.ndarray]:
    """The optional track-file keys this module adds: `confidence` (T,24) float32 and
    `interpolated` (T,) bool, from regress_track's outputs and the track's Contract 3 arrays."""
    extra = {"interpolated": np.asarray(interpolated, dtype=bool).reshape(len(arrays["frame_index"]))}
    if "branch_rotmat" in regressed:
        extra["confidence"] = track_confidence(regressed["branch_rotmat"], extra["interpolated"],
                                               arrays["bbox_xywh"], frame_size)
    return extra
