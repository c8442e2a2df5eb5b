"""Camera geometry of a track (pure numpy): TCMR's crop camera -> full image -> metres.

TCMR predicts a weak-perspective camera per frame for its 224 crop, cam_weak = (s, tx, ty):
a body point X (SMPL model coordinates, camera orientation: x right, y down, z forward) lands
at crop-normalised u = s*(X + tx), v = s*(Y + ty), i.e. crop pixel 112 + 112*u.
The crop spans b = 1.2 * box side pixels of the image around the box centre (cx, cy), so in
image pixels (derivation, b/224 pixels per crop pixel):

    x_img = cx + (b/2) * s * (X + tx)        y_img = cy + (b/2) * s * (Y + ty)          (1)

A pinhole camera with focal f (pixels) and principal point (W/2, H/2) sees the body translated by
T = (Tx, Ty, Tz) at x_img = W/2 + f * (X + Tx) / (Z + Tz). For points on the body's depth plane
(Z = 0) this equals (1) for every X exactly when

    Tz = 2f / (b s),    Tx = tx + 2 (cx - W/2) / (b s),    Ty = ty + 2 (cy - H/2) / (b s).   (2)

Points off that plane (Z != 0, a body is ~+-0.3 m deep) move towards/away from the principal
point by the factor Tz / (Tz + Z): that is the perspective the weak camera ignores.
T is smplx's `transl` (posed vertices + transl), in metres because SMPL is in metres.
"""

from __future__ import annotations

import math

import numpy as np

from backend.crops import BOX_SCALE

FOCAL_RULE = ("sqrt(W^2 + H^2) px: the image diagonal, a ~53 degree diagonal field of view (CLIFF's "
              "assumption for an unknown camera); TCMR's own 5000 px on a 224 crop is a near-orthographic "
              "stand-in, not a lens")


def default_focal(width: int, height: int) -> float:
    """One focal length (pixels) for a whole video whose camera is unknown.

    TCMR's own crop camera (focal 5000 px on a 224 crop, a 2.6 degree field of view) is a
    near-orthographic stand-in, not a lens: scaling it to the image (4D-Humans' 5000/256*max(W,H))
    would put a person filling half an 812x720 frame ~90 m away behind a telephoto lens.
    We use the image diagonal, f = sqrt(W^2 + H^2) (a ~53 degree diagonal field of view), the
    assumption CLIFF makes for unknown cameras and close to ordinary phone and camcorder lenses;
    the same person then stands a few metres from the camera. `--focal PX` overrides it.
    """
    return float(math.hypot(width, height))


def orig_cam(cam_weak: np.ndarray, boxes: np.ndarray, width: int, height: int,
             scale: float = BOX_SCALE) -> np.ndarray:
    """Official crop -> image camera (docs/tcmr_facts.md). cam_weak (F,3) (s,tx,ty), boxes (F,4)
    [cx,cy,w,h] before the margin -> (F,4) [sx, sy, tx', ty'] in image-normalised coordinates
    u = (x - W/2)/(W/2) = sx (X + tx'), v = (y - H/2)/(H/2) = sy (Y + ty')."""
    cam = np.asarray(cam_weak, dtype=np.float64).reshape(-1, 3)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s, tx, ty = cam[:, 0], cam[:, 1], cam[:, 2]
    cx, cy, side = boxes[:, 0], boxes[:, 1], boxes[:, 2] * scale
    hw, hh = width / 2.0, height / 2.0
    sx = s * side / width
    sy = s * side / height
    return np.stack([sx, sy, (cx - hw) / hw / sx + tx, (cy - hh) / hh / sy + ty], axis=1)


def crop_cam_to_transl(cam_weak: np.ndarray, boxes: np.ndarray, width: int, height: int, focal: float,
                       scale: float = BOX_SCALE) -> np.ndarray:
    """Equation (2): cam_weak (F,3), boxes (F,4) [cx,cy,w,h] before the margin -> transl (F,3) metres,
    camera frame (x right, y down, z forward), for a pinhole with focal `focal` px at the image centre.
    A non-positive scale s (a degenerate prediction) is clamped to 1e-6 to keep values finite."""
    cam = np.asarray(cam_weak, dtype=np.float64).reshape(-1, 3)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.maximum(cam[:, 0], 1e-6)
    bs = boxes[:, 2] * scale * s  # (F,) b*s: image pixels per body metre at the depth plane, x2
    tz = 2.0 * focal / bs
    tx = cam[:, 1] + 2.0 * (boxes[:, 0] - width / 2.0) / bs
    ty = cam[:, 2] + 2.0 * (boxes[:, 1] - height / 2.0) / bs
    return np.stack([tx, ty, tz], axis=1)


def project_pinhole(points: np.ndarray, focal: float, width: int, height: int) -> np.ndarray:
    """points (...,3) camera frame (z forward) -> (...,2) pixels, principal point at the image centre."""
    points = np.asarray(points, dtype=np.float64)
    z = points[..., 2:3]
    return focal * points[..., :2] / z + np.array([width / 2.0, height / 2.0])


def project_orig_cam(points: np.ndarray, cam: np.ndarray, width: int, height: int) -> np.ndarray:
    """Official weak perspective in the image: points (F,N,3) model coords, cam (F,4) -> (F,N,2) px."""
    points = np.asarray(points, dtype=np.float64)
    cam = np.asarray(cam, dtype=np.float64)[:, None, :]  # (F, 1, 4)
    u = cam[..., 0] * (points[..., 0] + cam[..., 2])
    v = cam[..., 1] * (points[..., 1] + cam[..., 3])
    return np.stack([(u + 1.0) * width / 2.0, (v + 1.0) * height / 2.0], axis=-1)
