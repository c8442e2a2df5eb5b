"""SMPL layer with TCMR's 49 output joints (docs/tcmr_facts.md, SMPL layer and the 49 joints).

LBS itself is smplx's (`smplx.lbs.lbs`, pose2rot=False: rotation matrices in, pose correctives
from (R - I)), fed with buffers built from our safely loaded `SmplData` rather than from
smplx's own pickle loading. On top of it, as TCMR's `lib/models/smpl.py` does:

    joints45 = [24 posed SMPL joints, 21 vertex picks (face, feet, finger tips)]
    joints54 = [joints45, J_regressor_extra (9, V) @ posed verts]
    joints49 = joints54[JOINT_MAP]      (25 OpenPose BODY_25 + 24 SPIN "GT" joints)

`rest_joints` is pure numpy, for the add-on side of the result (Contract 3 `joints_rest`, docs/contracts.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from backend.smpl_file import NUM_BETAS, NUM_JOINTS, NUM_POSE_BASIS, NUM_VERTS, SmplData

# smplx's SMPL/SMPL-H vertex ids, in VertexJointSelector order: nose, reye, leye, rear, lear,
# LBigToe, LSmallToe, LHeel, RBigToe, RSmallToe, RHeel, left tips thumb..pinky, right tips.
EXTRA_VERTEX_IDS = (332, 6260, 2800, 4071, 583, 3216, 3226, 3387, 6617, 6624, 6787,
                    2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133)
NUM_EXTRA_REGRESSED = 9  # rows of J_regressor_extra.npy

# Rows of joints54 that make the 49 TCMR joints (official lib/models/smpl.py joint_map).
JOINT_MAP = (24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
             8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27)


class SmplLayer(nn.Module):
    """Rotation matrices + betas -> posed vertices (B,V,3) and the 49 TCMR joints (B,49,3).

    No translation is applied (official: create_transl=False). Buffers are float32.
    """

    def __init__(self, smpl: SmplData, j_regressor_extra: np.ndarray) -> None:
        super().__init__()
        if j_regressor_extra.shape != (NUM_EXTRA_REGRESSED, NUM_VERTS):
            raise ValueError(f"J_regressor_extra has shape {j_regressor_extra.shape}, "
                             f"expected {(NUM_EXTRA_REGRESSED, NUM_VERTS)}")

        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        self.register_buffer("v_template", f32(smpl.v_template))  # (V, 3)
        self.register_buffer("shapedirs", f32(smpl.shapedirs[:, :, :NUM_BETAS]))  # (V, 3, 10)
        # smplx layout: (207, V*3), from the official (V, 3, 207).
        self.register_buffer("posedirs", f32(smpl.posedirs.reshape(-1, NUM_POSE_BASIS).T))
        self.register_buffer("J_regressor", f32(smpl.J_regressor))  # (24, V)
        self.register_buffer("lbs_weights", f32(smpl.weights))  # (V, 24)
        self.register_buffer("parents", torch.from_numpy(smpl.parents.astype(np.int64)))  # (24,)
        self.register_buffer("J_regressor_extra", f32(j_regressor_extra))  # (9, V)
        self.register_buffer("extra_vertex_ids", torch.tensor(EXTRA_VERTEX_IDS, dtype=torch.int64))
        self.register_buffer("joint_map", torch.tensor(JOINT_MAP, dtype=torch.int64))

    def forward(self, rotmat: torch.Tensor, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """rotmat (B,24,3,3), betas (B,10) -> verts (B,V,3), joints (B,49,3)."""
        from smplx.lbs import lbs

        verts, joints24 = lbs(betas, rotmat.contiguous(), self.v_template, self.shapedirs, self.posedirs,
                              self.J_regressor, self.parents, self.lbs_weights, pose2rot=False)
        picks = verts.index_select(1, self.extra_vertex_ids)  # (B, 21, 3)
        regressed = torch.einsum("jv,bvc->bjc", self.J_regressor_extra, verts)  # (B, 9, 3)
        joints54 = torch.cat([joints24, picks, regressed], dim=1)  # (B, 54, 3)
        return verts, joints54.index_select(1, self.joint_map)


def rest_joints(smpl_data: SmplData, betas: np.ndarray) -> np.ndarray:
    """(10,) betas -> (24,3) float64 rest-pose joints, canonical SMPL frame, metres."""
    betas = np.asarray(betas, dtype=np.float64).reshape(-1)
    if betas.shape != (NUM_BETAS,):
        raise ValueError(f"betas must have {NUM_BETAS} values, got shape {betas.shape}")
    v_shaped = smpl_data.v_template + smpl_data.shapedirs[:, :, :NUM_BETAS] @ betas  # (V, 3)
    joints = smpl_data.J_regressor @ v_shaped  # (24, 3)
    assert joints.shape == (NUM_JOINTS, 3)
    return joints
