"""The training loss against hand-computed float64 values (formulas written out again here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from backend.training.loss import LossWeights, batch_rodrigues, tcmr_loss

B, K = 5, 3
W_3D = np.array([1, 0, 1, 1, 0], np.float64)  # samples 1 and 4 are 2D-only
W_SMPL = np.array([1, 0, 0, 1, 0], np.float64)


def _case(seed: int = 0):
    rng = np.random.default_rng(seed)
    pred = {"kp_2d": rng.normal(0, 0.5, (B, K, 49, 2)), "kp_3d": rng.normal(0, 0.3, (B, K, 49, 3)),
            "rotmat": Rotation.random(B * K * 24, random_state=seed).as_matrix().reshape(B, K, 24, 3, 3),
            "betas": rng.normal(0, 1, (B, K, 10))}
    gt2d = np.concatenate([rng.normal(0, 0.5, (B, 49, 2)), rng.uniform(0, 1, (B, 49, 1))], axis=-1)
    gt2d[0, :5, 2] = 0.0  # unknown joints
    target = {"kp_2d": gt2d, "kp_3d": rng.normal(0, 0.3, (B, 49, 3)), "pose": rng.normal(0, 0.8, (B, 72)),
              "shape": rng.normal(0, 1, (B, 10)), "w_3d": W_3D, "w_smpl": W_SMPL}
    return pred, target


def _torch(d):
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in d.items()}


def hand_terms(pred, target) -> dict[str, float]:
    """Each term by explicit sums (official lib/core/loss.py semantics, paper weights 300/300/60/0.06)."""
    s2d = 0.0
    for b in range(B):
        for k in range(K):
            for j in range(49):
                c = target["kp_2d"][b, j, 2]
                s2d += c * sum((pred["kp_2d"][b, k, j, i] - target["kp_2d"][b, j, i]) ** 2 for i in range(2))
    kp_2d = 300.0 * s2d / (B * K * 49 * 2)

    def centred(x):  # (49,3) -> 14 LSP joints (rows 25..38) minus the mean of rhip (27) and lhip (28)
        lsp = x[25:39]
        return lsp - (x[27] + x[28]) / 2.0

    s3d, n3 = 0.0, 0
    for b in np.flatnonzero(W_3D):
        n3 += 1
        for k in range(K):
            s3d += ((centred(pred["kp_3d"][b, k]) - centred(target["kp_3d"][b])) ** 2).sum()
    kp_3d = 300.0 * s3d / (n3 * K * 14 * 3)

    sp = ss = 0.0
    smpl = np.flatnonzero(W_SMPL)
    for b in smpl:
        r_gt = Rotation.from_rotvec(target["pose"][b].reshape(24, 3)).as_matrix()  # independent Rodrigues
        for k in range(K):
            sp += ((pred["rotmat"][b, k] - r_gt) ** 2).sum()
            ss += ((pred["betas"][b, k] - target["shape"][b]) ** 2).sum()
    pose = 60.0 * sp / (len(smpl) * K * 24 * 9)
    shape = 0.06 * ss / (len(smpl) * K * 10)
    return {"kp_2d": kp_2d, "kp_3d": kp_3d, "pose": pose, "shape": shape}


def test_official_weights_pinned():
    w = LossWeights()
    assert (w.kp_2d, w.kp_3d, w.pose, w.shape) == (300.0, 300.0, 60.0, 0.06)


def test_each_term_matches_hand_computation_float64():
    pred, target = _case()
    total, terms = tcmr_loss(_torch(pred), _torch(target))
    expect = hand_terms(pred, target)
    for name, value in expect.items():
        assert terms[name].dtype == torch.float64
        # 1e-7 relative: the official batch_rodrigues' 1e-8 norm offset is the only difference
        assert float(terms[name]) == pytest.approx(value, rel=1e-7, abs=1e-12), name
    assert float(total) == pytest.approx(sum(expect.values()), rel=1e-7)
    assert all(v > 0 for v in expect.values())


def test_weights_scale_their_term_only():
    pred, target = _case(1)
    _, base = tcmr_loss(_torch(pred), _torch(target))
    other = LossWeights(kp_2d=1.0, kp_3d=2.0, pose=3.0, shape=4.0)
    _, scaled = tcmr_loss(_torch(pred), _torch(target), other)
    for name, w, official in (("kp_2d", 1.0, 300.0), ("kp_3d", 2.0, 300.0), ("pose", 3.0, 60.0),
                              ("shape", 4.0, 0.06)):
        assert float(scaled[name]) == pytest.approx(float(base[name]) * w / official, rel=1e-12)


def test_no_labels_of_a_kind_gives_zero_term():
    pred, target = _case(2)
    target["w_3d"] = np.zeros(B)
    target["w_smpl"] = np.zeros(B)
    total, terms = tcmr_loss(_torch(pred), _torch(target))
    assert float(terms["kp_3d"]) == 0.0 and float(terms["pose"]) == 0.0 and float(terms["shape"]) == 0.0
    assert float(total) == pytest.approx(hand_terms(pred, {**target})["kp_2d"], rel=1e-9)


def test_split_batch_with_global_counts_equals_whole_batch():
    """Two halves with the whole batch's counts and world=2: their mean is the one-batch loss and
    the mean of their gradients is the one-batch gradient (what DDP's gradient average needs)."""
    pred, target = _case(3)
    counts = (B, int(W_3D.sum()), int(W_SMPL.sum()))
    full = _torch(pred)
    for v in full.values():
        v.requires_grad_(True)
    whole, _ = tcmr_loss(full, _torch(target))
    whole.backward()
    halves = [slice(0, 2), slice(2, 5)]  # uneven on purpose: sample 1 (2D-only) is in the first
    grads = {k: torch.zeros_like(v) for k, v in full.items()}
    total = 0.0
    for part in halves:
        p = {k: v[part].detach().clone().requires_grad_(True) for k, v in full.items()}
        t = {k: v[part] for k, v in _torch(target).items()}
        loss, _ = tcmr_loss(p, t, counts=counts, world=2)
        loss.backward()
        total += float(loss.detach()) / 2
        for k in grads:
            grads[k][part] += p[k].grad / 2
    assert total == pytest.approx(float(whole.detach()), rel=1e-12)
    for k in grads:
        torch.testing.assert_close(grads[k], full[k].grad, rtol=1e-12, atol=1e-15)


def test_batch_rodrigues_is_the_rotation_of_the_axis_angle():
    aa = np.random.default_rng(4).normal(0, 1.2, (50, 3))
    aa[0] = 0.0
    got = batch_rodrigues(torch.tensor(aa)).numpy()
    np.testing.assert_allclose(got, Rotation.from_rotvec(aa).as_matrix(), atol=1e-7)
