"""HMR/SPIN-style iterative regressor (docs/tcmr_facts.md, Regressor; official lib/models/spin.py).

Three IEF iterations from the mean parameters (buffers init_pose/init_shape/init_cam, whose
values come from the TCMR checkpoint):

    xc = drop2(fc2(drop1(fc1(cat[feature 2048, pose6d 144, shape 10, cam 3]))))
                                     (no nonlinearity; the Dropout(0.5)s act only in train mode)
    pose6d += decpose(xc); shape += decshape(xc); cam += deccam(xc)

Parameter and buffer names match the checkpoint's `regressor.*` keys.
"""

from __future__ import annotations

import torch
from torch import nn

from backend.models.geometry import rot6d_to_rotmat

NUM_ITER = 3
POSE6D_DIM = 24 * 6
NUM_BETAS = 10
CAM_DIM = 3
FEATURE_DIM = 2048


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        in_dim = FEATURE_DIM + POSE6D_DIM + NUM_BETAS + CAM_DIM  # 2205
        self.fc1 = nn.Linear(in_dim, 1024)
        self.drop1 = nn.Dropout(0.5)  # official Dropout(); identity in eval mode, no weights
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout(0.5)
        self.decpose = nn.Linear(1024, POSE6D_DIM)
        self.decshape = nn.Linear(1024, NUM_BETAS)
        self.deccam = nn.Linear(1024, CAM_DIM)
        self.register_buffer("init_pose", torch.zeros(1, POSE6D_DIM))
        self.register_buffer("init_shape", torch.zeros(1, NUM_BETAS))
        self.register_buffer("init_cam", torch.zeros(1, CAM_DIM))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B,2048) -> pose6d (B,144), rotmat (B,24,3,3), betas (B,10), cam (B,3)."""
        b = x.shape[0]
        pose = self.init_pose.expand(b, -1)
        shape = self.init_shape.expand(b, -1)
        cam = self.init_cam.expand(b, -1)
        for _ in range(NUM_ITER):
            xc = self.drop2(self.fc2(self.drop1(self.fc1(torch.cat([x, pose, shape, cam], dim=1)))))
            pose = pose + self.decpose(xc)
            shape = shape + self.decshape(xc)
            cam = cam + self.deccam(xc)
        rotmat = rot6d_to_rotmat(pose).reshape(b, 24, 3, 3)
        return {"pose6d": pose, "rotmat": rotmat, "betas": shape, "cam": cam}
