"""Rotation conversions: the official 6D layout and a robust axis-angle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from backend.models.geometry import rot6d_to_rotmat, rotmat_to_axis_angle
from tests.model.reference import aa_distance, kornia_rotmat_to_aa, sixd_to_rotmat


def test_6d_is_row_major_first_two_columns():
    R = Rotation.random(50, random_state=1).as_matrix()  # (50,3,3)
    p = R[:, :, :2].reshape(50, 6)  # (R00, R01, R10, R11, R20, R21)
    out = rot6d_to_rotmat(torch.from_numpy(p)).numpy()
    np.testing.assert_allclose(out, R, atol=1e-12)


def test_6d_gram_schmidt_matches_reference_on_raw_vectors():
    p = np.random.default_rng(2).normal(size=(4, 144))
    ours = rot6d_to_rotmat(torch.from_numpy(p)).numpy().reshape(4, 24, 3, 3)
    np.testing.assert_allclose(ours, sixd_to_rotmat(p), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(ours), 1.0, atol=1e-12)
    # a column-major reading would give a different matrix
    col_major = sixd_to_rotmat(p.reshape(-1, 2, 3).transpose(0, 2, 1).reshape(4, 144))
    assert np.abs(ours - col_major).max() > 0.1


def _angles_near(kind):
    rng = np.random.default_rng(7)
    axes = rng.normal(size=(40, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    axes[:3] = np.eye(3)  # exact coordinate axes, incl. x (TCMR's mean root orientation)
    if kind == "pi":
        angles = np.pi - np.logspace(-9, -1, 40)
        angles[:5] = np.pi
    elif kind == "zero":
        angles = np.logspace(-10, -1, 40)
        angles[0] = 0.0
    else:
        angles = rng.uniform(0.0, np.pi, 40)
    return axes * angles[:, None]


@pytest.mark.parametrize("kind", ["pi", "zero", "generic"])
def test_axis_angle_matches_log_map_float64(kind):
    aa = _angles_near(kind)
    R = Rotation.from_rotvec(aa).as_matrix()
    ours = rotmat_to_axis_angle(torch.from_numpy(R)).numpy()
    assert np.all(np.linalg.norm(ours, axis=1) <= np.pi + 1e-12)
    assert aa_distance(ours, aa).max() < 1e-9


@pytest.mark.parametrize("kind", ["pi", "zero", "generic"])
def test_axis_angle_float32_agrees_with_official_conversion(kind):
    R32 = Rotation.from_rotvec(_angles_near(kind)).as_matrix().astype(np.float32)
    ours = rotmat_to_axis_angle(torch.from_numpy(R32)).numpy().astype(np.float64)
    official = kornia_rotmat_to_aa(R32.astype(np.float64))
    assert aa_distance(ours, official).max() < 2e-6
    assert np.isfinite(ours).all()
