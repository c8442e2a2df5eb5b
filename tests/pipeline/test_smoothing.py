"""Optional smoothing: constants pass unchanged, noise goes down, rotations stay valid rotations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from backend.smoothing import SmoothingConfig, smooth_rotations, smooth_translation

METHODS = ["oneeuro", "slerp"]


def _angle_between(a, b):
    """Geodesic angle (rad) between axis-angle arrays (...,3)."""
    ra = Rotation.from_rotvec(a.reshape(-1, 3))
    rb = Rotation.from_rotvec(b.reshape(-1, 3))
    return (ra.inv() * rb).magnitude().reshape(a.shape[:-1])


def _noisy_motion(frames=120, joints=24, noise=0.08, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None]
    axes = rng.normal(size=(joints, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = 0.6 + 0.3 * np.sin(2 * np.pi * t / 90.0)  # slow motion, (F, J)
    clean = Rotation.from_rotvec((angles[..., None] * axes).reshape(-1, 3))
    jitter = Rotation.from_rotvec(rng.normal(scale=noise, size=(frames * joints, 3)))
    noisy = (jitter * clean).as_rotvec().reshape(frames, joints, 3)
    return clean.as_rotvec().reshape(frames, joints, 3), noisy


@pytest.mark.parametrize("method", METHODS)
def test_constant_rotation_is_unchanged(method):
    # the root near pi about x, where axis-angle flips: still unchanged
    aa = np.tile(np.array([[3.1, 0.05, -0.02], [0.2, -0.4, 0.1]]), (50, 1, 1))
    out = smooth_rotations(aa, SmoothingConfig(method=method))
    assert _angle_between(out, aa).max() < 1e-9


@pytest.mark.parametrize("method", METHODS)
def test_constant_translation_is_unchanged(method):
    transl = np.tile([0.3, -0.2, 4.5], (40, 1))
    assert np.allclose(smooth_translation(transl, SmoothingConfig(method=method)), transl, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_rotation_noise_is_reduced_and_outputs_are_rotations(method):
    clean, noisy = _noisy_motion()
    out = smooth_rotations(noisy, SmoothingConfig(method=method))
    assert out.shape == noisy.shape and np.isfinite(out).all()
    before = _angle_between(noisy, clean)[10:].mean()
    after = _angle_between(out, clean)[10:].mean()
    assert after < 0.7 * before
    # valid rotations: matrices from the output are orthonormal with det 1
    mats = Rotation.from_rotvec(out.reshape(-1, 3)).as_matrix()
    assert np.allclose(mats @ mats.transpose(0, 2, 1), np.eye(3), atol=1e-9)
    assert np.allclose(np.linalg.det(mats), 1.0)


@pytest.mark.parametrize("method", METHODS)
def test_sign_flips_near_pi_are_not_noise(method):
    """Axis-angle of a root wobbling around pi about x flips between ~(+pi,0,0) and ~(-pi,0,0)
    forms; filtered as quaternions it must not be pulled towards the identity."""
    rng = np.random.default_rng(3)
    angles = np.pi + rng.normal(scale=0.02, size=60)
    aa = (Rotation.from_rotvec(np.stack([angles, np.zeros(60), np.zeros(60)], 1))).as_rotvec()[:, None]
    assert np.abs(aa[:, 0, 0]).min() > 3.0 and (aa[:, 0, 0] > 0).any() and (aa[:, 0, 0] < 0).any()
    out = smooth_rotations(aa, SmoothingConfig(method=method))
    assert _angle_between(out, np.tile([[np.pi, 0, 0]], (60, 1, 1))).max() < 0.05


@pytest.mark.parametrize("method", METHODS)
def test_translation_noise_is_reduced(method):
    rng = np.random.default_rng(4)
    t = np.arange(200)[:, None]
    clean = np.concatenate([0.01 * t, 0.2 * np.sin(t / 30.0), 4 + 0.0 * t], axis=1)
    noisy = clean + rng.normal(scale=0.05, size=clean.shape)
    out = smooth_translation(noisy, SmoothingConfig(method=method))
    assert np.abs(out - clean)[20:].mean() < 0.7 * np.abs(noisy - clean)[20:].mean()


def test_none_is_identity_and_unknown_method_is_refused():
    _, noisy = _noisy_motion(frames=10)
    assert np.array_equal(smooth_rotations(noisy, SmoothingConfig()), noisy)
    with pytest.raises(ValueError):
        SmoothingConfig(method="kalman")
