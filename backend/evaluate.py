"""TCMR's evaluation protocol (official `evaluate.py`, docs/tcmr_facts.md) over a database.

Per benchmark:

| dataset | predicted joints                                  | GT joints               | root        | PVE |
|---------|---------------------------------------------------|-------------------------|-------------|-----|
| 3dpw    | J_regressor_h36m @ verts, rows H36M_TO_J14 (14)   | joints3D (14, or 49->14)| hips 2, 3   | yes |
| h36m    | same                                              | same                    | hips 2, 3   | no  |
| mpii3d  | the 49 joints -> 17 mpii3d_test joints            | joints3D 49 -> 17       | index -3    | no  |

Sequences: sorted unique `vid_name`, every row with that name in row order, rows with
`valid == 0` dropped first; sequences with fewer than 16 frames are skipped (the official
`split_into_chunks` yields no window for them); each sequence runs through the network with the
official per-frame windows (`regress_track`). MPI-INF-3DHP frames are then masked with
`valid_i` for MPJPE/PA-MPJPE, and for Accel (whose end frames are dropped in every sequence).
PVE (3DPW) compares the predicted vertices with the neutral SMPL of the GT pose (72) and betas
(10), no translation on either side. Dataset figures are means over all evaluated frames of all
sequences (the official `np.mean(np.concatenate(...))`).

The protocol (`evaluate_db`) takes the network as a `predict(features) -> (joints, verts)`
callable, so it runs without torch in tests; `model_predictor` and `SmplVertices` bind it to
the real model (`backend.models`) and to smplx's LBS for the ground-truth meshes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from backend import __version__, metrics
from backend.errors import BackendError, Code
from backend.evaldb import Sequence
from backend.events import NullReporter, Reporter
from backend.fileio import json_text, write_atomic

MIN_FRAMES = 16  # official seqlen: shorter sequences produce no evaluation window
REPORT_VERSION = 1
METRICS = ("pa_mpjpe", "mpjpe", "pve", "accel_error")
LABELS = {"pa_mpjpe": "PA-MPJPE", "mpjpe": "MPJPE", "pve": "PVE", "accel_error": "Accel"}
UNITS = {"pa_mpjpe": "mm", "mpjpe": "mm", "pve": "mm",
         "accel_error": "mm/s^2 as the paper labels it (computed per frame^2: X[t-1] - 2 X[t] + X[t+1])"}

# docs/tcmr_facts.md, Published numbers (README tables of TCMR_RELEASE, 2022-06), mm; Accel labelled mm/s^2.
PAPER = {
    "3dpw": {"Table 4 (3DPW train used)": {"pa_mpjpe": 52.7, "mpjpe": 86.5, "pve": 102.9, "accel_error": 6.8},
             "Table 6 (no 3DPW train)": {"pa_mpjpe": 55.8, "mpjpe": 95.0, "pve": 111.5, "accel_error": 6.7}},
    "mpii3d": {"Table 4": {"pa_mpjpe": 63.5, "mpjpe": 97.3, "accel_error": 8.5},
               "Table 6": {"pa_mpjpe": 62.8, "mpjpe": 96.5, "accel_error": 9.5}},
    "h36m": {"Table 4": {"pa_mpjpe": 52.0, "mpjpe": 73.6, "accel_error": 3.9},
             "Table 6": {"pa_mpjpe": 41.1, "mpjpe": 62.3, "accel_error": 5.3}},
}


@dataclass(frozen=True)
class Benchmark:
    name: str
    joints: str  # "lsp14": 14 LSP joints via J_regressor_h36m | "mpii3d17": 17 joints of the 49
    root: tuple[int, ...]  # joints averaged into the root
    has_pve: bool


BENCHMARKS = {
    "3dpw": Benchmark("3dpw", "lsp14", metrics.LSP_ROOT, True),
    "h36m": Benchmark("h36m", "lsp14", metrics.LSP_ROOT, False),
    "mpii3d": Benchmark("mpii3d", "mpii3d17", metrics.MPII3D_ROOT, False),
}


@dataclass(frozen=True)
class EvalConfig:
    """Everything that defines an evaluation run; saved in the report."""

    db: str
    dataset: str
    checkpoint: str
    data_dir: str
    device: str
    batch_size: int = 64
    max_sequences: int | None = None
    min_frames: int = MIN_FRAMES
    model: str = "tcmr"  # temporal model evaluated: "tcmr" | "vibe"
    protocol: str = "tcmr"  # "tcmr" (this module) | "vibe" (backend.evaluate_vibe)


# predict: features (F,2048) float32 -> joints (F,J,3) metres in the benchmark's joint order,
# verts (F,6890,3) or None when the benchmark has no PVE.
Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
# gt_vertices: pose (F,72) axis-angle, betas (F,10) -> (F,6890,3) neutral SMPL vertices, metres.
GtVertices = Callable[[np.ndarray, np.ndarray], np.ndarray]


def gt_joints(db: dict[str, np.ndarray], rows: np.ndarray, bench: Benchmark) -> np.ndarray:
    """Ground-truth joints of some rows in the benchmark's order: (F,14,3) or (F,17,3), metres."""
    joints = np.asarray(db["joints3D"][rows][..., :3], dtype=np.float64)
    if bench.joints == "mpii3d17":
        return joints[:, list(metrics.TCMR49_TO_MPII3D17)]
    if joints.shape[1] == 49:
        return joints[:, list(metrics.TCMR49_TO_LSP14)]  # convert_kps(src='spin', dst='common')
    return joints


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def evaluate_db(db: dict[str, np.ndarray], sequences: list[Sequence], bench: Benchmark, predict: Predictor,
                gt_vertices: GtVertices | None = None, max_sequences: int | None = None,
                min_frames: int = MIN_FRAMES, reporter: Reporter | None = None) -> dict:
    """Run the protocol -> {"overall": {...}, "sequences": [...], "skipped_sequences": [...]}.

    `max_sequences` stops after that many evaluated sequences (quick runs); the figures are then
    over those sequences only, and the report says so.
    """
    reporter = reporter or NullReporter()
    if bench.has_pve and gt_vertices is None:
        raise ValueError(f"{bench.name} needs gt_vertices for PVE")
    todo, skipped = [], []
    for seq in sequences:
        if len(seq.rows) < min_frames:
            skipped.append({"name": seq.name, "num_frames": len(seq.rows),
                            "reason": f"fewer than {min_frames} frames (the official evaluation skips it)"})
        elif max_sequences is None or len(todo) < max_sequences:
            todo.append(seq)
    complete = len(todo) == len(sequences) - len(skipped)
    total = sum(len(s.rows) for s in todo)
    reporter.stage("evaluate", f"Evaluating {len(todo)} sequences ({total} frames)")
    per_frame: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    records = []
    done = 0
    for seq in todo:
        feats = np.asarray(db["features"][seq.rows], dtype=np.float32)  # (F, 2048)
        pred, verts = predict(feats)
        gt = gt_joints(db, seq.rows, bench)
        if pred.shape != gt.shape:
            raise BackendError(Code.INTERNAL, f"{seq.name}: predicted joints {pred.shape} vs GT {gt.shape}",
                               "This is a bug. Please report it with the backend log.")
        num = len(seq.rows)
        if bench.name == "mpii3d":
            valid_i = np.asarray(db["valid_i"][seq.rows]).reshape(num, -1)[:, 0]
            frames = np.flatnonzero(valid_i)
            if frames.size == 0:
                skipped.append({"name": seq.name, "num_frames": num, "reason": "no frame with valid_i"})
                done += num
                reporter.progress("evaluate", done, total)
                continue
        else:
            frames = np.arange(num)
        values = {
            "mpjpe": metrics.mpjpe(pred, gt, bench.root)[frames],
            "pa_mpjpe": metrics.pa_mpjpe(pred, gt, bench.root)[frames],
        }
        accel = np.zeros(num)
        accel[1:-1] = metrics.accel_error(pred, gt, bench.root)  # frame t gets the value centred on t
        values["accel_error"] = accel[frames[(frames != 0) & (frames != num - 1)]]
        if bench.has_pve:
            pose = np.asarray(db["pose"][seq.rows], dtype=np.float32)
            betas = np.asarray(db["shape"][seq.rows], dtype=np.float32)
            values["pve"] = metrics.pve(verts, gt_vertices(pose, betas))
        record = {"name": seq.name, "num_rows": seq.num_rows, "num_frames": num,
                  "num_evaluated_frames": len(frames), "num_accel_frames": len(values["accel_error"])}
        for key, arr in values.items():
            per_frame[key].append(arr)
            record[key] = _mean(arr)
        records.append(record)
        done += num
        reporter.progress("evaluate", done, total)
    overall = {key: _mean(np.concatenate(per_frame[key])) if per_frame[key] else None for key in METRICS}
    if not bench.has_pve:
        overall.pop("pve")
    overall.update({
        "num_sequences": len(records),
        "num_frames": int(sum(r["num_evaluated_frames"] for r in records)),
        "num_accel_frames": int(sum(r["num_accel_frames"] for r in records)),
        "num_skipped_sequences": len(skipped),
        "complete": complete,
    })
    return {"overall": overall, "sequences": records, "skipped_sequences": skipped}


def build_report(config: EvalConfig, results: dict, synthetic: bool) -> dict:
    """The JSON report: version, producer, config, units, protocol notes, numbers, paper figures."""
    bench = BENCHMARKS[config.dataset]
    return {
        "report_version": REPORT_VERSION,
        "producer": {"name": "tcmr-mocap-backend", "version": __version__, "synthetic_model_data": synthetic},
        "config": asdict(config),
        "dataset": config.dataset,
        "units": {k: UNITS[k] for k in METRICS if k != "pve" or bench.has_pve},
        "protocol": {
            "joints": ("14 LSP joints: J_regressor_h36m @ predicted vertices, rows H36M_TO_J14"
                       if bench.joints == "lsp14" else
                       "17 mpii3d_test joints picked from the 49 TCMR joints (no regressor)"),
            "root": ("mean of joints 2 and 3 (hips)" if bench.root == metrics.LSP_ROOT
                     else "joint index -3 (hip)"),
            "pa_mpjpe": "per-frame similarity Procrustes on root-aligned joints",
            "pve": "neutral SMPL of GT pose+betas vs predicted vertices, no alignment, no translation"
                   if bench.has_pve else "not reported for this dataset",
            "accel_error": "first and last frame of every sequence excluded",
            "sequences": f"sorted vid_name, valid==0 rows dropped, < {config.min_frames} frames skipped, "
                         "official per-frame 16-frame windows",
            "averaging": "mean over all evaluated frames of all sequences",
        },
        **results,
        "paper": _paper_rows(config),
    }


def _paper_rows(config: EvalConfig) -> dict:
    """Published rows of the evaluated model: TCMR's own, or the VIBE rows of TCMR's tables."""
    if config.model == "vibe":
        from backend.evaluate_vibe import PAPER_VIBE_IN_TCMR

        return PAPER_VIBE_IN_TCMR[config.dataset]
    return PAPER[config.dataset]


def _fmt(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def format_table(report: dict) -> str:
    """Paper-style table (PA-MPJPE, MPJPE, PVE, Accel) of this run and the published TCMR rows."""
    dataset = report["dataset"]
    keys = [k for k in METRICS if k != "pve" or BENCHMARKS[dataset].has_pve]
    overall = report["overall"]
    model = report["config"].get("model", "tcmr").upper()
    rows = [("this run", overall)] + [(f"paper {model}, {name}", values)
                                      for name, values in report["paper"].items()]
    width = max(len(label) for label, _ in rows) + 1
    head = " " * width + "".join(f"{LABELS[k]:>10s}" for k in keys)
    lines = [f"{model} evaluation (TCMR protocol) on {dataset}: {Path(report['config']['db']).name}, "
             f"{overall['num_sequences']} sequences, {overall['num_frames']} frames"
             + ("" if overall["complete"] else " (partial: --max-sequences)"), head]
    for label, values in rows:
        lines.append(f"{label:{width}s}" + "".join(f"{_fmt(values.get(k)):>10s}" for k in keys))
    lines.append("Units: mm; Accel in mm/s^2 as the paper labels it (the error of X[t-1] - 2X[t] + X[t+1] "
                 "per frame^2).")
    if report["producer"]["synthetic_model_data"]:
        lines.append("SYNTHETIC model data (random weights): these numbers mean nothing.")
    return "\n".join(lines)


def write_report(path: Path, report: dict) -> None:
    """JSON to a temporary file in the same folder, then renamed: never a half-written report."""
    write_atomic(path, lambda tmp: tmp.write_text(json_text(report), encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# Binding to the real model (torch)
# --------------------------------------------------------------------------------------------------
def model_predictor(models, bench: Benchmark, batch_size: int) -> Predictor:
    """`regress_track` (official windowing) + the benchmark's joint selection."""
    from backend.models.inference import regress_track

    j_h36m = models.j_regressor_h36m  # (17, V) float64 or None
    if bench.joints == "lsp14" and j_h36m is None:
        raise BackendError(Code.DATA_MISSING, f"J_regressor_h36m.npy is missing in {models.data_dir}",
                           "Put the official J_regressor_h36m.npy (TCMR base_data.zip) into "
                           f"{models.data_dir}.")

    def predict(features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        out = regress_track(models, features, batch_size=batch_size, with_verts=bench.joints == "lsp14")
        if bench.joints == "mpii3d17":
            return out["joints3d"][:, list(metrics.TCMR49_TO_MPII3D17)].astype(np.float64), None
        verts = out["verts"]  # (F, V, 3) float32
        regressed = np.einsum("jv,fvc->fjc", j_h36m.astype(np.float32), verts)  # (F, 17, 3)
        return metrics.lsp14_from_h36m17(regressed).astype(np.float64), verts

    return predict


class SmplVertices:
    """Neutral SMPL vertices from axis-angle pose (F,72) + betas (F,10), no translation.

    smplx's `lbs` with pose2rot=True (the official `compute_error_verts` path), float32, fed
    from `backend.smpl_file.SmplData`; independent of the network's own SMPL layer.
    """

    def __init__(self, smpl_data, device="cpu", chunk: int = 256) -> None:
        import torch

        def f32(a):
            return torch.as_tensor(np.ascontiguousarray(a, dtype=np.float32), device=device)

        self.torch = torch
        self.chunk = chunk
        self.v_template = f32(smpl_data.v_template)  # (V, 3)
        self.shapedirs = f32(smpl_data.shapedirs[:, :, :10])  # (V, 3, 10)
        self.posedirs = f32(smpl_data.posedirs.reshape(-1, smpl_data.posedirs.shape[-1]).T)  # (207, V*3)
        self.j_regressor = f32(smpl_data.J_regressor)  # (24, V)
        self.weights = f32(smpl_data.weights)  # (V, 24)
        self.parents = torch.as_tensor(np.asarray(smpl_data.parents, dtype=np.int64), device=device)
        self.device = device

    def __call__(self, pose: np.ndarray, betas: np.ndarray) -> np.ndarray:
        from smplx.lbs import lbs

        torch = self.torch
        out = []
        with torch.inference_mode():
            for start in range(0, len(pose), self.chunk):
                part = slice(start, start + self.chunk)
                p = torch.as_tensor(np.asarray(pose[part], np.float32), device=self.device)  # (B, 72)
                b = torch.as_tensor(np.asarray(betas[part], np.float32), device=self.device)  # (B, 10)
                verts, _ = lbs(b, p, self.v_template, self.shapedirs, self.posedirs, self.j_regressor,
                               self.parents, self.weights, pose2rot=True)
                out.append(verts.cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.v_template.shape[0], 3), np.float32)
