"""The static camera's pose from the floor plane (pure numpy).

World frame: Z up (the floor normal n), metres, the floor at z = 0, the camera straight above the
world origin at height d, world yaw chosen so the camera looks along +Y (its optical axis
projected onto the floor). camera_to_world maps OpenCV camera coordinates (x right, y down,
z forward) to the world: X_w = R_wc X_c + (0, 0, d).

Without a floor (ground_found false) the world is the camera frame turned to Z up, the add-on's
old scene convention: X_w = (x, z, -y), camera at the origin.
"""

from __future__ import annotations

import math

import numpy as np

CAMERA_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # (x, z, -y)


def camera_to_world(normal: np.ndarray, height: float) -> np.ndarray:
    """Floor normal (3,) in camera coordinates (unit, up) and camera height (m) -> (4,4)."""
    z_axis = np.asarray(normal, dtype=np.float64)
    z_axis = z_axis / np.linalg.norm(z_axis)
    forward = np.array([0.0, 0.0, 1.0])
    y_axis = forward - (forward @ z_axis) * z_axis
    if np.linalg.norm(y_axis) < 1e-6:  # looking straight down: image up is world +Y
        y_axis = np.array([0.0, -1.0, 0.0]) - (-z_axis[1]) * z_axis
    y_axis /= np.linalg.norm(y_axis)
    x_axis = np.cross(y_axis, z_axis)
    out = np.eye(4)
    out[:3, :3] = np.stack([x_axis, y_axis, z_axis])  # rows: world axes in camera coordinates
    out[:3, 3] = [0.0, 0.0, float(height)]
    return out


def camera_frame_world() -> np.ndarray:
    """(4,4) camera_to_world of the no-floor world: the camera frame turned to Z up."""
    out = np.eye(4)
    out[:3, :3] = CAMERA_TO_ZUP
    return out


def camera_angles(c2w: np.ndarray) -> tuple[float, float]:
    """(pitch, roll) in degrees: pitch > 0 looks down; roll > 0 turns the image clockwise about
    the optical axis (the world's up leans towards the image's +x)."""
    up_cam = np.asarray(c2w)[:3, :3].T @ np.array([0.0, 0.0, 1.0])  # world up in camera coordinates
    pitch = math.degrees(math.asin(float(np.clip(-up_cam[2], -1.0, 1.0))))
    roll = math.degrees(math.atan2(float(up_cam[0]), float(-up_cam[1])))
    return pitch, roll


def transform_points(c2w: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Camera-frame points (...,3) -> world (...,3)."""
    c2w = np.asarray(c2w, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ c2w[:3, :3].T + c2w[:3, 3]
