"""TCMR's training loss (official `lib/core/loss.py` with the paper configs' weights).

For a batch of B windows, each decoded three times (K = 3: [past, future, integrated]), with the
centre frame's labels repeated for all three:

    L_2d    = 300  * sum_{b,k,j,c} conf[b,j] (kp2d[b,k,j,c] - gt2d[b,j,c])^2 / (n * 3 * 49 * 2)
    L_3d    = 300  * sum_{b in 3D,k,j,c} (p[b,k,j,c] - g[b,j,c])^2 / (n3 * 3 * 14 * 3)
              p, g: the 14 LSP joints (rows 25..38 of 49), each centred on its hips' mean (rows 2, 3)
    L_pose  = 60   * sum_{b in SMPL,k} ||R[b,k] - R_gt[b]||^2 / (ns * 3 * 24 * 9)
    L_shape = 0.06 * sum_{b in SMPL,k} ||beta[b,k] - beta_gt[b]||^2 / (ns * 3 * 10)

n counts every window, n3 those with a 3D label (w_3d), ns those with SMPL labels (w_smpl); a
term whose count is 0 is 0. 2D keypoints are crop-normalised ([-1, 1]); conf is the label's
third column (OpenPose and GT joints both weigh 1). R_gt is the official `batch_rodrigues` of
the label's axis-angle pose (through a quaternion, norm offset 1e-8). For the prediction the
network's own rotation matrices are compared: the official code converts them to axis-angle
and back with `batch_rodrigues`, which returns the same matrices (to float precision) and only
makes the gradient ill-conditioned near 180 degrees.

Distributed: with global counts and `world` processes, each process returns
world * (its sums) / (global denominators), so DistributedDataParallel's gradient average is
exactly the gradient of the one-process loss over the whole global batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from backend.training.joints import LSP14, LSP_HIPS

TERMS = ("kp_2d", "kp_3d", "pose", "shape")


@dataclass(frozen=True)
class LossWeights:
    """LOSS.* of configs/repr_*.yaml (all paper models use the same values)."""

    kp_2d: float = 300.0
    kp_3d: float = 300.0
    pose: float = 60.0
    shape: float = 0.06

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def batch_rodrigues(aa: torch.Tensor) -> torch.Tensor:
    """(M, 3) axis-angle -> (M, 3, 3), the official quaternion route: angle = |aa + 1e-8|,
    q = (cos(angle/2), sin(angle/2) * aa / angle), normalised, then the quaternion's matrix."""
    angle = torch.norm(aa + 1e-8, dim=1, keepdim=True)  # (M, 1)
    axis = aa / angle
    half = 0.5 * angle
    q = torch.cat([torch.cos(half), torch.sin(half) * axis], dim=1)  # (M, 4) w, x, y, z
    q = q / q.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(1)
    w2, x2, y2, z2 = w * w, x * x, y * y, z * z
    wx, wy, wz, xy, xz, yz = w * x, w * y, w * z, x * y, x * z, y * z
    return torch.stack([w2 + x2 - y2 - z2, 2 * xy - 2 * wz, 2 * wy + 2 * xz,
                        2 * wz + 2 * xy, w2 - x2 + y2 - z2, 2 * yz - 2 * wx,
                        2 * xz - 2 * wy, 2 * wx + 2 * yz, w2 - x2 - y2 + z2], dim=1).reshape(-1, 3, 3)


def _centred_lsp(kp: torch.Tensor) -> torch.Tensor:
    """(..., 49, 3) -> (..., 14, 3) LSP joints minus the mean of their two hips."""
    lsp = kp[..., LSP14, :]
    hips = 0.5 * (lsp[..., LSP_HIPS[0], :] + lsp[..., LSP_HIPS[1], :])
    return lsp - hips.unsqueeze(-2)


def tcmr_loss(pred: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
              weights: LossWeights = LossWeights(), counts: tuple[int, int, int] | None = None,
              world: int = 1) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """pred: kp_2d (B,K,49,2), kp_3d (B,K,49,3), rotmat (B,K,24,3,3), betas (B,K,10);
    target: kp_2d (B,49,3), kp_3d (B,49,3), pose (B,72), shape (B,10), w_3d (B,), w_smpl (B,).
    counts: (n, n3, ns) of the global batch (default: this batch's own). Returns the total and
    the weighted terms (each already scaled by `world`, see the module docstring)."""
    k = pred["kp_2d"].shape[1]
    w3 = target["w_3d"] > 0
    ws = target["w_smpl"] > 0
    if counts is None:
        counts = (pred["kp_2d"].shape[0], int(w3.sum()), int(ws.sum()))
    n, n3, ns = counts
    zero = pred["kp_2d"].sum() * 0.0
    gt2d = target["kp_2d"].unsqueeze(1)  # (B, 1, 49, 3)
    conf = gt2d[..., 2:]
    sq2d = (conf * (pred["kp_2d"] - gt2d[..., :2]).square()).sum()
    terms = {"kp_2d": weights.kp_2d * world * sq2d / (n * k * 49 * 2)}
    if n3 > 0 and bool(w3.any()):
        diff = _centred_lsp(pred["kp_3d"][w3]) - _centred_lsp(target["kp_3d"][w3]).unsqueeze(1)
        terms["kp_3d"] = weights.kp_3d * world * diff.square().sum() / (n3 * k * 14 * 3)
    else:
        terms["kp_3d"] = zero
    if ns > 0 and bool(ws.any()):
        r_gt = batch_rodrigues(target["pose"][ws].reshape(-1, 3)).reshape(-1, 1, 24, 3, 3)
        terms["pose"] = weights.pose * world * (pred["rotmat"][ws] - r_gt).square().sum() / (ns * k * 24 * 9)
        d_beta = pred["betas"][ws] - target["shape"][ws].unsqueeze(1)
        terms["shape"] = weights.shape * world * d_beta.square().sum() / (ns * k * 10)
    else:
        terms["pose"] = terms["shape"] = zero
    total = terms["kp_2d"] + terms["kp_3d"] + terms["pose"] + terms["shape"]
    return total, terms
