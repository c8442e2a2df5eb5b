"""Figures the foot-lock tests and benchmark pin against the synthetic truth (tests/footlock/truth.py)."""

from __future__ import annotations

import numpy as np

from backend.smpl_np import CONTACT_JOINTS

SWITCH_MARGIN = 2  # frames either side of a truth contact switch left out


def keep_mask(truth: np.ndarray, margin: int = SWITCH_MARGIN) -> np.ndarray:
    """(T,4) bool: frames not within `margin` of a truth switch of that column."""
    keep = np.ones(truth.shape, dtype=bool)
    for j in range(truth.shape[1]):
        for s in np.nonzero(np.diff((truth[:, j] > 0.5).astype(int)))[0]:
            keep[max(0, s + 1 - margin): s + 1 + margin, j] = False
    return keep


def f1_counts(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(true positives, predicted, actual) planted counts, switch frames left out."""
    keep = keep_mask(truth)
    p, g = (pred > 0.5)[keep], (truth > 0.5)[keep]
    return float((p & g).sum()), float(p.sum()), float(g.sum())


def f1(counts) -> float:
    tp, p, g = np.sum(np.asarray(counts), axis=0)
    return 2.0 * tp / max(p + g, 1.0)


def sliding_steps(joints: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Displacements (m) of joints 7, 8, 10, 11 between frames planted (truth) at t-1 and t."""
    feet = joints[:, list(CONTACT_JOINTS)]
    both = (truth[1:] > 0.5) & (truth[:-1] > 0.5)
    return np.linalg.norm(feet[1:] - feet[:-1], axis=-1)[both]


def planted_floor_distance(heights: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|lowest vertex of a planted foot| (m) on truth-planted frames away from switches:
    heights (T,4) per contact joint, the foot's lowest vertex is the min of its two joints."""
    keep = keep_mask(truth)
    out = []
    for a, f in ((0, 2), (1, 3)):
        sel = (truth[:, a] > 0.5) & (truth[:, f] > 0.5) & keep[:, a] & keep[:, f]
        out.append(np.abs(np.minimum(heights[sel, a], heights[sel, f])))
    return np.concatenate(out)


def overlay_px(scene, joints: np.ndarray, truth_joints: np.ndarray) -> np.ndarray:
    """Pixel distances (T*24,) between the projections of two world joint sets."""
    return np.linalg.norm(scene.project(joints) - scene.project(truth_joints), axis=-1).reshape(-1)
