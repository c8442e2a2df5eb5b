"""The body's distance along the viewing ray, corrected from planted feet.

The whole body at frame t moves by delta_t along u_t, the unit ray from the camera centre
through the pelvis: the pelvis stays on its pixel and the rest of the silhouette moves by a
small parallax only. One sparse least-squares problem over all frames:

* stationary (weight w_s): a foot joint planted at t-1 and t keeps its world position,
  p_j(t) + delta_t u_t = p_j(t-1) + delta_{t-1} u_{t-1} (frame to frame, from the depth change);
* floor (w_f): a planted joint's lowest sole vertex lies at z = 0 (the long-term level);
* steady (w_d): small first difference of delta: between contacts the network's own depth
  changes are trusted, so successive stances stay linked instead of each taking its own level;
* smooth (w_a): small second difference of the corrected distance;
* prior: the network's distance counts as one measurement per track with `prior_relative`
  error (far from the camera the floor says little about the distance), plus a tiny pull of
  delta to 0 (well-posed without any contact).

Stationary residuals are reweighted (Cauchy, scale `robust_scale`) so a wrong contact cannot
drag the body. Units: metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.ndimage import gaussian_filter1d
from scipy.sparse.linalg import spsolve


@dataclass(frozen=True)
class DepthConfig:
    stationary_weight: float = 1.0
    floor_weight: float = 0.01
    smooth_weight: float = 0.05
    steady_weight: float = 0.05
    prior_weight: float = 1e-6
    # The network's distance as one measurement per track with this relative error (0: off):
    # far from the camera the floor says little about the distance, then this one counts.
    prior_relative: float = 0.03
    stationary_sigma: float = 0.01  # m, frame-to-frame noise of a planted joint (weight 1)
    robust_scale: float = 0.03  # m
    robust_iterations: int = 3
    stabilise_sigma: float = 5.0  # frames, first pass before any contact is known


def rays(points: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """points (T,3) world -> unit rays (T,3) from the camera centre and distances (T,)."""
    d = points - centre
    dist = np.linalg.norm(d, axis=-1)
    return d / np.maximum(dist, 1e-9)[:, None], dist


def stabilise(distance: np.ndarray, sigma: float) -> np.ndarray:
    """First-pass correction (T,): the Gaussian-smoothed distance minus the raw one."""
    if len(distance) < 3 or sigma <= 0:
        return np.zeros_like(distance)
    return gaussian_filter1d(distance, sigma, mode="nearest") - distance


class _Rows:
    """Accumulates weighted sparse rows: sum_k w (a_k x - b)^2."""

    def __init__(self) -> None:
        self.r, self.c, self.v, self.b, self.w = [], [], [], [], []
        self.n = 0

    def add(self, cols: list[np.ndarray], vals: list[np.ndarray], b: np.ndarray, w: np.ndarray) -> None:
        m = len(b)
        idx = np.arange(self.n, self.n + m)
        for c, v in zip(cols, vals):
            self.r.append(idx)
            self.c.append(c)
            self.v.append(v)
        self.b.append(b)
        self.w.append(w)
        self.n += m

    def solve(self, size: int) -> np.ndarray:
        a = sparse.csr_matrix((np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
                              shape=(self.n, size))
        w = sparse.diags(np.concatenate(self.w))
        b = np.concatenate(self.b)
        return np.atleast_1d(spsolve((a.T @ w @ a).tocsc(), a.T @ (w @ b)))


def _regular_rows(rows: _Rows, distance: np.ndarray, cfg: DepthConfig) -> None:
    """The rows that do not depend on contacts: steady, smooth and prior."""
    t_count = len(distance)
    t1 = np.arange(1, t_count)
    ones = np.ones(t_count - 1)
    rows.add([t1, t1 - 1], [ones, -ones], np.zeros(t_count - 1), np.full(t_count - 1, cfg.steady_weight))
    if t_count >= 3:
        mid = np.arange(1, t_count - 1)
        acc = distance[2:] - 2.0 * distance[1:-1] + distance[:-2]
        ones = np.ones(len(mid))
        rows.add([mid - 1, mid, mid + 1], [ones, -2.0 * ones, ones], -acc,
                 np.full(len(mid), cfg.smooth_weight))
    prior = np.full(t_count, cfg.prior_weight)
    if cfg.prior_relative > 0:  # one measurement for the whole track, spread over its frames
        rel = cfg.stationary_sigma / (cfg.prior_relative * distance)
        prior += cfg.stationary_weight * rel ** 2 / t_count
    tt = np.arange(t_count)
    rows.add([tt], [np.ones(t_count)], np.zeros(t_count), prior)


def solve(joints: np.ndarray, sole_heights: np.ndarray, planted: np.ndarray, u: np.ndarray,
          distance: np.ndarray, cfg: DepthConfig = DepthConfig()) -> np.ndarray:
    """joints (T,J,3) world positions of the contact joints, sole_heights (T,J) m, planted
    (T,J) weights in [0,1], u (T,3) rays, distance (T,) -> delta (T,) metres along u."""
    t_count = joints.shape[0]
    delta = np.zeros(t_count)
    if t_count < 2:
        return delta
    t1, tt = np.arange(1, t_count), np.arange(t_count)
    pair = planted[1:] * planted[:-1]  # (T-1,J)
    step = joints[1:] - joints[:-1]  # (T-1,J,3)
    robust = np.ones_like(pair)
    for _ in range(max(1, cfg.robust_iterations)):
        rows = _Rows()
        for j in range(joints.shape[1]):
            for k in range(3):
                w = cfg.stationary_weight * pair[:, j] * robust[:, j]
                rows.add([t1, t1 - 1], [u[1:, k], -u[:-1, k]], -step[:, j, k], w)
            rows.add([tt], [u[:, 2]], -sole_heights[:, j], cfg.floor_weight * planted[:, j])
        _regular_rows(rows, distance, cfg)
        delta = rows.solve(t_count)
        moved = joints + (delta[:, None] * u)[:, None, :]
        resid = np.linalg.norm(moved[1:] - moved[:-1], axis=-1)  # (T-1,J)
        robust = 1.0 / (1.0 + (resid / cfg.robust_scale) ** 2)
    return delta
