"""backend.confidence: the mapping's guarantees, the pipeline factors, the calibration, and the
network's branch disagreement on noise-replaced features (synthetic weights)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from backend import confidence as conf
from tests.model.conftest import make_features


def _branches(angles_deg: np.ndarray) -> np.ndarray:
    """(T,) angles -> branch_rotmat (T,3,24,3,3): branches 0 and 1 equal, branch 2 turned by the angle."""
    t = len(angles_deg)
    base = Rotation.random(t * 24, random_state=1).as_matrix().reshape(t, 24, 3, 3)
    turn = Rotation.from_rotvec(np.radians(angles_deg)[:, None] * np.array([[0.3, -0.8, 0.52]])
                                / np.linalg.norm([0.3, -0.8, 0.52])).as_matrix()  # (T,3,3)
    out = np.repeat(base[:, None], 3, axis=1)
    out[:, 2] = np.einsum("tij,tkjl->tkil", turn, base)
    return out


def test_full_confidence_where_the_branches_coincide():
    c = conf.track_confidence(_branches(np.zeros(5)))
    assert c.shape == (5, 24) and c.dtype == np.float32
    np.testing.assert_array_equal(c, 1.0)


def test_spread_is_the_angle_and_confidence_decreases_monotonically():
    angles = np.array([0.0, 0.5, 2.0, 10.0, 20.0, 45.0, 90.0, 170.0])
    spread = conf.branch_spread_deg(_branches(angles))
    np.testing.assert_allclose(spread, np.repeat(angles[:, None], 24, 1), atol=1e-6)
    c = conf.track_confidence(_branches(angles))
    assert np.all(np.diff(c[:, 0]) < 0) and np.all((c >= 0) & (c <= 1))
    assert c[4, 0] == pytest.approx(0.5, abs=1e-6)  # 1/2 at half_spread_deg (20)


def test_pipeline_knowledge_lowers_confidence():
    t = 4
    boxes = np.array([[10, 10, 100, 100], [-50, 10, 100, 100], [10, 10, 100, 100], [10, 10, 100, 100]], float)
    interp = np.array([False, False, True, False])
    score = np.array([0.9, 0.9, 0.9, 0.3])
    f = conf.evidence_factor(t, interp, boxes, (640, 480), score)
    assert f[0] == 1.0
    assert f[1] == pytest.approx(1 - conf.DEFAULT.edge_weight * 0.5)  # half the box cut by the edge
    assert f[2] == conf.DEFAULT.interpolated_factor
    assert f[3] == conf.DEFAULT.score_floor
    c = conf.track_confidence(_branches(np.zeros(t)), interp, boxes, (640, 480), score)
    np.testing.assert_allclose(c, np.repeat(f[:, None], 24, 1), rtol=1e-6)


def test_calibration_recovers_a_known_half_spread():
    rng = np.random.default_rng(3)
    spread = rng.uniform(0, 60, 20000)
    p_ok = 1 / (1 + (spread / 12.0) ** 2)  # ground truth built with half spread 12 degrees
    error = np.where(rng.uniform(size=spread.size) < p_ok, 5.0, 50.0)
    assert conf.calibrate_half_spread(spread, error, tolerance_deg=30) == pytest.approx(12.0, rel=0.08)


def test_noise_replaced_features_get_lower_confidence(models):
    from backend.models.inference import regress_track

    feats = 0.5 + 0.02 * make_features(40, seed=2)  # a nearly still person
    noisy = feats.copy()
    noisy[18:24] = np.random.default_rng(5).uniform(0.0, 3.0, (6, 2048))
    c = conf.track_confidence(regress_track(models, noisy)["branch_rotmat"])
    clean_rows = np.r_[0:10, 32:40]  # no window of these reads a noisy frame
    assert c[18:24].mean() < c[clean_rows].mean()


def test_branches_that_ignore_the_feature_give_full_confidence(models):
    from backend.models.inference import regress_track

    tcmr = copy.deepcopy(models.tcmr)
    tcmr.regressor.fc1.weight.data[:, :2048] = 0.0  # the regressor no longer reads its feature
    out = regress_track(replace(models, tcmr=tcmr), make_features(4, seed=1))
    assert out["branch_rotmat"].shape == (4, 3, 24, 3, 3)
    np.testing.assert_allclose(conf.track_confidence(out["branch_rotmat"]), 1.0, atol=1e-6)


def test_branch_rotations_match_the_float64_reference(models, gen_state):
    """branch_rotmat[:, k] = the official regressor (IEF) on branch k's feature alone, k = past,
    current, future: checked against the independent float64 reference of tests/model/reference.py."""
    from backend.models.inference import regress_track
    from tests.model.reference import encoder_branches, ief, sixd_to_rotmat, windows_for

    feats = make_features(17, seed=3)  # row 8 has the real window, the others static
    ours = regress_track(models, feats)["branch_rotmat"]
    win = feats.astype(np.float64)[np.array(windows_for(17))]  # (17, 16, 2048)
    for k, g in enumerate(encoder_branches(win, gen_state)):
        pose6d, _, _ = ief(g, gen_state)
        np.testing.assert_allclose(ours[:, k], sixd_to_rotmat(pose6d), atol=2e-5)
