"""Per-track motion in the world (pure numpy).

smplx convention: world vertices = SMPL(world_global_orient, world_body_pose, betas) + world_transl,
the root rotating about the shaped pelvis rest joint J0. With camera_to_world [R | c] and the
camera-frame root R_cam (perspective-corrected) and pelvis P_cam = J0 + transl:

    R_world = R . R_cam        world_transl = R . P_cam + c - J0        body pose unchanged
"""

from __future__ import annotations

import numpy as np

from backend.grounding.feet import CameraTrack
from backend.smpl_np import CONTACT_JOINTS, matrix_to_rotvec

WORLD_KEYS = ("world_global_orient", "world_body_pose", "world_transl", "contact")
GROUNDED_KEYS = (*WORLD_KEYS, "camera_global_orient")  # the keys a grounded track file adds


def world_track(tr: CameraTrack, c2w: np.ndarray) -> dict[str, np.ndarray]:
    """Plain numpy arrays of one track in the world: world_global_orient (T,3), world_body_pose
    (T,23,3), world_transl (T,3), betas (10,), frame_index (T,), contact (T,4) zeros (filled by
    foot contact when it runs)."""
    c2w = np.asarray(c2w, dtype=np.float64)
    rot, origin = c2w[:3, :3], c2w[:3, 3]
    j0 = tr.pelvis[0] - tr.transl[0]
    pelvis_w = tr.pelvis @ rot.T + origin
    return {
        "track_id": tr.track_id,
        "frame_index": tr.frame_index.copy(),
        "betas": tr.betas.copy(),
        "world_global_orient": matrix_to_rotvec(rot @ tr.orient),
        "world_body_pose": tr.body_pose.copy(),
        "world_transl": pelvis_w - j0,
        "contact": np.zeros((len(tr.frame_index), len(CONTACT_JOINTS)), dtype=np.float32),
    }
