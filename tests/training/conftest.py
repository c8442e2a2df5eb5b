"""Tiny training databases in the official (joblib) format, labelled by a *teacher* network.

The teacher is the synthetic data folder's TCMR with its regressor's output biases shifted, so
the labels (pose, shape, 49 3D joints, 2D keypoints in image pixels through a known box) are
exactly reachable by a student that starts from the folder's checkpoint: the loss can fall
towards the float16 label rounding, and it must start clearly above it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.eval import joblib_writer

REPO = Path(__file__).resolve().parents[2]
BOX = (400.0, 300.0, 200.0, 200.0)  # cx, cy, w, h in pixels: the crop is 1.2 * 200 = 240 px wide
VIDEOS = {"courtyard_a_00_0": 20, "courtyard_b_00_1": 18}  # rows per video (each >= 16)
COMMON_FROM_49 = list(range(25, 39))  # 3DPW's 14 "common" joints are rows 25..38 of the 49


@pytest.fixture(scope="session")
def teacher(model_data_dir):
    """The folder's network with shifted regressor biases (decpose, decshape, deccam)."""
    import torch

    from backend.models.loading import load_models

    models = load_models(model_data_dir, "cpu", backbone=False)
    gen = torch.Generator().manual_seed(3)
    reg = models.tcmr.regressor
    with torch.no_grad():
        reg.decpose.bias += 0.05 * torch.randn(reg.decpose.bias.shape, generator=gen)
        reg.decshape.bias += 0.2 * torch.randn(reg.decshape.bias.shape, generator=gen)
        reg.deccam.bias += torch.tensor([0.02, 0.01, -0.01])
    return models


def teacher_rows(teacher, num_rows: int, seed: int) -> dict[str, np.ndarray]:
    """Features and the teacher's labels for one video, 3DPW train layout."""
    from backend.models.inference import regress_track

    rng = np.random.default_rng(seed)
    base = rng.uniform(0.0, 1.0, (1, 2048))
    drift = np.cumsum(rng.normal(0.0, 0.05, (num_rows, 2048)), axis=0)
    features = np.abs(base + drift).astype(np.float32)  # >= 0 and temporally smooth
    out = regress_track(teacher, features)
    joints = out["joints3d"].astype(np.float64)  # (n, 49, 3)
    s, tx, ty = (out["pred_cam"][:, i:i + 1].astype(np.float64) for i in range(3))
    tz = 2 * 5000.0 / (224.0 * s + 1e-9)
    p = joints + np.stack([tx, ty, tz], axis=-1)
    uv = 5000.0 * p[..., :2] / p[..., 2:3] / 112.0  # crop-normalised [-1, 1]
    cx, cy, w, h = BOX
    px = np.stack([cx + uv[..., 0] * 0.6 * w, cy + uv[..., 1] * 0.6 * h, np.ones(uv.shape[:2])], axis=-1)
    return {"features": features, "joints3D": joints, "joints2D": px[:, COMMON_FROM_49],
            "pose": out["pose"].astype(np.float64), "shape": out["betas"].astype(np.float64),
            "bbox": np.tile(np.array(BOX), (num_rows, 1))}


def build_3dpw_train(teacher, seed: int = 0) -> dict[str, np.ndarray]:
    cols: dict[str, list] = {}
    for i, (name, n) in enumerate(VIDEOS.items()):
        rows = teacher_rows(teacher, n, seed + i)
        rows["vid_name"] = np.array([name] * n)
        rows["frame_id"] = np.arange(n)
        rows["img_name"] = np.array([f"{name}/image_{k:05d}.jpg" for k in range(n)], dtype=object)
        rows["valid"] = np.ones(n, np.int64)
        for k, v in rows.items():
            cols.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in cols.items()}


@pytest.fixture(scope="session")
def train_db(teacher, tmp_path_factory):
    """3dpw_train_db.pt (2 videos, 38 rows) labelled by the teacher."""
    path = tmp_path_factory.mktemp("dbs") / "3dpw_train_db.pt"
    joblib_writer.dump(build_3dpw_train(teacher), path)
    return path


@pytest.fixture(scope="session")
def posetrack_db(teacher, tmp_path_factory):
    """posetrack_train_db.pt: 2D-only set (49 joints in pixels + box), same teacher."""
    db = build_3dpw_train(teacher, seed=10)
    j2d = np.zeros((len(db["vid_name"]), 49, 3))
    j2d[:, COMMON_FROM_49] = db["joints2D"]
    path = tmp_path_factory.mktemp("dbs2d") / "posetrack_train_db.pt"
    joblib_writer.dump({"vid_name": db["vid_name"], "features": db["features"], "joints2D": j2d,
                        "bbox": db["bbox"], "img_name": db["img_name"]}, path)
    return path


def backend_env(threads: int = 1) -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    return env


def run_backend(args: list[str], timeout: float = 300, launcher: list[str] | None = None,
                threads: int = 1) -> subprocess.CompletedProcess:
    cmd = (launcher or [sys.executable, "-m"]) + ["backend", *args, "--jsonl"]
    return subprocess.run(cmd, cwd=REPO, env=backend_env(threads), capture_output=True, text=True,
                          timeout=timeout)


def run_inprocess(args: list[str]) -> tuple[int, list[dict]]:
    """backend.cli.main in this process (torch already imported), one thread, protocol lines parsed."""
    from backend import cli

    buf = io.StringIO()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with contextlib.redirect_stdout(buf):
            code = cli.main([*args, "--jsonl"])
    finally:
        torch.set_num_threads(threads)
    return code, [json.loads(line) for line in buf.getvalue().splitlines() if line.startswith("{")]
