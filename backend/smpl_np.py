"""The one numpy SMPL (no torch), written from the SMPL paper / smplx's `lbs`: rotations, forward
kinematics, the batched forward pass, and re-expressing a track after a rigid map. Grounding and
the foot lock both build on it.

verts = LBS(v_template + shapedirs . betas + posedirs . (R_1..23 - I), pose) + transl, with the
root rotation about the shaped pelvis joint J0 (smplx convention). Shapes: T frames, V vertices
(or only the `vertex_ids` asked for), 24 joints. Frames: whatever frame global_orient and transl
are given in (camera or world). Units: metres.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from backend.smpl_file import NUM_JOINTS, SMPL_PARENTS, SmplData

# The four contact joints of the result contract, in `contact (T,4)` column order.
CONTACT_JOINTS = (7, 8, 10, 11)  # left ankle, right ankle, left foot, right foot


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle (...,3) -> rotation matrices (...,3,3), float64."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    return Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(*rotvec.shape[:-1], 3, 3)


def matrix_to_rotvec(mats: np.ndarray) -> np.ndarray:
    """Rotation matrices (...,3,3) -> axis-angle (...,3), float64, angles in [0, pi]."""
    mats = np.asarray(mats, dtype=np.float64)
    return Rotation.from_matrix(mats.reshape(-1, 3, 3)).as_rotvec().reshape(*mats.shape[:-2], 3)


def pose_rotations(global_orient: np.ndarray, body_pose: np.ndarray) -> np.ndarray:
    """global_orient (T,3) and body_pose (T,23,3) or (T,69) axis-angle -> local rotations (T,24,3,3)."""
    aa = np.concatenate([np.reshape(global_orient, (-1, 1, 3)), np.reshape(body_pose, (-1, 23, 3))], axis=1)
    return rotvec_to_matrix(aa)


def shaped_rest(smpl: SmplData, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """betas (10,) -> shaped rest vertices (V,3) and rest joints (24,3)."""
    betas = np.asarray(betas, dtype=np.float64).reshape(-1)
    v_shaped = smpl.v_template + smpl.shapedirs[:, :, :len(betas)] @ betas
    return v_shaped, smpl.J_regressor @ v_shaped


def pelvis_rest(smpl: SmplData, betas: np.ndarray) -> np.ndarray:
    """The shaped rest pelvis joint J0 (3,): the point global_orient rotates about."""
    return smpl.J_regressor[0] @ shaped_rest(smpl, betas)[0]


def kinematics(rest_joints: np.ndarray, rots: np.ndarray,
               parents: tuple[int, ...] = SMPL_PARENTS) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics: rest joints (24,3), local rotations (T,24,3,3) -> posed joint positions
    (T,24,3) (the root joint stays at its rest position: add transl) and global rotations (T,24,3,3)."""
    t = rots.shape[0]
    glob = np.empty((t, NUM_JOINTS, 3, 3))
    pos = np.empty((t, NUM_JOINTS, 3))
    for j, parent in enumerate(parents):
        if parent < 0:
            glob[:, j] = rots[:, j]
            pos[:, j] = rest_joints[j]
        else:
            glob[:, j] = glob[:, parent] @ rots[:, j]
            pos[:, j] = pos[:, parent] + glob[:, parent] @ (rest_joints[j] - rest_joints[parent])
    return pos, glob


def joint_transforms(smpl: SmplData, rest_joints: np.ndarray, rots: np.ndarray) -> np.ndarray:
    """Forward kinematics as transforms: rest joints (24,3), local rotations (T,24,3,3) -> (T,24,4,4)."""
    pos, glob = kinematics(rest_joints, rots, tuple(int(p) for p in smpl.parents))
    world = np.zeros((rots.shape[0], NUM_JOINTS, 4, 4))
    world[:, :, :3, :3] = glob
    world[:, :, :3, 3] = pos
    world[:, :, 3, 3] = 1.0
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
        rots = pose_rotations(global_orient[lo:hi], body_pose[lo:hi])
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


def rigid_to_world(global_orient: np.ndarray, transl: np.ndarray, pelvis_rest: np.ndarray,
                   rotation: np.ndarray, translation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-express a track (global_orient (T,3), transl (T,3)) after the rigid map x -> R x + t:
    returns (global_orient, transl) with the smplx convention (the root rotates about the rest
    pelvis J0 (3,), so the posed pelvis J0 + transl maps like any point)."""
    rot = Rotation.from_matrix(rotation) * Rotation.from_rotvec(np.reshape(global_orient, (-1, 3)))
    pelvis = (np.reshape(transl, (-1, 3)) + pelvis_rest) @ np.asarray(rotation).T + translation
    return rot.as_rotvec(), pelvis - pelvis_rest
