"""What the foot lock needs of SMPL, on top of the shared numpy SMPL (backend.smpl_np): the 24
joints, their global rotations and a few sole vertices per foot joint.

Conventions (smplx): vertices = LBS(global_orient, body_pose, betas) + transl, the root rotates
about the shaped rest pelvis J0, so the posed pelvis is J0 + transl. Joint positions here are
*without* transl (add it for world coordinates). Shapes: T frames, 24 joints, S sole points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.smpl_file import NUM_BETAS
from backend.smpl_np import CONTACT_JOINTS, kinematics, shaped_rest

# Each leg: (hip, knee, ankle, foot joint) and the contact columns of its ankle and foot.
LEGS = {"left": (1, 4, 7, 10, 0, 2), "right": (2, 5, 8, 11, 1, 3)}
SOLE_BAND = 0.025  # m: sole vertices lie this close to the lowest rest vertex of their group
SOLE_MAX = 96  # sole vertices kept per contact joint (the lowest)


@dataclass(frozen=True)
class BodyModel:
    """Shaped rest data of one person. rest_joints (24,3); sole_rest (4,S,3) shaped rest
    positions of the sole vertices of each contact joint; sole_ids (4,S); sole_posedirs
    (4,S,3,207); sole_weights (4,S,K) skin weights on the K joints `sole_joints` (K,) that
    move them. SMPL canonical frame (y up), metres."""

    rest_joints: np.ndarray
    sole_ids: np.ndarray
    sole_rest: np.ndarray
    sole_posedirs: np.ndarray
    sole_weights: np.ndarray
    sole_joints: np.ndarray


def _sole_ids(weights: np.ndarray, shaped: np.ndarray, joints: np.ndarray) -> list[np.ndarray]:
    """Per contact joint: the foot's vertices (skin weight on ankle + foot > 0.5) that weigh
    more on this joint than on the other, within SOLE_BAND of their lowest (rest), at most
    SOLE_MAX of them."""
    ids = {}
    for ankle, foot in ((7, 10), (8, 11)):
        on_foot = np.flatnonzero(weights[:, ankle] + weights[:, foot] > 0.5)
        for j, other in ((ankle, foot), (foot, ankle)):
            mine = on_foot[weights[on_foot, j] >= weights[on_foot, other]]
            if len(mine) < 4:  # degenerate skinning: the nearest vertices instead
                mine = np.argsort(np.linalg.norm(shaped - joints[j], axis=1))[:16]
            y = shaped[mine, 1]
            mine = mine[np.argsort(y)][: SOLE_MAX]
            ids[j] = mine[shaped[mine, 1] <= shaped[mine, 1].min() + SOLE_BAND]
    return [ids[j] for j in CONTACT_JOINTS]


def body_model(smpl, betas: np.ndarray) -> BodyModel:
    """`smpl`: anything with v_template, shapedirs, posedirs, J_regressor, weights (SmplData)."""
    betas = np.asarray(betas, dtype=np.float64).reshape(-1)[:NUM_BETAS]
    shaped, joints = shaped_rest(smpl, betas)  # (V,3), (24,3)
    groups = _sole_ids(smpl.weights, shaped, joints)
    size = max(len(g) for g in groups)
    ids = np.stack([np.resize(g, size) for g in groups])  # (4,S), short groups repeat (min is kept)
    weights = smpl.weights[ids]  # (4,S,24)
    used = np.flatnonzero(weights.reshape(-1, weights.shape[-1]).any(axis=0))
    return BodyModel(rest_joints=joints, sole_ids=ids, sole_rest=shaped[ids],
                     sole_posedirs=smpl.posedirs[ids], sole_weights=weights[..., used], sole_joints=used)


def forward(body: BodyModel, local_rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (T,24,3,3) -> joint positions (T,24,3) (no transl) and global
    rotations (T,24,3,3)."""
    return kinematics(body.rest_joints, local_rot)


def sole_points(body: BodyModel, local_rot: np.ndarray, pos: np.ndarray, glob: np.ndarray) -> np.ndarray:
    """Posed sole vertices (T,4,S,3), no transl: linear blend skinning with pose correctives
    of just those vertices."""
    feature = (local_rot[:, 1:] - np.eye(3)).reshape(local_rot.shape[0], -1)  # (T,207)
    rest = body.sole_rest[None] + np.einsum("csdk,tk->tcsd", body.sole_posedirs, feature)  # (T,4,S,3)
    # skinning transform per joint: x -> G x + (pos - G J_rest)
    k = body.sole_joints
    offset = pos[:, k] - np.einsum("tjab,jb->tja", glob[:, k], body.rest_joints[k])  # (T,K,3)
    rot = np.einsum("csj,tjab->tcsab", body.sole_weights, glob[:, k])  # (T,4,S,3,3)
    trans = np.einsum("csj,tja->tcsa", body.sole_weights, offset)
    return np.einsum("tcsab,tcsb->tcsa", rot, rest) + trans
