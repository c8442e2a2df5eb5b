"""Crop-relative root orientation -> full camera frame (pure numpy).

TCMR sees a 224x224 crop around the person box and predicts the root orientation as if the
crop's own optical axis pointed at the person: relative to a *virtual camera* that looks along
the viewing ray through the crop centre. The real camera looks along +z, so for anyone off the
image centre the raw orientation is skewed by about atan(offset / f).

Convention (Perspective Crop Layers, Yu et al. 2021; the same look-at camera cameralib's
`turn_towards` builds): the virtual camera's z axis is the unit ray r = K^-1 [u, v, 1] through
the crop centre (u, v); its x axis is the camera's x axis turned about camera y only,
x_v = (1, 0, -x) / sqrt(1 + x^2) with (x, y) = ((u - cx) / f, (v - cy) / f), so it has no
y component (no roll about the ray: image rows stay level); y_v = z_v x x_v. Then

    R_virt2cam = [x_v | y_v | z_v]        R_root_cam = R_virt2cam . R_root_crop

It is the identity at the principal point; for a person right of centre it is a turn about
camera +y by atan(x). Why this one and not the minimal rotation (axis = z x r): both agree to
first order, but the no-roll camera keeps the virtual image's horizontal aligned with the
image rows, the way the crop is cut (an axis-aligned square), so a person standing upright in
the crop stays upright; the minimal rotation adds a small roll in the image corners.
Translation is left as the crop camera gives it (backend.camera, CLIFF's cam_crop2full): the
body's root lands on the same ray either way. Camera frame: OpenCV (x right, y down, z forward).
"""

from __future__ import annotations

import numpy as np

from backend.smpl_np import matrix_to_rotvec, rotvec_to_matrix


def virt_to_camera(centres_px: np.ndarray, focal: float, principal: np.ndarray) -> np.ndarray:
    """Crop centres (T,2) pixels -> rotations (T,3,3) from the crop's virtual camera to the camera."""
    c = np.asarray(centres_px, dtype=np.float64).reshape(-1, 2)
    x = (c[:, 0] - principal[0]) / focal
    y = (c[:, 1] - principal[1]) / focal
    nx = np.sqrt(1.0 + x * x)
    nxy = np.sqrt(1.0 + x * x + y * y)
    rot = np.zeros((len(c), 3, 3))
    rot[:, 0, 0] = 1.0 / nx
    rot[:, 2, 0] = -x / nx
    rot[:, 0, 1] = -x * y / (nx * nxy)
    rot[:, 1, 1] = nx / nxy
    rot[:, 2, 1] = -y / (nx * nxy)
    rot[:, 0, 2] = x / nxy
    rot[:, 1, 2] = y / nxy
    rot[:, 2, 2] = 1.0 / nxy
    return rot


def box_centres(bbox_xywh: np.ndarray) -> np.ndarray:
    """Contract 3 boxes (T,4) top-left x, y, w, h -> centres (T,2) pixels (the crop centre)."""
    b = np.asarray(bbox_xywh, dtype=np.float64).reshape(-1, 4)
    return b[:, :2] + b[:, 2:] / 2.0


def camera_root_orient(global_orient: np.ndarray, bbox_xywh: np.ndarray, focal: float,
                       principal: np.ndarray) -> np.ndarray:
    """Raw crop-relative global_orient (T,3) axis-angle -> full-camera-frame root (T,3,3)."""
    r_crop = rotvec_to_matrix(np.asarray(global_orient, dtype=np.float64).reshape(-1, 3))
    return virt_to_camera(box_centres(bbox_xywh), focal, np.asarray(principal, dtype=np.float64)) @ r_crop


def camera_root_orient_rotvec(global_orient: np.ndarray, bbox_xywh: np.ndarray, focal: float,
                              principal: np.ndarray) -> np.ndarray:
    """Same as camera_root_orient, as axis-angle (T,3)."""
    return matrix_to_rotvec(camera_root_orient(global_orient, bbox_xywh, focal, principal))
