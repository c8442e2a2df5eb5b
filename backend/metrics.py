"""Pure evaluation metrics of the official TCMR protocol (docs/tcmr_facts.md, Evaluation). numpy only.

All functions take joints in metres and return per-frame errors in **millimetres** (x1000), so a
dataset figure is the mean over every evaluated frame. Shapes (glossary: F frames, J joints,
V vertices):

* `mpjpe(pred, gt)`        (F,J,3) x2 -> (F,)   mean joint error after root alignment
* `pa_mpjpe(pred, gt)`     (F,J,3) x2 -> (F,)   ... after a per-frame similarity Procrustes
* `accel_error(pred, gt)`  (F,J,3) x2 -> (F-2,) acceleration error, end frames excluded
* `pve(pred_v, gt_v)`      (F,V,3) x2 -> (F,)   mean vertex error, no alignment at all

Joint sets. The default root is the mean of joints 2 and 3 of the 14-joint LSP ("common") order
used by every TCMR benchmark except MPI-INF-3DHP:

    0 rankle  1 rknee  2 rhip  3 lhip  4 lknee  5 lankle  6 rwrist  7 relbow  8 rshoulder
    9 lshoulder  10 lelbow  11 lwrist  12 neck  13 headtop

Predicted 14 joints come from `J_regressor_h36m @ verts` (17 rows) taken at `H36M_TO_J14`.
The 49 TCMR joints hold the same 14 as rows 25..38 (`TCMR49_TO_LSP14`); MPI-INF-3DHP uses
17 `mpii3d_test` joints picked from the 49 (`TCMR49_TO_MPII3D17`, root index -3 = 14, "hip").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

M_TO_MM = 1000.0

# Rows of the 17-joint J_regressor_h36m output in LSP order (lib/models/smpl.py:57-58).
H36M_TO_J17 = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9)
H36M_TO_J14 = H36M_TO_J17[:14]

LSP14_NAMES = ("rankle", "rknee", "rhip", "lhip", "lknee", "lankle", "rwrist", "relbow", "rshoulder",
               "lshoulder", "lelbow", "lwrist", "neck", "headtop")
# The 49 TCMR (SPIN) joints: rows 25..38 are the 14 LSP joints in the order above.
TCMR49_TO_LSP14 = tuple(range(25, 39))
# mpii3d_test order: headtop, neck, rshoulder, relbow, rwrist, lshoulder, lelbow, lwrist, rhip,
# rknee, rankle, lhip, lknee, lankle, hip (pelvis), spine (H36M), head (H36M); every name is one
# of the 49 joints, so convert_kps(src='spin', dst='mpii3d_test') is a plain row selection.
TCMR49_TO_MPII3D17 = (38, 37, 33, 32, 31, 34, 35, 36, 27, 26, 25, 28, 29, 30, 39, 41, 43)

LSP_ROOT = (2, 3)  # mean of rhip and lhip
MPII3D_ROOT = (14,)  # index -3 of the 17 mpii3d_test joints ("hip")


def _check_pair(pred: np.ndarray, gt: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"{name}: prediction {pred.shape} and ground truth {gt.shape} "
                         "must both be (F, J, 3)")
    return pred, gt


def root_align(joints: np.ndarray, root: tuple[int, ...] = LSP_ROOT) -> np.ndarray:
    """Subtract the root (mean of the `root` joints) from every joint: (F,J,3) -> (F,J,3)."""
    joints = np.asarray(joints, dtype=np.float64)
    return joints - joints[:, list(root), :].mean(axis=1, keepdims=True)


def mpjpe(pred: np.ndarray, gt: np.ndarray, root: tuple[int, ...] = LSP_ROOT) -> np.ndarray:
    """Mean per-joint position error after root alignment of both skeletons, mm per frame (F,)."""
    pred, gt = _check_pair(pred, gt, "mpjpe")
    diff = root_align(pred, root) - root_align(gt, root)
    return np.linalg.norm(diff, axis=-1).mean(axis=-1) * M_TO_MM


def similarity_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame similarity transform (s, R, t) that best maps pred onto gt, applied to pred.

    Official `batch_compute_similarity_transform_torch`: centre both point sets (X1 = pred,
    X2 = gt, as 3 x J), K = X1 X2^T, K = U S V^T, Z = diag(1, 1, sign det(U V^T)) (no
    reflection), R = V Z U^T, s = tr(R K) / |X1|^2, t = mu2 - s R mu1. (F,J,3) x2 -> (F,J,3).
    """
    pred, gt = _check_pair(pred, gt, "similarity_align")
    mu1 = pred.mean(axis=1, keepdims=True)  # (F,1,3)
    mu2 = gt.mean(axis=1, keepdims=True)
    x1 = np.swapaxes(pred - mu1, 1, 2)  # (F,3,J)
    x2 = np.swapaxes(gt - mu2, 1, 2)
    var1 = (x1**2).sum(axis=(1, 2))  # (F,)
    k = x1 @ np.swapaxes(x2, 1, 2)  # (F,3,3)
    u, _, vh = np.linalg.svd(k)
    v = np.swapaxes(vh, 1, 2)
    z = np.tile(np.eye(3), (len(k), 1, 1))
    z[:, -1, -1] = np.sign(np.linalg.det(u @ vh))
    r = v @ z @ np.swapaxes(u, 1, 2)  # (F,3,3)
    scale = np.trace(r @ k, axis1=1, axis2=2) / np.maximum(var1, 1e-300)  # (F,)
    aligned = scale[:, None, None] * (r @ x1)  # (F,3,J), centred
    return np.swapaxes(aligned, 1, 2) + mu2


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray, root: tuple[int, ...] = LSP_ROOT) -> np.ndarray:
    """Procrustes-aligned MPJPE, mm per frame (F,). Root-aligned first, as the official code."""
    pred, gt = _check_pair(pred, gt, "pa_mpjpe")
    pred, gt = root_align(pred, root), root_align(gt, root)
    aligned = similarity_align(pred, gt)
    return np.linalg.norm(aligned - gt, axis=-1).mean(axis=-1) * M_TO_MM


def accel_error(pred: np.ndarray, gt: np.ndarray, root: tuple[int, ...] = LSP_ROOT) -> np.ndarray:
    """Acceleration error, mm/frame^2 (reported as "mm/s^2" by the paper), (F-2,).

    Value i belongs to frame i+1: a_t = X_{t-1} - 2 X_t + X_{t+1} on root-aligned joints, the
    norm of a_pred - a_gt per joint, averaged over joints. The first and last frames have no
    value (official `compute_error_accel`). Fewer than 3 frames give an empty array.
    """
    pred, gt = _check_pair(pred, gt, "accel_error")
    pred, gt = root_align(pred, root), root_align(gt, root)
    if len(pred) < 3:
        return np.zeros(0)

    def accel(x: np.ndarray) -> np.ndarray:
        return x[:-2] - 2.0 * x[1:-1] + x[2:]

    return np.linalg.norm(accel(pred) - accel(gt), axis=-1).mean(axis=-1) * M_TO_MM


def pve(pred_verts: np.ndarray, gt_verts: np.ndarray) -> np.ndarray:
    """Mean per-vertex error with no alignment and no translation (official `compute_error_verts`),
    mm per frame (F,)."""
    pred_verts, gt_verts = np.asarray(pred_verts), np.asarray(gt_verts)
    if pred_verts.shape != gt_verts.shape or pred_verts.ndim != 3 or pred_verts.shape[-1] != 3:
        raise ValueError(f"pve: prediction {pred_verts.shape} and ground truth {gt_verts.shape} "
                         "must both be (F, V, 3)")
    out = np.zeros(len(pred_verts))
    for start in range(0, len(pred_verts), 256):  # float64 in chunks: long sequences stay small
        part = slice(start, start + 256)
        diff = pred_verts[part].astype(np.float64) - gt_verts[part].astype(np.float64)
        out[part] = np.linalg.norm(diff, axis=-1).mean(axis=-1) * M_TO_MM
    return out


def lsp14_from_tcmr49(joints49: np.ndarray) -> np.ndarray:
    """The 14 LSP joints (rows 25..38) of the 49 TCMR joints: (F,49,3) -> (F,14,3)."""
    joints49 = np.asarray(joints49)
    if joints49.ndim != 3 or joints49.shape[1:] != (49, 3):
        raise ValueError(f"expected (F, 49, 3) TCMR joints, got {joints49.shape}")
    return joints49[:, list(TCMR49_TO_LSP14)]


def lsp14_from_h36m17(regressed: np.ndarray) -> np.ndarray:
    """The 14 LSP joints of a J_regressor_h36m output: (F,17,3) -> (F,14,3)."""
    regressed = np.asarray(regressed)
    if regressed.ndim != 3 or regressed.shape[1:] != (17, 3):
        raise ValueError(f"expected (F, 17, 3) J_regressor_h36m joints, got {regressed.shape}")
    return regressed[:, list(H36M_TO_J14)]


def result_track_joints(result_dir: str | Path, track_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(frame_index (F,), joints (F,14,3) metres) of one track of a result directory
    (Contract 3, docs/contracts.md).

    The joints are the 49 TCMR joints of `track_<id>.npz` (network output: SMPL model frame in
    camera orientation, no translation) reduced to the 14 LSP joints (rows 25..38). These are the
    joints the 3D training loss uses; the official benchmarks instead regress the 14 joints from
    the vertices with J_regressor_h36m, so expect small systematic differences against
    benchmark ground truth. Root-aligned metrics ignore the missing translation.
    """
    result_dir = Path(result_dir)
    meta_path = result_dir / "result.json"
    meta = json.loads(meta_path.read_text())
    files = {int(t["id"]): t["file"] for t in meta.get("tracks", [])}
    if int(track_id) not in files:
        raise KeyError(f"{meta_path} has no track {track_id} (tracks: {sorted(files)})")
    with np.load(result_dir / files[int(track_id)], allow_pickle=False) as track:
        frames = np.asarray(track["frame_index"])
        joints = lsp14_from_tcmr49(track["joints3d"]).astype(np.float64)
    return frames, joints
