"""backend.lifting.smpl_fit: SMPL fitted to H36M joints made from a known SMPL motion gets the
joints back within millimetres and the limb rotations within degrees."""

from __future__ import annotations

import numpy as np
import torch

from backend.lifting.smpl_fit import FitConfig, fit_smpl

# H36M joints of the synthetic body: rows of its own SMPL joint regressor (hip, right hip/knee/
# ankle, left hip/knee/ankle, spine2, neck, head, left/right shoulder/elbow/wrist), the head top a
# vertex (the real J_regressor_h36m is a TCMR data file; the synthetic folder's one is random)
_FROM_SMPL = (0, 2, 5, 8, 1, 4, 7, 6, 12, 15, None, 16, 18, 20, 17, 19, 21)
FRAMES = 4


def _regressor(smpl):
    rows = np.zeros((17, smpl.v_template.shape[0]))
    for r, j in enumerate(_FROM_SMPL):
        if j is None:
            rows[r, np.argmax(smpl.v_template[:, 1])] = 1.0  # the top of the head
        else:
            rows[r] = smpl.J_regressor[j]
    return rows


def _rot(aa):
    from smplx.lbs import batch_rodrigues

    return batch_rodrigues(torch.as_tensor(np.asarray(aa, dtype=np.float32)).reshape(-1, 3)).numpy()


def _truth(seed=0):
    """(T,72) pose: root about half a turn (camera space), bent knees and elbows (hinges),
    hips, shoulders and spine turned, the rest at rest; betas; transl drifting 4 m ahead."""
    rng = np.random.default_rng(seed)
    pose = np.zeros((FRAMES, 24, 3))
    t = np.arange(FRAMES)[:, None]
    pose[:, 0] = np.pi * np.array([1.0, 0.0, 0.0]) + 0.15 * np.sin(t / 2.0 + np.array([0.0, 1.0, 2.0]))
    for knee in (4, 5):
        pose[:, knee, 0] = 0.9 + 0.3 * np.sin(t[:, 0] / 2.0 + knee)
    for elbow, sign in ((18, -1.0), (19, 1.0)):
        pose[:, elbow, 1] = sign * (1.0 + 0.3 * np.sin(t[:, 0] / 3.0 + elbow))
    # hips and shoulders swing without twist (a twist about the limb is what joints cannot show:
    # it trades with the knee's or elbow's axis, and the small-pose prior takes the smallest)
    for joint, across in ((1, (1, 0, 1)), (2, (1, 0, 1)), (16, (0, 1, 1)), (17, (0, 1, 1))):
        pose[:, joint] = 0.5 * np.array(across) * (rng.normal(size=3) + 0.3 * np.sin(t / 2.0 + joint))
    for joint in (3, 6, 9):
        pose[:, joint] = 0.1 * rng.normal(size=3)
    betas = rng.normal(0.0, 0.5, 10)
    transl = np.array([0.1, 0.2, 4.0]) + 0.03 * t * np.array([1.0, 0.0, 0.5])
    return pose.reshape(FRAMES, 72), betas, transl


def _joints(smpl, regressor, pose, betas, transl):
    from backend.lifting.smpl_fit import _Body
    from backend.models.smpl import SmplLayer

    with torch.no_grad():
        rotmat = torch.from_numpy(_rot(pose).reshape(FRAMES, 24, 3, 3))
        shape = torch.tensor(betas[None], dtype=torch.float32)
        joints = _Body(smpl, regressor).joints(rotmat, shape, torch.tensor(transl, dtype=torch.float32))
        # the fit's reduced skinning is SMPL's: the full mesh of the network's SMPL layer agrees
        layer = SmplLayer(smpl, np.zeros((9, smpl.v_template.shape[0])))
        verts, _ = layer.forward(rotmat, shape.expand(FRAMES, -1))
        full = np.einsum("jv,tvc->tjc", regressor, verts.numpy()) + transl[:, None]
        assert np.abs(joints.numpy() - full).max() < 1e-5
        return joints.numpy().astype(np.float64)


def _rotation_errors(pose, fitted, joints) -> dict:
    """{joint: largest angle (degrees) over the frames between the true and fitted rotations}."""
    true_r, fit_r = _rot(pose).reshape(FRAMES, 24, 3, 3), _rot(fitted).reshape(FRAMES, 24, 3, 3)
    out = {}
    for joint in joints:
        rel = np.einsum("tji,tjk->tik", true_r[:, joint], fit_r[:, joint])
        cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)
        out[joint] = float(np.degrees(np.arccos(cos)).max())
    return out


def test_fit_recovers_known_joints_and_the_observable_rotations(smpl_data):
    regressor = _regressor(smpl_data)
    pose, betas, transl = _truth()
    joints = _joints(smpl_data, regressor, pose, betas, transl)

    fit = fit_smpl(smpl_data, regressor, joints, FitConfig())

    assert fit.mpjpe_mm.max() < 2.0  # measured 0.9 mm
    assert np.abs(fit.joints - joints).max() < 0.01
    errors = _rotation_errors(pose, fit.pose, (0, 1, 2, 4, 5))
    assert errors[0] < 5.0 and max(errors[1], errors[2]) < 8.0  # root, hips (measured 2, 5)
    assert max(errors[4], errors[5]) < 10.0  # knees (measured 8)
    assert fit.pose.shape == (FRAMES, 72) and fit.betas.shape == (10,) and fit.transl.shape == (FRAMES, 3)


def test_a_pose_prior_settles_what_the_joints_leave_open(smpl_data):
    """Arms: a twist about the upper arm trades with the elbow's axis; a prior (here the truth
    with 3 degrees of noise, as a TCMR estimate of the same frames would be) settles it."""
    regressor = _regressor(smpl_data)
    pose, betas, transl = _truth()
    joints = _joints(smpl_data, regressor, pose, betas, transl)
    prior = pose + np.radians(3.0) * np.random.default_rng(5).normal(size=pose.shape)

    fit = fit_smpl(smpl_data, regressor, joints, FitConfig(), prior_pose=prior)

    assert fit.mpjpe_mm.max() < 2.0
    errors = _rotation_errors(pose, fit.pose, (0, 1, 2, 4, 5, 16, 17, 18, 19))
    assert max(errors.values()) < 9.0, errors  # measured 7 at worst (without the prior: 22)
