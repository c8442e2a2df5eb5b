"""VIBE's own evaluation protocol (official mkocabas/VIBE `eval.py`, `lib/core/evaluate.py`,
`lib/dataset/dataset_3d.py`), for `evaluate --model vibe` (docs/models.md, docs/evaluation.md).

Where it agrees with TCMR's protocol (backend.evaluate): 14 LSP joints regressed from the
predicted vertices with J_regressor_h36m (rows H36M_TO_J14), root = mean of the hips (2, 3),
MPJPE, PA-MPJPE (per-frame similarity Procrustes), PVE against the neutral SMPL of the GT pose
and betas (no translation). Where it differs:

* sequences: the database rows are cut at the first appearance of each `vid_name`
  (`split_into_chunks`: np.unique(return_index) in order of appearance, then np.split), and no
  row is dropped: VIBE ignores `valid` (3DPW) and `valid_i` (MPI-INF-3DHP);
* windows: non-overlapping 16-frame windows (stride 16) per sequence, each run through the GRU
  on its own (zero state) and ALL 16 frames kept; the last len % 16 frames of a sequence and
  sequences shorter than 16 frames are not evaluated;
* ground truth goes through float16 (`kp_3d_tensor`, `theta_tensor` are np.float16 arrays);
  Human3.6M and MPI-INF-3DHP GT joints are the 49 SPIN joints converted to the 14 common ones;
* accelerations: over the flat concatenation of every evaluated frame of every sequence
  (window and sequence borders included, no mask): `accel_error` (VIBE's ACCEL_ERR) and
  `accel`, the prediction's own acceleration (VIBE's ACCEL, the figure its paper prints in the
  Accel column and TCMR's tables quote for VIBE), both mm per frame^2.

Dataset figures are means over all evaluated frames (VIBE: one np.mean over the stacked arrays).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from backend import __version__, metrics
from backend.errors import BackendError, Code
from backend.events import NullReporter, Reporter

SEQLEN = 16  # VIBE's DATASET.SEQLEN, and the stride of its test windows
METRICS = ("pa_mpjpe", "mpjpe", "pve", "accel", "accel_error")
LABELS = {"pa_mpjpe": "PA-MPJPE", "mpjpe": "MPJPE", "pve": "PVE", "accel": "Accel", "accel_error": "AccelErr"}

# Published VIBE figures, mm (Accel labelled mm/s^2). `accel` is VIBE's ACCEL (the prediction's own
# acceleration), `accel_error` its ACCEL_ERR.
PAPER_VIBE_PROTOCOL = {
    "3dpw": {"VIBE doc/eval.md (vibe_model_wo_3dpw)": {"pa_mpjpe": 56.5608, "mpjpe": 93.5881, "pve": 113.4118,
                                                         "accel": 27.1242, "accel_error": 27.9877}},
    "mpii3d": {"VIBE README (PA-MPJPE only)": {"pa_mpjpe": 63.4}},
    "h36m": {"VIBE README (PA-MPJPE only)": {"pa_mpjpe": 41.5}},
}
# The VIBE rows of TCMR's tables (TCMR_RELEASE README, 2022-06). Table 6's 3DPW Accel (27.1) equals
# VIBE's own ACCEL above, not an acceleration error.
PAPER_VIBE_IN_TCMR = {
    "3dpw": {"TCMR Table 4 (3DPW train used)": {"pa_mpjpe": 57.6, "mpjpe": 91.9, "accel_error": 25.4},
             "TCMR Table 6 (no 3DPW train)": {"pa_mpjpe": 56.5, "mpjpe": 93.5, "pve": 113.4,
                                              "accel_error": 27.1}},
    "mpii3d": {"TCMR Table 4": {"pa_mpjpe": 68.9, "mpjpe": 103.9, "accel_error": 27.3},
               "TCMR Table 6": {"pa_mpjpe": 63.4, "mpjpe": 97.7, "accel_error": 29.0}},
    "h36m": {"TCMR Table 4": {"pa_mpjpe": 53.3, "mpjpe": 78.0, "accel_error": 27.3},
             "TCMR Table 6": {"pa_mpjpe": 41.5, "mpjpe": 65.9, "accel_error": 18.3}},
}

# predict_windows: features (W,16,2048) -> joints (W*16,14,3) metres (LSP order), verts (W*16,6890,3)
# or None; frames in (window, frame) order.
WindowPredictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def vibe_chunks(vid_names: np.ndarray, seqlen: int = SEQLEN) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Official `split_into_chunks(vid_names, seqlen, stride=seqlen)` -> per sequence (name, rows (R,),
    windows (W,16) row indices); sequences with fewer than `seqlen` rows get W = 0."""
    names = np.asarray(vid_names)
    if names.dtype.kind == "S":
        names = np.char.decode(names, "latin1")
    names = names.astype(str)
    unique, first = np.unique(names, return_index=True)
    order = np.argsort(first)
    unique, first = unique[order], first[order]
    out = []
    for name, rows in zip(unique, np.split(np.arange(len(names)), first[1:])):
        count = len(rows) // seqlen
        out.append((str(name), rows, rows[:count * seqlen].reshape(count, seqlen)))
    return out


def _gt_joints(db: dict, rows: np.ndarray, dataset: str) -> np.ndarray:
    """(F,14,3) through float16 as VIBE's dataset does; 49 SPIN joints -> the 14 common ones."""
    joints = np.asarray(db["joints3D"][rows])[..., :3]
    if joints.shape[1] == 49:
        joints = joints[:, list(metrics.TCMR49_TO_LSP14)]
    return joints.astype(np.float16).astype(np.float64)


def prediction_accel(pred: np.ndarray) -> np.ndarray:
    """VIBE's `compute_accel` on root-aligned joints: |X[t-1] - 2X[t] + X[t+1]| per joint, mean, mm (F-2,)."""
    x = metrics.root_align(np.asarray(pred, dtype=np.float64), metrics.LSP_ROOT)
    if len(x) < 3:
        return np.zeros(0)
    return np.linalg.norm(x[:-2] - 2.0 * x[1:-1] + x[2:], axis=-1).mean(axis=-1) * metrics.M_TO_MM


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def evaluate_db_vibe(db: dict, dataset: str, predict_windows: WindowPredictor, gt_vertices=None,
                     max_sequences: int | None = None, reporter: Reporter | None = None) -> dict:
    """Run VIBE's protocol -> {"overall": {...}, "sequences": [...], "skipped_sequences": [...]}."""
    reporter = reporter or NullReporter()
    has_pve = dataset == "3dpw"
    if has_pve and gt_vertices is None:
        raise ValueError("3dpw needs gt_vertices for PVE")
    chunks = vibe_chunks(db["vid_name"])
    todo = [c for c in chunks if len(c[2])]
    skipped = [{"name": n, "num_frames": len(r), "reason": f"fewer than {SEQLEN} frames (VIBE's "
                                                            "split_into_chunks yields no window)"}
               for n, r, w in chunks if not len(w)]
    complete = max_sequences is None or len(todo) <= max_sequences
    todo = todo if complete else todo[:max_sequences]
    total = sum(w.size for _, _, w in todo)
    reporter.stage("evaluate", f"Evaluating {len(todo)} sequences ({total} frames, VIBE protocol)")
    preds, gts, per_frame, records, done = [], [], {m: [] for m in ("mpjpe", "pa_mpjpe", "pve")}, [], 0
    for name, rows, windows in todo:
        pred, verts = predict_windows(np.asarray(db["features"][windows], dtype=np.float32))
        flat = windows.reshape(-1)
        gt = _gt_joints(db, flat, dataset)
        if pred.shape != gt.shape:
            raise BackendError(Code.INTERNAL, f"{name}: predicted joints {pred.shape} vs GT {gt.shape}",
                               "This is a bug. Please report it with the backend log.")
        values = {"mpjpe": metrics.mpjpe(pred, gt), "pa_mpjpe": metrics.pa_mpjpe(pred, gt)}
        if has_pve:
            pose = np.asarray(db["pose"][flat]).astype(np.float16).astype(np.float32)
            betas = np.asarray(db["shape"][flat]).astype(np.float16).astype(np.float32)
            values["pve"] = metrics.pve(verts, gt_vertices(pose, betas))
        record = {"name": name, "num_rows": len(rows), "num_windows": len(windows), "num_frames": flat.size,
                  "dropped_tail_frames": len(rows) - flat.size}
        for key, arr in values.items():
            per_frame[key].append(arr)
            record[key] = _mean(arr)
        records.append(record)
        preds.append(pred)
        gts.append(gt)
        done += flat.size
        reporter.progress("evaluate", done, total)
    overall = {k: _mean(np.concatenate(v)) if v else None for k, v in per_frame.items()}
    if preds:
        pred_all, gt_all = np.concatenate(preds), np.concatenate(gts)
        overall["accel"] = _mean(prediction_accel(pred_all))
        overall["accel_error"] = _mean(metrics.accel_error(pred_all, gt_all))
    else:
        overall["accel"] = overall["accel_error"] = None
    if not has_pve:
        overall.pop("pve")
    overall.update({"num_sequences": len(records), "num_frames": int(done),
                    "num_skipped_sequences": len(skipped), "complete": complete})
    return {"overall": overall, "sequences": records, "skipped_sequences": skipped}


PROTOCOL_NOTES = {
    "joints": "14 LSP joints: J_regressor_h36m @ predicted vertices, rows H36M_TO_J14 (as TCMR's)",
    "root": "mean of joints 2 and 3 (hips)",
    "sequences": "rows cut at each vid_name's first appearance, no valid/valid_i filtering; "
                 "non-overlapping 16-frame windows, each through the GRU from a zero state, all 16 "
                 "frames kept; the len % 16 tail and sequences < 16 frames not evaluated",
    "ground_truth": "joints (and 3DPW pose/betas) through float16, as VIBE's dataset class stores them",
    "pa_mpjpe": "per-frame similarity Procrustes on root-aligned joints",
    "pve": "neutral SMPL of GT pose+betas vs predicted vertices, no alignment, no translation (3DPW only)",
    "accel": "VIBE's ACCEL: the prediction's own acceleration, over the flat concatenation of all "
             "evaluated frames (window and sequence borders included)",
    "accel_error": "VIBE's ACCEL_ERR: acceleration error over the same flat concatenation, no mask",
    "averaging": "mean over all evaluated frames",
}


def build_report_vibe(config, results: dict, synthetic: bool) -> dict:
    """The JSON report of a VIBE-protocol run (same top-level layout as backend.evaluate's)."""
    units = {k: "mm" for k in ("pa_mpjpe", "mpjpe", "pve")}
    units["accel"] = units["accel_error"] = "mm/s^2 as the papers label it (computed per frame^2)"
    if config.dataset != "3dpw":
        units.pop("pve")
    return {
        "report_version": 1,
        "producer": {"name": "tcmr-mocap-backend", "version": __version__, "synthetic_model_data": synthetic},
        "config": asdict(config),
        "dataset": config.dataset,
        "units": units,
        "protocol": {"name": "vibe", **PROTOCOL_NOTES},
        **results,
        "paper": PAPER_VIBE_PROTOCOL[config.dataset],
    }


def _fmt(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def format_table_vibe(report: dict) -> str:
    """Paper-style table of a VIBE-protocol run and the published VIBE figures."""
    keys = [k for k in METRICS if k != "pve" or report["dataset"] == "3dpw"]
    overall = report["overall"]
    rows = [("this run", overall)] + [(f"paper {name}", v) for name, v in report["paper"].items()]
    width = max(len(label) for label, _ in rows) + 1
    lines = [f"VIBE evaluation (VIBE protocol) on {report['dataset']}: {Path(report['config']['db']).name}, "
             f"{overall['num_sequences']} sequences, {overall['num_frames']} frames"
             + ("" if overall["complete"] else " (partial: --max-sequences)"),
             " " * width + "".join(f"{LABELS[k]:>10s}" for k in keys)]
    for label, values in rows:
        lines.append(f"{label:{width}s}" + "".join(f"{_fmt(values.get(k)):>10s}" for k in keys))
    lines.append("Units: mm; Accel = the prediction's own acceleration, AccelErr = acceleration error, both "
                 "per frame^2 over all frames in a row (VIBE's ACCEL / ACCEL_ERR).")
    if report["producer"]["synthetic_model_data"]:
        lines.append("SYNTHETIC model data (random weights): these numbers mean nothing.")
    return "\n".join(lines)


def vibe_window_predictor(models, batch_size: int) -> WindowPredictor:
    """VIBE (models.vibe) on independent 16-frame windows + J_regressor_h36m -> 14 LSP joints."""
    import torch

    from backend.models.inference import _tf32

    j_h36m = models.j_regressor_h36m  # (17, V) float64 or None
    if j_h36m is None:
        raise BackendError(Code.DATA_MISSING, f"J_regressor_h36m.npy is missing in {models.data_dir}",
                           f"Put the official J_regressor_h36m.npy into {models.data_dir}.")
    j_h36m = j_h36m.astype(np.float32)

    def predict(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        joints, verts = [], []
        with torch.inference_mode(), _tf32(models):
            for start in range(0, len(windows), batch_size):
                x = torch.from_numpy(np.ascontiguousarray(windows[start:start + batch_size]))
                x = x.to(models.device)
                out = models.vibe(x)  # per frame, (B*16, ...)
                v, _ = models.smpl(out["rotmat"], out["betas"])
                v = v.float().cpu().numpy()
                regressed = np.einsum("jv,fvc->fjc", j_h36m, v)  # (B*16, 17, 3)
                joints.append(metrics.lsp14_from_h36m17(regressed).astype(np.float64))
                verts.append(v)
        return np.concatenate(joints), np.concatenate(verts)

    return predict
