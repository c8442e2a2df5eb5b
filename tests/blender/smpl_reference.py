"""An independent SMPL forward pass for the tests (numpy + scipy's Rotation), written from the
SMPL paper / smplx's lbs(): shape blend shapes, joint regression, pose blend shapes with
(R - I) features of joints 1..23, forward kinematics, linear blend skinning, then + transl."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def smpl_forward(smpl, betas, global_orient, body_pose, transl, pose_blend: bool = True):
    """One frame. smpl: backend.smpl_file.SmplData. Returns vertices (6890,3) and joints (24,3),
    camera frame (the frame global_orient and transl are given in)."""
    v_shaped = smpl.v_template + np.einsum("vck,k->vc", smpl.shapedirs, betas)
    joints = smpl.J_regressor @ v_shaped  # (24,3)
    rotvecs = np.concatenate([np.reshape(global_orient, (1, 3)), np.reshape(body_pose, (23, 3))])
    rots = Rotation.from_rotvec(rotvecs).as_matrix()  # (24,3,3)
    v_posed = v_shaped
    if pose_blend:
        feature = (rots[1:] - np.eye(3)).reshape(-1)  # (207,)
        v_posed = v_shaped + np.einsum("vck,k->vc", smpl.posedirs, feature)
    world = np.zeros((24, 4, 4))
    for j in range(24):
        local = np.eye(4)
        local[:3, :3] = rots[j]
        parent = smpl.parents[j]
        local[:3, 3] = joints[j] - (joints[parent] if parent >= 0 else 0.0)
        world[j] = local if parent < 0 else world[parent] @ local
    skin = world.copy()
    skin[:, :3, 3] -= np.einsum("jab,jb->ja", world[:, :3, :3], joints)  # remove the rest joint
    per_vertex = np.einsum("vj,jab->vab", smpl.weights, skin)  # (V,4,4)
    verts = np.einsum("vab,vb->va", per_vertex[:, :3, :3], v_posed) + per_vertex[:, :3, 3]
    return verts + transl, world[:, :3, 3] + transl


def blender_to_camera(points):
    """Scene convention Blender = (x_cam, z_cam, -y_cam), inverted: camera = (x, -z, y)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)
