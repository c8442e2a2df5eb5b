"""Wrapper around the grounding issue's synthetic truth (tests/scenes/world_scene.py, used
unchanged): the world track the `ground` command would hand the foot lock for each person.

The un-locked world track is the simulated raw network output with its root turned from the
crop into the full camera frame (backend.grounding.perspective) and then into the world with
the *true* camera, so the foot lock is measured on its own, not on the floor fit. Depth, limb
and root errors of the simulated network stay.
"""

from __future__ import annotations

import numpy as np

from backend import smpl_np
from backend.footlock import body
from backend.grounding.perspective import camera_root_orient_rotvec


def world_track(scene, index: int, smpl) -> dict:
    net = scene.network[index]
    cam = scene.camera
    t = len(net["frame_index"])
    pose = np.asarray(net["body_pose"], dtype=np.float64).reshape(t, 23, 3)
    root = camera_root_orient_rotvec(net["global_orient"], net["bbox_xywh"], cam.focal, cam.principal)
    betas = np.asarray(net["betas"], dtype=np.float64)
    j0 = body.body_model(smpl, betas).rest_joints[0]
    c2w = cam.camera_to_world
    transl = np.asarray(net["transl"], dtype=np.float64)
    go, tr = smpl_np.rigid_to_world(root, transl, j0, c2w[:3, :3], c2w[:3, 3])
    return {"world_global_orient": go, "world_body_pose": pose, "world_transl": tr, "betas": betas,
            "frame_index": np.asarray(net["frame_index"])}
