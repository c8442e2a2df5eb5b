"""Crop camera -> translation: a pinhole with one focal length reproduces the official orig_cam."""

from __future__ import annotations

import numpy as np

from backend.camera import crop_cam_to_transl, default_focal, orig_cam, project_orig_cam, project_pinhole

W, H = 812, 720


def _case(rng, frames=20):
    cam = np.stack([rng.uniform(0.6, 1.3, frames), rng.uniform(-0.2, 0.2, frames),
                    rng.uniform(-0.1, 0.3, frames)], axis=1)  # (F,3) s, tx, ty
    side = rng.uniform(120, 500, frames)
    boxes = np.stack([rng.uniform(0, W, frames), rng.uniform(0, H, frames), side, side], axis=1)
    return cam, boxes


def test_orig_cam_matches_the_official_formula_by_hand():
    cam = np.array([[0.9, 0.05, 0.2]])
    box = np.array([[500.0, 300.0, 200.0, 200.0]])
    h = 240.0  # box side x 1.2
    sx, sy = 0.9 * h / W, 0.9 * h / H
    expect = [sx, sy, (500 - W / 2) / (W / 2) / sx + 0.05, (300 - H / 2) / (H / 2) / sy + 0.2]
    assert np.allclose(orig_cam(cam, box, W, H)[0], expect, rtol=1e-12)


def test_pinhole_projection_equals_weak_perspective_on_the_depth_plane():
    rng = np.random.default_rng(0)
    cam, boxes = _case(rng)
    focal = default_focal(W, H)
    transl = crop_cam_to_transl(cam, boxes, W, H, focal)  # (F,3)
    points = rng.uniform(-0.9, 0.9, size=(len(cam), 30, 3))
    points[..., 2] = 0.0  # on the body's depth plane (model z = 0)
    pinhole = project_pinhole(points + transl[:, None], focal, W, H)
    weak = project_orig_cam(points, orig_cam(cam, boxes, W, H), W, H)
    assert np.abs(pinhole - weak).max() < 1e-6  # exact up to float64 rounding


def test_crop_camera_geometry_directly():
    """Independent of orig_cam: a point maps to crop pixel 112 + 112 s (X + tx), and the crop spans
    1.2 x side image pixels around the box centre."""
    cam = np.array([[1.1, 0.1, -0.05]])
    box = np.array([[300.0, 400.0, 250.0, 250.0]])
    focal = 1000.0
    X = np.array([[[0.3, -0.4, 0.0]]])
    crop_u = 112 + 112 * 1.1 * (0.3 + 0.1)
    crop_v = 112 + 112 * 1.1 * (-0.4 - 0.05)
    expect = [300 + (crop_u - 112) * 300 / 224, 400 + (crop_v - 112) * 300 / 224]
    got = project_pinhole(X + crop_cam_to_transl(cam, box, W, H, focal)[:, None], focal, W, H)
    assert np.allclose(got[0, 0], expect, atol=1e-9)


def test_points_off_the_depth_plane_follow_perspective_within_the_bound():
    """Tolerance: a point at depth Z off the plane moves towards the principal point by the
    factor Tz/(Tz+Z), so |pinhole - weak| = |weak - c| * |Z| / (Tz + Z) (a few percent for a body)."""
    rng = np.random.default_rng(1)
    cam, boxes = _case(rng)
    focal = default_focal(W, H)
    transl = crop_cam_to_transl(cam, boxes, W, H, focal)
    points = rng.uniform(-0.9, 0.9, size=(len(cam), 30, 3))
    points[..., 2] = rng.uniform(-0.3, 0.3, size=points.shape[:2])
    pinhole = project_pinhole(points + transl[:, None], focal, W, H)
    weak = project_orig_cam(points, orig_cam(cam, boxes, W, H), W, H)
    z, tz = points[..., 2:3], transl[:, None, 2:3]
    centre = np.array([W / 2, H / 2])
    expect = centre + (weak - centre) * tz / (tz + z)
    assert np.abs(pinhole - expect).max() < 1e-6
    assert np.all(np.abs(pinhole - weak) <= np.abs(weak - centre) * np.abs(z) / (tz + z) + 1e-6)


def test_depth_follows_focal_and_box_size():
    cam = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    boxes = np.array([[W / 2, H / 2, 200.0, 200.0], [W / 2, H / 2, 400.0, 400.0],
                      [W / 2, H / 2, 200.0, 200.0]])
    t = crop_cam_to_transl(cam, boxes, W, H, 1200.0)
    assert np.allclose(t[:, 2], [2 * 1200 / 240, 2 * 1200 / 480, 2 * 1200 / 480])  # Tz = 2f/(b s)
    assert np.allclose(t[:, :2], 0.0)  # centred box, tx = ty = 0: on the optical axis
    assert np.allclose(crop_cam_to_transl(cam, boxes, W, H, 2400.0)[:, 2], 2 * t[:, 2])


def test_default_focal_is_the_diagonal():
    f = default_focal(W, H)
    assert np.isclose(f, np.hypot(W, H))
    fov = 2 * np.degrees(np.arctan(np.hypot(W, H) / 2 / f))
    assert 50 < fov < 56
