"""Planted-foot detection from the height of the sole above the floor and the joint's speed.

Per frame and contact joint (SMPL 7, 8, 10, 11): p = p_height * p_speed, two logistic terms
(low and slow). A hysteresis on p (switch on above `on`, off below `off`), then contacts and
gaps shorter than `min_frames` are removed, so a contact does not flicker. The returned value
keeps the confidence but agrees with the decision: > 0.5 exactly on planted frames.

Depth noise makes world speeds of a planted foot large; callers detect on a stabilised motion
first and re-detect after the depth correction (see lock.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d


@dataclass(frozen=True)
class ContactConfig:
    """Heights in metres above the floor (lowest sole vertex of the joint), speeds in m/s."""

    height: float = 0.06  # p_height = 0.5 here
    height_soft: float = 0.012
    speed: float = 0.32  # p_speed = 0.5 here (HuMoR/GVHMR label 0.15 m/s, looser for noise)
    speed_soft: float = 0.07
    on: float = 0.6
    off: float = 0.35
    min_frames: int = 3  # shorter contacts are dropped, shorter gaps are filled
    smooth_sigma: float = 1.0  # frames, Gaussian on positions before the speed
    # First pass only: depth errors move a planted foot along its viewing ray, so the speed
    # along the ray is judged against this looser bound and only the rest against `speed`.
    along_speed: float | None = None


def _logistic_below(x: np.ndarray, centre: float, soft: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(np.clip((x - centre) / soft, -50.0, 50.0)))


def velocities(positions: np.ndarray, fps: float, sigma: float) -> np.ndarray:
    """positions (T,J,3) m -> velocity (T,J,3) m/s (central differences of a smoothed path)."""
    if positions.shape[0] < 2:
        return np.zeros(positions.shape)
    smooth = gaussian_filter1d(positions, sigma, axis=0, mode="nearest") if sigma > 0 else positions
    return np.gradient(smooth, axis=0) * fps


def speeds(positions: np.ndarray, fps: float, sigma: float) -> np.ndarray:
    """positions (T,J,3) m -> speed (T,J) m/s."""
    return np.linalg.norm(velocities(positions, fps, sigma), axis=-1)


def probability(heights: np.ndarray, positions: np.ndarray, fps: float, cfg: ContactConfig,
                rays: np.ndarray | None = None) -> np.ndarray:
    """heights (T,J), positions (T,J,3), optional unit viewing rays (T,3) -> contact
    probability (T,J) in [0,1]."""
    p_h = _logistic_below(heights, cfg.height, cfg.height_soft)
    vel = velocities(positions, fps, cfg.smooth_sigma)
    if cfg.along_speed is None or rays is None:
        return p_h * _logistic_below(np.linalg.norm(vel, axis=-1), cfg.speed, cfg.speed_soft)
    along = np.einsum("tjc,tc->tj", vel, rays)
    across = np.linalg.norm(vel - along[..., None] * rays[:, None, :], axis=-1)
    return p_h * _logistic_below(across, cfg.speed, cfg.speed_soft) \
        * _logistic_below(np.abs(along), cfg.along_speed, 2.0 * cfg.speed_soft)


def runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, end exclusive, value) runs of a 1-D bool array."""
    if len(mask) == 0:
        return []
    edges = np.nonzero(np.diff(mask.astype(np.int8)))[0] + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(mask)]])
    return [(int(s), int(e), bool(mask[s])) for s, e in zip(starts, ends)]


def hysteresis(prob: np.ndarray, cfg: ContactConfig) -> np.ndarray:
    """prob (T,J) -> planted (T,J) bool: on above cfg.on, off below cfg.off, short runs removed."""
    planted = np.zeros(prob.shape, dtype=bool)
    for j in range(prob.shape[1]):
        state = prob[0, j] >= 0.5 * (cfg.on + cfg.off)
        for t in range(prob.shape[0]):
            if state and prob[t, j] < cfg.off:
                state = False
            elif not state and prob[t, j] > cfg.on:
                state = True
            planted[t, j] = state
        planted[:, j] = remove_short(planted[:, j], cfg.min_frames)
    return planted


def remove_short(mask: np.ndarray, min_frames: int) -> np.ndarray:
    """Fill gaps, then drop contacts, shorter than min_frames (runs touching the ends stay)."""
    out = mask.copy()
    for value in (False, True):
        for s, e, v in runs(out):
            if v == value and e - s < min_frames and s > 0 and e < len(out):
                out[s:e] = not value
    return out


def detect(heights: np.ndarray, positions: np.ndarray, fps: float,
           cfg: ContactConfig = ContactConfig(), rays: np.ndarray | None = None) -> np.ndarray:
    """Contact values (T,J) in [0,1]; > 0.5 exactly where planted (the hysteresis decision)."""
    prob = probability(heights, positions, fps, cfg, rays)
    planted = hysteresis(prob, cfg)
    return np.where(planted, 0.5 + 0.5 * np.maximum(prob, 0.02), 0.5 * prob).clip(0.0, 1.0)
