"""Independent float64 NumPy evaluation of TCMR, written from docs/tcmr_facts.md for the tests.

It reads the checkpoint tensors directly and imports nothing from backend.models: its own
windowing, GRU cell, attention, IEF, 6D layout, LBS with pose correctives, joint map and
axis-angle. The SMPL arrays come from backend.smpl_file.load_smpl (file reading, not maths).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

# docs/tcmr_facts.md, SMPL layer and the 49 joints.
VERTEX_PICKS = [332, 6260, 2800, 4071, 583, 3216, 3226, 3387, 6617, 6624, 6787,
                2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133]
JOINT_MAP = [24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
             8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27]


def load_gen_state(path: Path) -> dict[str, np.ndarray]:
    """Our own synthetic fixture, so a plain (trusting) torch.load is fine here."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return {k: v.double().numpy() for k, v in ckpt["gen_state_dict"].items() if v.is_floating_point()}


def windows_for(num_frames: int) -> list[list[int]]:
    rows = []
    for t in range(num_frames):
        if t >= 8 and t + 7 <= num_frames - 1:
            rows.append(list(range(t - 8, t + 8)))
        else:
            rows.append([t] * 16)
    return rows


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru_direction(x, w_ih, w_hh, b_ih, b_hh):
    """x (T,B,In) -> outputs (T,B,H); gate order r, z, n (PyTorch)."""
    hidden = w_hh.shape[1]
    h = np.zeros((x.shape[1], hidden))
    outs = []
    for step in range(x.shape[0]):
        gi = x[step] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        r = sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = sigmoid(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
        n = np.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
        h = (1 - z) * n + z * h
        outs.append(h)
    return np.stack(outs)


def gru(x, p, prefix, layers=2, bidirectional=False):
    for layer in range(layers):
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        fwd = gru_direction(x, *[p[f"{prefix}{n}_l{layer}"] for n in names])
        if bidirectional:
            rargs = [p[f"{prefix}{n}_l{layer}_reverse"] for n in names]
            bwd = gru_direction(x[::-1], *rargs)[::-1]
            x = np.concatenate([fwd, bwd], axis=-1)
        else:
            x = fwd
    return x


def linear(x, p, prefix):
    return x @ p[prefix + "weight"].T + p[prefix + "bias"]


def encoder_branches(win, p):
    """win (B,16,2048) -> g_past, g_cur, g_fut, each (B,2048)."""
    x = np.transpose(win, (1, 0, 2))
    e = "encoder."
    y = gru(x, p, e + "gru_cur.", bidirectional=True)
    g_cur = linear(np.maximum(y[8], 0), p, e + "linear_cur.")
    past = gru(x[:8], p, e + "gru_bef.")
    g_past = linear(np.maximum(past[-1], 0), p, e + "linear_bef.")
    fut = gru(x[9:][::-1], p, e + "gru_aft.")
    g_fut = linear(np.maximum(fut[-1], 0), p, e + "linear_aft.")
    return g_past, g_cur, g_fut


def attention(z, p):
    a = "encoder.attention."
    h = linear(z, p, a + "fc.").reshape(z.shape[0], -1)  # no activation after fc
    h = np.tanh(linear(h, p, a + "attention.0."))
    h = np.tanh(linear(h, p, a + "attention.2."))
    logits = np.tanh(linear(h, p, a + "attention.4."))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sixd_to_rotmat(pose6d):
    """(B,144) -> (B,24,3,3): rows [[p0,p1],[p2,p3],[p4,p5]], columns b1, b2, b1 x b2."""
    m = pose6d.reshape(-1, 3, 2)
    a1, a2 = m[:, :, 0], m[:, :, 1]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=1, keepdims=True), 1e-6)
    u = a2 - np.sum(b1 * a2, axis=1, keepdims=True) * b1
    b2 = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-6)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=2).reshape(pose6d.shape[0], 24, 3, 3)


def ief(feature, p):
    r = "regressor."
    n = feature.shape[0]
    pose = np.repeat(p[r + "init_pose"], n, 0)
    shape = np.repeat(p[r + "init_shape"], n, 0)
    cam = np.repeat(p[r + "init_cam"], n, 0)
    for _ in range(3):
        xc = linear(linear(np.concatenate([feature, pose, shape, cam], 1), p, r + "fc1."), p, r + "fc2.")
        pose = pose + linear(xc, p, r + "decpose.")
        shape = shape + linear(xc, p, r + "decshape.")
        cam = cam + linear(xc, p, r + "deccam.")
    return pose, shape, cam


def smpl_forward(smpl, j_extra, rot, betas):
    """rot (B,24,3,3), betas (B,10) -> verts (B,V,3), joints49 (B,49,3), joints24 (B,24,3)."""
    n = rot.shape[0]
    v_shaped = smpl.v_template[None] + np.einsum("vck,bk->bvc", smpl.shapedirs[:, :, :10], betas)
    joints = np.einsum("jv,bvc->bjc", smpl.J_regressor, v_shaped)
    pose_feature = (rot[:, 1:] - np.eye(3)).reshape(n, 207)
    v_posed = v_shaped + np.einsum("vcp,bp->bvc", smpl.posedirs, pose_feature)
    parents = smpl.parents
    world = np.zeros((n, 24, 4, 4))
    for j in range(24):
        local = np.zeros((n, 4, 4))
        local[:, :3, :3] = rot[:, j]
        local[:, :3, 3] = joints[:, j] - (joints[:, parents[j]] if j > 0 else 0)
        local[:, 3, 3] = 1
        world[:, j] = local if j == 0 else world[:, parents[j]] @ local
    posed_joints = world[:, :, :3, 3].copy()
    skin = world.copy()  # remove the rest joint position: A = G * [I, -J; 0, 1]
    skin[:, :, :3, 3] -= np.einsum("bjcd,bjd->bjc", world[:, :, :3, :3], joints)
    per_vertex = np.einsum("vj,bjcd->bvcd", smpl.weights, skin)
    verts = np.einsum("bvcd,bvd->bvc", per_vertex[:, :, :3, :3], v_posed) + per_vertex[:, :, :3, 3]
    regressed = np.einsum("jv,bvc->bjc", j_extra, verts)
    joints54 = np.concatenate([posed_joints, verts[:, VERTEX_PICKS], regressed], 1)
    return verts, joints54[:, JOINT_MAP], posed_joints


def rotmat_to_aa(rot):
    """(N,3,3) -> (N,3) log map, angle in [0, pi]; near pi the axis comes from the symmetric part."""
    out = np.zeros((rot.shape[0], 3))
    for i, r in enumerate(rot):
        cos = np.clip((np.trace(r) - 1) / 2, -1.0, 1.0)
        angle = np.arccos(cos)
        skew = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
        if angle < 1e-8:
            out[i] = skew / 2
        elif angle < np.pi - 1e-3:
            out[i] = skew / (2 * np.sin(angle)) * angle
        else:
            sym = (r + r.T) / 2 - cos * np.eye(3)  # = (1 - cos) n n^T exactly
            k = int(np.argmax(np.diag(sym)))
            axis = sym[:, k] / np.sqrt(sym[k, k])
            axis /= np.linalg.norm(axis)
            if skew @ axis < 0:
                axis = -axis
            # angle from the full matrix, accurate near pi: sin from the skew part along the axis
            angle = np.arctan2(skew @ axis / 2, cos)
            out[i] = axis * angle
    return out


def kornia_rotmat_to_aa(rot):
    """The official two-step conversion (kornia 0.1 style, docs/tcmr_facts.md), float64."""
    rt = np.transpose(rot, (0, 2, 1))
    eps = 1e-6
    mask_d2 = rt[:, 2, 2] < eps
    mask_d0_d1 = rt[:, 0, 0] > rt[:, 1, 1]
    mask_d0_nd1 = rt[:, 0, 0] < -rt[:, 1, 1]
    t0 = 1 + rt[:, 0, 0] - rt[:, 1, 1] - rt[:, 2, 2]
    q0 = np.stack([rt[:, 1, 2] - rt[:, 2, 1], t0, rt[:, 0, 1] + rt[:, 1, 0], rt[:, 2, 0] + rt[:, 0, 2]], -1)
    t1 = 1 - rt[:, 0, 0] + rt[:, 1, 1] - rt[:, 2, 2]
    q1 = np.stack([rt[:, 2, 0] - rt[:, 0, 2], rt[:, 0, 1] + rt[:, 1, 0], t1, rt[:, 1, 2] + rt[:, 2, 1]], -1)
    t2 = 1 - rt[:, 0, 0] - rt[:, 1, 1] + rt[:, 2, 2]
    q2 = np.stack([rt[:, 0, 1] - rt[:, 1, 0], rt[:, 2, 0] + rt[:, 0, 2], rt[:, 1, 2] + rt[:, 2, 1], t2], -1)
    t3 = 1 + rt[:, 0, 0] + rt[:, 1, 1] + rt[:, 2, 2]
    q3 = np.stack([t3, rt[:, 1, 2] - rt[:, 2, 1], rt[:, 2, 0] - rt[:, 0, 2], rt[:, 0, 1] - rt[:, 1, 0]], -1)
    c0 = (mask_d2 & mask_d0_d1)[:, None]
    c1 = (mask_d2 & ~mask_d0_d1)[:, None]
    c2 = (~mask_d2 & mask_d0_nd1)[:, None]
    c3 = (~mask_d2 & ~mask_d0_nd1)[:, None]
    q = q0 * c0 + q1 * c1 + q2 * c2 + q3 * c3
    t = t0[:, None] * c0 + t1[:, None] * c1 + t2[:, None] * c2 + t3[:, None] * c3
    q = q / np.sqrt(t) * 0.5
    sin_sq = np.sum(q[:, 1:] ** 2, axis=1)
    sin_t = np.sqrt(sin_sq)
    cos_t = q[:, 0]
    two_theta = 2 * np.where(cos_t < 0, np.arctan2(-sin_t, -cos_t), np.arctan2(sin_t, cos_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(sin_sq > 0, two_theta / sin_t, 2.0)
    aa = q[:, 1:] * k[:, None]
    return np.nan_to_num(aa)


def aa_distance(a, b):
    """Per-row distance between axis-angle vectors, wrap-aware at pi (v and v - 2pi v/|v| are
    the same rotation when |v| = pi)."""
    a = a.reshape(-1, 3)
    b = b.reshape(-1, 3)
    direct = np.linalg.norm(a - b, axis=1)
    norm = np.linalg.norm(b, axis=1, keepdims=True)
    wrapped = b - 2 * np.pi * b / np.maximum(norm, 1e-12)
    return np.where(norm[:, 0] > np.pi - 1e-2, np.minimum(direct, np.linalg.norm(a - wrapped, axis=1)),
                    direct)


def reference_track(gen_state, smpl, j_extra, features):
    """features (F,2048) -> dict of float64 arrays like regress_track's."""
    feats = np.asarray(features, dtype=np.float64)
    idx = np.array(windows_for(len(feats)))
    win = feats[idx]  # (F, 16, 2048)
    g_past, g_cur, g_fut = encoder_branches(win, gen_state)
    z = np.stack([g_past, g_cur, g_fut], axis=1)
    scores = attention(z, gen_state)
    feature = np.einsum("bk,bkd->bd", scores, z)
    pose6d, betas, cam = ief(feature, gen_state)
    rot = sixd_to_rotmat(pose6d)
    verts, joints, _ = smpl_forward(smpl, j_extra, rot, betas)
    aa = rotmat_to_aa(rot.reshape(-1, 3, 3)).reshape(-1, 72)
    return {"pose": aa, "betas": betas, "pred_cam": cam, "joints3d": joints, "rotmat": rot,
            "scores": scores, "verts": verts}
