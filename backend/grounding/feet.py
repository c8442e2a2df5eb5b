"""Feet of one camera-frame track: sole points, stillness, visibility (pure numpy).

A person's track in the camera frame (OpenCV, metres) after the perspective root correction:
`CameraTrack`. Its feet are described by the foot vertices of the SMPL mesh (skinned mostly to
the ankle + foot joints 7, 10 (left) / 8, 11 (right)): the *sole point* of a foot at a frame is
its lowest vertex along the current up direction, the point that touches a floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from backend.smpl_file import SmplData
from backend.smpl_np import pelvis_rest, rotvec_to_matrix, smpl_forward

FOOT_JOINTS = ((7, 10), (8, 11))  # (ankle, foot) of the left and the right foot
NECK = 12


def foot_vertex_ids(smpl: SmplData) -> np.ndarray:
    """(2, K) vertex ids of the left / right foot: skin weight on ankle + foot > 0.5, the same
    count per foot (the K lowest in the rest pose when one foot has more)."""
    ids = []
    for ankle, foot in FOOT_JOINTS:
        ids.append(np.flatnonzero(smpl.weights[:, ankle] + smpl.weights[:, foot] > 0.5))
    k = min(len(i) for i in ids)
    if k == 0:
        raise ValueError("the SMPL model has no vertices skinned to the feet")
    return np.stack([i[np.argsort(smpl.v_template[i, 1])[:k]] for i in ids])


@dataclass
class CameraTrack:
    """One person in the camera frame. T frames; K foot vertices per foot.

    orient (T,3,3) full-camera root rotation | body_pose (T,23,3) | betas (10,) | transl (T,3)
    pelvis (T,3) posed pelvis = J0 + transl | joints (T,24,3) | feet (T,2,K,3) foot vertices
    visible (T,2) bool: that foot's joints project inside the image | fps
    """

    track_id: int
    frame_index: np.ndarray
    orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    pelvis: np.ndarray
    joints: np.ndarray
    feet: np.ndarray
    visible: np.ndarray


def camera_track(smpl: SmplData, track_id: int, frame_index, orient_rotvec, body_pose, betas, transl,
                 focal: float, principal, size: tuple[int, int], foot_ids: np.ndarray) -> CameraTrack:
    """Posed joints and foot vertices of one track (camera frame) and which feet are in view."""
    verts, joints = smpl_forward(smpl, betas, orient_rotvec, body_pose, transl,
                                 vertex_ids=foot_ids.reshape(-1))
    t = len(joints)
    feet = verts.reshape(t, 2, foot_ids.shape[1], 3)
    ankles = joints[:, [FOOT_JOINTS[0][0], FOOT_JOINTS[1][0]]]  # (T,2,3)
    toes = joints[:, [FOOT_JOINTS[0][1], FOOT_JOINTS[1][1]]]
    visible = np.ones((t, 2), dtype=bool)
    for pts in (ankles, toes):
        z = pts[..., 2]
        px = focal * pts[..., :2] / np.maximum(z, 1e-6)[..., None] + np.asarray(principal)
        visible &= (z > 0.1) & (px[..., 0] >= 0) & (px[..., 0] < size[0]) & (px[..., 1] >= 0) \
            & (px[..., 1] < size[1])
    j0 = pelvis_rest(smpl, betas)
    return CameraTrack(int(track_id), np.asarray(frame_index, dtype=np.int64),
                       rotvec_to_matrix(orient_rotvec), np.asarray(body_pose, dtype=np.float64),
                       np.asarray(betas, dtype=np.float64), np.asarray(transl, dtype=np.float64),
                       np.asarray(transl, dtype=np.float64) + j0, joints, feet, visible)


def sole_points(feet: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Foot vertices (T,2,K,3) -> the lowest one of each foot along `up` (T,2,3)."""
    heights = feet @ up  # (T,2,K)
    low = np.argmin(heights, axis=2)  # (T,2)
    return np.take_along_axis(feet, low[..., None, None], axis=2)[:, :, 0]


def lateral_speed(points: np.ndarray, fps: float, sigma_frames: float = 1.5) -> np.ndarray:
    """Speed (T,...) in m/s of camera-frame points (T,...,3), lightly smoothed in time, counting
    only the motion across the viewing ray: depth errors along the ray do not look like steps."""
    if len(points) < 2:
        return np.zeros(points.shape[:-1])
    smooth = gaussian_filter1d(points, sigma_frames, axis=0, mode="nearest") if len(points) > 3 else points
    vel = np.gradient(smooth, axis=0) * fps
    ray = smooth / np.maximum(np.linalg.norm(smooth, axis=-1, keepdims=True), 1e-9)
    vel = vel - np.sum(vel * ray, axis=-1, keepdims=True) * ray
    return np.linalg.norm(vel, axis=-1)


def long_runs(mask: np.ndarray, min_run: int) -> np.ndarray:
    """Keep only runs of True (along axis 0, per column) at least `min_run` long. mask (T,...)."""
    flat = mask.reshape(len(mask), -1)
    out = np.zeros_like(flat)
    for c in range(flat.shape[1]):
        col = flat[:, c]
        start = None
        for i, v in enumerate(np.append(col, False)):
            if v and start is None:
                start = i
            elif not v and start is not None:
                if i - start >= min_run:
                    out[start:i, c] = True
                start = None
    return out.reshape(mask.shape)


def body_up(tracks: list[CameraTrack]) -> np.ndarray:
    """First guess of up (3,), camera frame: the mean direction from the ankles to the neck."""
    total = np.zeros(3)
    for tr in tracks:
        ankles = tr.joints[:, [FOOT_JOINTS[0][0], FOOT_JOINTS[1][0]]].mean(1)
        v = tr.joints[:, NECK] - ankles
        total += (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)).sum(0)
    norm = np.linalg.norm(total)
    return total / norm if norm > 0 else np.array([0.0, -1.0, 0.0])
