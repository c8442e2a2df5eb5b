"""Independent float64 NumPy evaluation of VIBE, written from the equations (docs/models.md) for the tests.

It reads the checkpoint tensors directly and imports nothing from backend.models: its own
chunking, GRU cell (tests/model/reference.py), ReLU + linear + residual, IEF, 6D layout, LBS,
joint map and axis-angle.
"""

from __future__ import annotations

import numpy as np

from tests.model.reference import gru, ief, linear, rotmat_to_aa, sixd_to_rotmat, smpl_forward


def encode(seq, p):
    """One GRU sequence (L,2048) -> (L,2048): linear(relu(gru(x)[t])) + x[t], h0 = 0."""
    y = gru(seq[:, None, :], p, "encoder.gru.", layers=2, bidirectional=False)[:, 0]  # (L, 1024)
    return linear(np.maximum(y, 0.0), p, "encoder.linear.") + seq


def encode_track(features, p, chunk):
    """(F,2048) -> (F,2048): consecutive sequences of `chunk` frames, each from a zero state."""
    feats = np.asarray(features, dtype=np.float64)
    return np.concatenate([encode(feats[s:s + chunk], p) for s in range(0, len(feats), chunk)])


def reference_vibe(gen_state, smpl, j_extra, features, chunk=450, smpl_frames=None):
    """features (F,2048) -> float64 dict like regress_track's (no scores). SMPL outputs (joints3d,
    verts) only for `smpl_frames` (default all) to keep long tracks cheap."""
    feature = encode_track(features, gen_state, chunk)
    pose6d, betas, cam = ief(feature, gen_state)
    rot = sixd_to_rotmat(pose6d)
    frames = np.arange(len(rot)) if smpl_frames is None else np.asarray(smpl_frames)
    verts, joints, _ = smpl_forward(smpl, j_extra, rot[frames], betas[frames])
    aa = rotmat_to_aa(rot.reshape(-1, 3, 3)).reshape(-1, 72)
    return {"pose": aa, "betas": betas, "pred_cam": cam, "rotmat": rot, "joints3d": joints, "verts": verts,
            "smpl_frames": frames}
