"""The crop -> camera rotation (Perspective Crop Layers' no-roll virtual camera) against an
independent look-at construction and its defining properties."""

from __future__ import annotations

import math

import numpy as np

from backend.grounding.perspective import camera_root_orient, virt_to_camera
from backend.smpl_np import matrix_to_rotvec

PRINCIPAL = np.array([960.0, 540.0])
FOCAL = math.hypot(1920, 1080)


def _look_at(ray):
    z = ray / np.linalg.norm(ray)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def test_identity_at_the_principal_point():
    assert np.allclose(virt_to_camera(PRINCIPAL[None], FOCAL, PRINCIPAL)[0], np.eye(3), atol=1e-12)


def test_matches_a_look_at_camera_and_is_a_rotation():
    rng = np.random.default_rng(0)
    centres = rng.uniform([-200, -200], [2100, 1300], size=(50, 2))
    rots = virt_to_camera(centres, FOCAL, PRINCIPAL)
    for c, r in zip(centres, rots):
        ray = np.array([(c[0] - PRINCIPAL[0]) / FOCAL, (c[1] - PRINCIPAL[1]) / FOCAL, 1.0])
        assert np.allclose(r, _look_at(ray), atol=1e-12)
        assert np.allclose(r.T @ r, np.eye(3), atol=1e-12) and np.linalg.det(r) > 0
        assert abs(r[1, 0]) < 1e-12  # no roll: the virtual x axis stays in the image rows' plane


def test_off_centre_skew_is_atan_offset_over_f():
    """A person at 0.85 W of a 1920x1080 frame: ~17 degrees about camera +y (the issue's figure)."""
    u = 0.85 * 1920
    r = virt_to_camera(np.array([[u, 540.0]]), FOCAL, PRINCIPAL)[0]
    rotvec = matrix_to_rotvec(r)
    expected = math.atan((u - 960) / FOCAL)
    assert math.degrees(expected) > 16.5
    assert np.allclose(rotvec, [0.0, expected, 0.0], atol=1e-12)


def test_root_orientation_composes_on_the_left():
    rng = np.random.default_rng(1)
    go = rng.normal(size=(4, 3))
    boxes = np.array([[100.0, 100.0, 200.0, 200.0]] * 4)
    out = camera_root_orient(go, boxes, FOCAL, PRINCIPAL)
    from backend.smpl_np import rotvec_to_matrix

    rv = virt_to_camera(np.array([[200.0, 200.0]]), FOCAL, PRINCIPAL)[0]
    assert np.allclose(out, rv @ rotvec_to_matrix(go), atol=1e-12)
