"""Batched SMPL forward pass in numpy (no torch), written from the SMPL paper / smplx's `lbs`.

verts = LBS(v_template + shapedirs . betas + posedirs . (R_1..23 - I), pose) + transl, with the
root rotation about the shaped pelvis joint J0 (smplx convention). Shapes: T frames, V vertices
(or only the `vertex_ids` asked for), 24 joints. Frames: whatever frame global_orient and transl
are given in (camera or world). Units: metres.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from backend.smpl_file import SmplData

NUM_JOINTS = 24


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle (...,3) -> rotation matrices (...,3,3), float64."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    return Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(*rotvec.shape[:-1], 3, 3)


def matrix_to_rotvec(mats: np.ndarray) -> np.ndarray:
    """Rotation matrices (...,3,3) -> axis-angle (...,3), float64, angles in [0, pi]."""
    mats = np.asarray(mats, dtype=np.float64)
    return Rotation.from_matrix(mats.reshape(-1, 3, 3)).as_rotvec().reshape(*mats.shape[:-2], 3)


def shaped_rest(smpl: SmplData, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """betas (10,) -> shaped rest vertices (V,3) and rest joints (24,3)."""
    betas = np.asarray(betas, dtype=np.float64).reshape(-1)
    v_shaped = smpl.v_template + smpl.shapedirs[:, :, :len(betas)] @ betas
    return v_shaped, smpl.J_regressor @ v_shaped


def pelvis_rest(smpl: SmplData, betas: np.ndarray) -> np.ndarray:
    """The shaped rest pelvis joint J0 (3,): the point global_orient rotates about."""
    betas = np.asarray(betas, dtype=np.float64).reshape(-1)
    return smpl.J_regressor[0] @ (smpl.v_template + smpl.shapedirs[:, :, :len(betas)] @ betas)


def joint_transforms(smpl: SmplData, rest_joints: np.ndarray, rots: np.ndarray) -> np.ndarray:
    """Forward kinematics: rest joints (24,3), local rotations (T,24,3,3) -> world (T,24,4,4)."""
    t = rots.shape[0]
    world = np.zeros((t, NUM_JOINTS, 4, 4))
    world[:, :, 3, 3] = 1.0
    for j in range(NUM_JOINTS):
        parent = int(smpl.parents[j])
        offset = rest_joints[j] - (rest_joints[parent] if parent >= 0 else 0.0)
        if parent < 0:
            world[:, j, :3, :3] = rots[:, j]
            world[:, j, :3, 3] = offset
        else:
            world[:, j, :3, :3] = world[:, parent, :3, :3] @ rots[:, j]
            world[:, j, :3, 3] = world[:, parent, :3, :3] @ offset + world[:, parent, :3, 3]
    return world


def smpl_forward(smpl: SmplData, betas: np.ndarray, global_orient: np.ndarray, body_pose: np.ndarray,
                 transl: np.ndarray, vertex_ids: np.ndarray | None = None,
                 pose_blend: bool = True, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """SMPL(global_orient (T,3), body_pose (T,23,3) or (T,69), betas (10,)) + transl (T,3).

    Returns vertices (T,V',3) (V' = len(vertex_ids), or all 6890) and joints (T,24,3), float64.
    Frames are processed `chunk` at a time to bound memory.
    """
    global_orient = np.asarray(global_orient, dtype=np.float64).reshape(-1, 3)
    t = len(global_orient)
    body_pose = np.asarray(body_pose, dtype=np.float64).reshape(t, 23, 3)
    transl = np.asarray(transl, dtype=np.float64).reshape(t, 3)
    v_shaped, rest_joints = shaped_rest(smpl, betas)
    ids = np.arange(len(v_shaped)) if vertex_ids is None else np.asarray(vertex_ids, dtype=np.int64)
    posedirs = smpl.posedirs[ids]  # (V',3,207)
    weights = smpl.weights[ids]  # (V',24)
    verts_out = np.zeros((t, len(ids), 3))
    joints_out = np.zeros((t, NUM_JOINTS, 3))
    for lo in range(0, t, chunk):
        hi = min(t, lo + chunk)
        rots = rotvec_to_matrix(np.concatenate([global_orient[lo:hi, None], body_pose[lo:hi]], axis=1))
        v_posed = np.broadcast_to(v_shaped[ids], (hi - lo, len(ids), 3))
        if pose_blend:
            feature = (rots[:, 1:] - np.eye(3)).reshape(hi - lo, -1)  # (t,207)
            v_posed = v_posed + np.einsum("vck,tk->tvc", posedirs, feature)
        world = joint_transforms(smpl, rest_joints, rots)
        skin = world[:, :, :3, :].copy()  # (t,24,3,4)
        skin[:, :, :, 3] -= np.einsum("tjab,jb->tja", world[:, :, :3, :3], rest_joints)
        per_vertex = np.einsum("vj,tjab->tvab", weights, skin)  # (t,V',3,4)
        verts_out[lo:hi] = np.einsum("tvab,tvb->tva", per_vertex[..., :3], v_posed) + per_vertex[..., 3]
        joints_out[lo:hi] = world[:, :, :3, 3]
    return verts_out + transl[:, None], joints_out + transl[:, None]
