"""One floor plane from every person's planted feet (pure numpy).

Plane, camera frame: {X : n . X + d = 0}, n unit and pointing up (from the feet to the head), so
the height of a point above the floor is n . X + d and the camera (the origin) stands d above it.

Candidates are the sole points (lowest foot vertex along the current up) of feet that are
  * in view (the foot's joints project inside the image),
  * low: within `low_margin` of the person's other foot or lower,
  * still: lateral speed (across the viewing ray) below `still_speed` for `min_run` frames.

Depth along the viewing ray is the network's weakest output: a person whose depth is off by a
factor k is seen, feet and all, scaled by k about the camera, so their feet lie on the parallel
plane n . X + k d = 0 (3 % at a 1.45 m camera height is 4 cm too high or low). The network's
pelvis errors are mostly a slide along the viewing ray, which moves the feet up or down by only
(k - 1) * (camera height - pelvis height), ~1.5 cm for 3 %, less than the feet's own pose errors,
so the floor cannot correct depth and depths are kept as the network gives them.
  1. RANSAC (fixed seed) on all candidates with a loose threshold (2 x `inlier`) drops feet
     that are not on the floor at all;
  2. the normal is the least-squares (SVD) normal of the RANSAC inliers, every person weighing
     the same (someone standing still for the whole clip must not outvote the walkers); one
     plane through everyone's feet: on synthetic truth this beat a normal from per-person
     centred points, whose spread along a walker's path is too thin;
  3. each person's offset d_j is the median of -n . p over their points within `inlier` of it
     (reported, `person_offsets`), the camera height d their point-weighted mean;
repeated `iterations` times with the sole points taken along the latest normal. When the points
barely spread over the floor (only people standing still in one spot) the normal comes from the
bodies' up direction instead (`normal_source`: "plane" | "body_up").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from backend.grounding.feet import CameraTrack, body_up, lateral_speed, long_runs, sole_points


@dataclass(frozen=True)
class FloorConfig:
    still_speed: float = 0.3  # m/s across the viewing ray
    min_run: int = 5  # frames a foot must stay still (at 30 fps: 0.17 s)
    low_margin: float = 0.05  # m above the person's lower foot
    inlier: float = 0.05  # m from the plane
    min_points: int = 20  # inlier sole points needed
    min_person_points: int = 10  # a person's inlier sole points for their own offset
    equal_person_weights: bool = True  # each person weighs the same in the plane fit
    min_spread: float = 0.25  # m: second principal RMS spread of the candidates for a normal
    max_tilt_deg: float = 35.0  # between the floor normal and the bodies' up direction
    iterations: int = 3
    ransac_iterations: int = 300


@dataclass
class FloorFit:
    """normal (3,) and offset d (m) of the plane in the camera frame, with the fit's quality."""

    found: bool
    reason: str
    normal: np.ndarray
    offset: float
    candidates: int = 0
    inliers: int = 0
    residual_rms_m: float = float("nan")
    residual_median_m: float = float("nan")
    spread_m: float = 0.0
    normal_source: str = "plane"
    tracks_used: list[int] = field(default_factory=list)
    body_tilt_deg: float = float("nan")
    person_offsets: dict[int, float] = field(default_factory=dict)  # d_j per track id



def candidates(tr: CameraTrack, up: np.ndarray, config: FloorConfig,
               fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Sole points of planted feet: (N,3) points and (N,) frame rows (into the track)."""
    soles = sole_points(tr.feet, up)  # (T,2,3)
    heights = soles @ up  # (T,2) relative: only differences within a frame matter
    low = heights <= heights.min(axis=1, keepdims=True) + config.low_margin
    still = lateral_speed(soles, fps) < config.still_speed
    keep = long_runs(low & still & tr.visible, config.min_run)
    rows, feet = np.nonzero(keep)
    return soles[rows, feet], rows


def _normal_svd(points: np.ndarray, weights: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares plane normal of points (N,3) (weights (N,) sum to 1), oriented along
    `up`, and the weighted RMS spreads (3,) along the principal axes."""
    centred = (points - weights @ points) * np.sqrt(weights)[:, None]
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    n = vt[-1] if vt[-1] @ up >= 0 else -vt[-1]
    return n, sv


def _ransac(points: np.ndarray, up: np.ndarray, threshold: float, config: FloorConfig) -> np.ndarray:
    """Inlier mask of the best plane through 3 candidates within max_tilt of `up` (hypotheses
    scored in chunks of 32, so memory stays ~32 x N)."""
    rng = np.random.default_rng(0)
    samples = points[rng.integers(0, len(points), size=(config.ransac_iterations, 3))]  # (H,3,3)
    normals = np.cross(samples[:, 1] - samples[:, 0], samples[:, 2] - samples[:, 0])
    norms = np.linalg.norm(normals, axis=1)
    ok = norms > 1e-9
    normals = normals[ok] / norms[ok, None]
    anchors = samples[ok, 0]
    tilt_ok = np.abs(normals @ up) >= math.cos(math.radians(config.max_tilt_deg))
    normals, anchors = normals[tilt_ok], anchors[tilt_ok]
    best, best_count = np.zeros(len(points), dtype=bool), -1
    for lo in range(0, len(normals), 32):
        n, a = normals[lo:lo + 32], anchors[lo:lo + 32]
        inside = np.abs(points @ n.T - np.sum(a * n, axis=1)) < threshold  # (N,h)
        counts = inside.sum(0)
        i = int(np.argmax(counts)) if len(counts) else 0
        if len(counts) and counts[i] > best_count:
            best, best_count = inside[:, i], int(counts[i])
    return best


def _normal(points: np.ndarray, owner: np.ndarray, up: np.ndarray,
            config: FloorConfig) -> tuple[np.ndarray, str, float]:
    """The plane's normal (else `up` when the points barely spread), its source and the spread.
    With equal_person_weights every person weighs the same, however many planted frames they have."""
    if config.equal_person_weights:
        ids, inverse, counts = np.unique(owner, return_inverse=True, return_counts=True)
        weights = 1.0 / (counts[inverse] * len(ids))
    else:
        weights = np.full(len(points), 1.0 / len(points))
    n, sv = _normal_svd(points, weights, up)
    if sv[1] >= config.min_spread:
        return n, "plane", float(sv[1])
    return up, "body_up", float(sv[1])


def _offsets(points, owner, n, config: FloorConfig) -> tuple[dict[int, float], np.ndarray]:
    """Per-person offsets d_j = median(-n . p) and the inlier mask (within `inlier` of its own plane)."""
    offsets = {}
    mask = np.zeros(len(points), dtype=bool)
    for tid in np.unique(owner):
        sel = owner == tid
        d_j = float(np.median(-(points[sel] @ n)))
        good = sel & (np.abs(points @ n + d_j) < config.inlier)
        if good.sum() >= config.min_person_points:
            offsets[int(tid)] = float(np.median(-(points[good] @ n)))
            mask |= good
    return offsets, mask


def _gather(tracks: list[CameraTrack], up: np.ndarray, config: FloorConfig, fps: float):
    pts, owners = [], []
    for tr in tracks:
        p, _ = candidates(tr, up, config, fps)
        pts.append(p)
        owners.append(np.full(len(p), tr.track_id))
    if not pts:
        return np.zeros((0, 3)), np.zeros(0, dtype=int)
    return np.concatenate(pts), np.concatenate(owners)


def _not_found(reason: str, up: np.ndarray, count: int) -> FloorFit:
    return FloorFit(False, reason, up, float("nan"), candidates=count)


def fit_floor(tracks: list[CameraTrack], fps: float, config: FloorConfig | None = None) -> FloorFit:
    """The floor under every track's planted feet (see the module docstring)."""
    config = config or FloorConfig()
    up0 = body_up(tracks)
    up = up0
    fit = _not_found("no foot is ever planted in view", up0, 0)
    for _ in range(config.iterations):
        points, owner = _gather(tracks, up, config, fps)
        if len(points) < max(config.min_points, 3):
            return _not_found(f"only {len(points)} planted-foot points in view (need {config.min_points})",
                              up0, len(points))
        keep = _ransac(points, up0, 2.0 * config.inlier, config)
        if keep.sum() < config.min_points:
            return _not_found(f"the planted feet do not lie on one plane ({int(keep.sum())} of "
                              f"{len(points)} points agree)", up0, len(points))
        n, source, spread = _normal(points[keep], owner[keep], up0, config)
        offsets, mask = _offsets(points, owner, n, config)
        if mask.sum() < config.min_points:
            return _not_found(f"too few feet agree with the floor ({int(mask.sum())} points)", up0,
                              len(points))
        counts = {t: int((mask & (owner == t)).sum()) for t in offsets}
        d = sum(counts[t] * offsets[t] for t in offsets) / sum(counts.values())
        residual = np.concatenate([points[mask & (owner == t)] @ n + offsets[t] for t in offsets])
        fit = FloorFit(True, "", n, float(d), candidates=len(points), inliers=int(mask.sum()),
                       residual_rms_m=float(np.sqrt(np.mean(residual ** 2))),
                       residual_median_m=float(np.median(np.abs(residual))), spread_m=spread,
                       normal_source=source, tracks_used=sorted(offsets),
                       body_tilt_deg=float(math.degrees(math.acos(np.clip(n @ up0, -1.0, 1.0)))),
                       person_offsets=offsets)
        up = n
    if not fit.offset > 0:
        return _not_found("the fitted floor is not below the camera", fit.normal, fit.candidates)
    if fit.body_tilt_deg > config.max_tilt_deg:
        return _not_found(f"the feet's plane is tilted {fit.body_tilt_deg:.0f} degrees from the bodies' "
                          "up direction", fit.normal, fit.candidates)
    return fit
