"""Fit SMPL to lifted H36M joints: the body whose H36M-regressed joints match them (torch, CPU).

Unknowns: per-frame root rotation and 23 body rotations (axis-angle), per-frame translation, one
body shape for the clip. The H36M joints of a posed body are `J_regressor_h36m (17,V) @ verts`
(the TCMR/SPIN file; its rows are the 17 Human3.6M joints in the order VideoPose3D outputs:
hip, right hip/knee/foot, left hip/knee/foot, spine, thorax, neck/nose, head, left
shoulder/elbow/wrist, right shoulder/elbow/wrist). The objective

    data    mean over frames and joints of |fitted - lifted|^2 / SIGMA^2   (SIGMA = 1 cm)
  + smooth  mean |body pose[t+1] - body pose[t]|^2 (rad^2) + |root R[t+1] - root R[t]|^2
            + |transl[t+1] - transl[t]|^2 (m^2)
  + pose    mean body-pose |axis-angle|^2 (rad^2): joint rotations the joints cannot see (a
            straight limb's twist, collars, hands, feet) stay at rest
  + shape   |betas|^2
  + prior   mean |body pose - prior body pose|^2, when a prior (e.g. TCMR's pose for the same frames) is given

minimised with L-BFGS after a closed-form start: each frame's root rotation and translation
from the Kabsch alignment of the rest body's torso joints onto the lifted ones. Points are camera
space (x right, y down, z forward), metres; the output uses Contract 3's conventions
(axis-angle, smplx `transl`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIGMA = 0.01  # metres: the data term counts errors in centimetres
TORSO = (0, 1, 4, 7, 8, 11, 14)  # hip, hips, spine, thorax, shoulders: the rigid-ish part for the start


@dataclass(frozen=True)
class FitConfig:
    iterations: int = 300  # L-BFGS iterations (strong Wolfe line search)
    smooth_weight: float = 0.1
    pose_weight: float = 1e-3
    shape_weight: float = 1e-3
    prior_weight: float = 10.0  # used only with a prior pose
    fit_shape: bool = True


@dataclass
class SmplFit:
    """pose (T,72) axis-angle root first, betas (10,), transl (T,3) m, joints (T,17,3) the fitted
    H36M joints, mpjpe_mm (T,) mean joint error per frame."""

    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    joints: np.ndarray
    mpjpe_mm: np.ndarray


class _Body:
    """SMPL with an H36M regressor: (rotmat (T,24,3,3), betas (1,10), transl (T,3)) -> (T,17,3).

    Linear blend skinning as SMPL defines it (shape and pose blend shapes, rest joints from the
    shaped mesh, skinning weights), evaluated only on the vertices the H36M regressor reads; the
    rest joints come from the regressor applied to the blend shapes once (J = J0 + Jdirs @ betas)."""

    def __init__(self, smpl, j_regressor_h36m: np.ndarray):
        import torch

        def f32(a):
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        used = np.flatnonzero(np.abs(j_regressor_h36m).sum(axis=0) > 0.0)
        shapedirs = np.asarray(smpl.shapedirs[:, :, :10], dtype=np.float64)  # (V,3,10)
        self.joints0 = f32(smpl.J_regressor @ smpl.v_template)  # (24,3)
        self.joint_dirs = f32(np.einsum("jv,vcb->jcb", smpl.J_regressor, shapedirs))  # (24,3,10)
        self.v_template = f32(smpl.v_template[used])
        self.shapedirs = f32(shapedirs[used])
        self.posedirs = f32(np.asarray(smpl.posedirs)[used])  # (U,3,207)
        self.weights = f32(smpl.weights[used])  # (U,24)
        self.parents = torch.from_numpy(np.asarray(smpl.parents, dtype=np.int64))
        self.h36m = f32(j_regressor_h36m[:, used])  # (17,U)

    def joints(self, rotmat, betas, transl):
        import torch
        from smplx.lbs import batch_rigid_transform

        t = rotmat.shape[0]
        shaped = self.v_template + torch.einsum("vcb,b->vc", self.shapedirs, betas[0])
        rest_joints = self.joints0 + torch.einsum("jcb,b->jc", self.joint_dirs, betas[0])
        feature = (rotmat[:, 1:] - torch.eye(3)).reshape(t, -1)  # (T,207)
        posed = shaped + torch.einsum("vcp,tp->tvc", self.posedirs, feature)
        rest_joints = rest_joints.expand(t, -1, -1).contiguous()
        _, transforms = batch_rigid_transform(rotmat, rest_joints, self.parents)
        per_vertex = torch.einsum("vj,tjab->tvab", self.weights, transforms)  # (T,U,4,4)
        verts = (per_vertex[..., :3, :3] @ posed[..., None])[..., 0] + per_vertex[..., :3, 3]
        return torch.einsum("jv,tvc->tjc", self.h36m, verts) + transl[:, None]


def _kabsch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R (3,3), t (3,) minimising |R src + t - dst| over the rows (N,3)."""
    cs, cd = src.mean(0), dst.mean(0)
    u, _s, vt = np.linalg.svd((dst - cd).T @ (src - cs))
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, 1.0, d]) @ vt
    return rot, cd - rot @ cs


def _start(body: _Body, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame root axis-angle (T,3) and transl (T,3) aligning the rest torso onto the targets."""
    import torch

    from backend.models.geometry import rotmat_to_axis_angle

    with torch.no_grad():
        rest = body.joints(torch.eye(3).expand(1, 24, 3, 3), torch.zeros(1, 10), torch.zeros(1, 3))[0].numpy()
    root = body.joints0.numpy()  # (24,3) rest joints
    rots, transl = [], []
    for frame in targets:
        rot, shift = _kabsch(rest[list(TORSO)].astype(np.float64), frame[list(TORSO)])
        rots.append(rot)
        # lbs turns the body about its root joint j0: R (v - j0) + j0 + transl = R v + shift
        transl.append(shift + rot @ root[0] - root[0])
    aa = rotmat_to_axis_angle(torch.from_numpy(np.array(rots, dtype=np.float32))).numpy()
    return aa, np.array(transl)


def fit_smpl(smpl, j_regressor_h36m: np.ndarray, joints: np.ndarray, config: FitConfig = FitConfig(),
             prior_pose: np.ndarray | None = None, progress=None) -> SmplFit:
    """SMPL pose, shape and translation whose H36M joints match `joints` (T,17,3) m (module doc).

    smpl: backend.smpl_file.SmplData; j_regressor_h36m: (17,V); prior_pose: (T,72) or None;
    progress: optional callable(done_iterations, total)."""
    import torch
    from smplx.lbs import batch_rodrigues

    targets = np.asarray(joints, dtype=np.float64)
    t = len(targets)
    body = _Body(smpl, j_regressor_h36m)
    root, transl0 = _start(body, targets)
    pose = torch.zeros(t, 24, 3)
    pose[:, 0] = torch.from_numpy(root)
    pose.requires_grad_(True)
    transl = torch.tensor(transl0, dtype=torch.float32, requires_grad=True)
    betas = torch.zeros(1, 10, requires_grad=config.fit_shape)
    target = torch.from_numpy(targets.astype(np.float32))
    prior = None if prior_pose is None else torch.from_numpy(
        np.asarray(prior_pose, dtype=np.float32).reshape(t, 24, 3))
    params = [pose, transl] + ([betas] if config.fit_shape else [])

    def closure():
        opt.zero_grad()
        rotmat = batch_rodrigues(pose.reshape(-1, 3)).reshape(t, 24, 3, 3)
        fitted = body.joints(rotmat, betas, transl)
        loss = _loss(fitted, target, pose, rotmat[:, 0], transl, betas, prior, config)
        loss.backward()
        return loss

    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=config.iterations, history_size=50,
                            tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")
    opt.step(closure)
    if progress is not None:
        progress(config.iterations, config.iterations)
    with torch.no_grad():
        fitted = body.joints(batch_rodrigues(pose.reshape(-1, 3)).reshape(t, 24, 3, 3), betas, transl)
    out = fitted.numpy().astype(np.float64)
    return SmplFit(pose.detach().numpy().reshape(t, 72).astype(np.float64), betas.detach().numpy()[0].copy(),
                   transl.detach().numpy().astype(np.float64), out,
                   1000.0 * np.linalg.norm(out - targets, axis=-1).mean(axis=1))


def _loss(fitted, target, pose, root, transl, betas, prior, config: FitConfig):
    """The objective of the module doc. The root is compared as rotation matrices (its axis-angle
    sits near a half turn in camera space, where the vector flips between frames)."""
    body = pose[:, 1:]
    loss = ((fitted - target) ** 2).sum(-1).mean() / SIGMA**2
    loss = loss + config.pose_weight * (body**2).sum(-1).mean() + config.shape_weight * (betas**2).sum()
    if len(pose) > 1:
        smooth = ((body[1:] - body[:-1]) ** 2).sum(-1).mean()
        smooth = smooth + ((root[1:] - root[:-1]) ** 2).sum((-1, -2)).mean()
        smooth = smooth + ((transl[1:] - transl[:-1]) ** 2).sum(-1).mean()
        loss = loss + config.smooth_weight * smooth
    if prior is not None:
        loss = loss + config.prior_weight * ((body - prior[:, 1:]) ** 2).sum(-1).mean()
    return loss
