"""Training throughput of `train`: windows per second, full model and frozen encoder, CPU (+ CUDA).

    python benchmarks/bench_train.py [--batch-size B] [--steps N] [--data-dir DIR] [--threads T]

Runs N optimizer steps (after one warm-up step) of the real trainer (`backend.training`) on a
random database (random features and labels; the timing does not depend on the values) with
real-size TCMR and prints windows/s, seconds per step and the resulting time for one paper
epoch (500 steps of 32 windows), next to the baseline of the same run: inference windows/s of
`regress_track` on the same device. Without --data-dir a synthetic SMPL folder is written to a
temporary directory (only the SMPL layer is needed; the weights are random).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

PAPER_EPOCH_WINDOWS = 500 * 32


def random_db(rows: int = 32, seed: int = 0):
    from backend.training import data, windows

    rng = np.random.default_rng(seed)
    kp = np.concatenate([rng.uniform(-1, 1, (rows, 49, 2)), np.ones((rows, 49, 1))], -1).astype(np.float32)
    return data.TrainDb(name="random", kind="custom", is_3d=True,
                        features=rng.uniform(0, 1, (rows, 2048)).astype(np.float32), kp_2d=kp,
                        kp_3d=rng.normal(0, 0.3, (rows, 49, 3)).astype(np.float32),
                        pose=rng.normal(0, 0.3, (rows, 72)).astype(np.float32),
                        shape=rng.normal(0, 1, (rows, 10)).astype(np.float32),
                        w_3d=np.ones(rows, np.float32), w_smpl=np.ones(rows, np.float32),
                        windows=windows.train_windows(np.array(["v"] * rows), 1))


def session(folder: Path, device: torch.device, batch: int, freeze: bool):
    from backend.events import NullReporter
    from backend.models.loading import load_regressor_npy
    from backend.models.smpl import SmplLayer
    from backend.models.tcmr import TCMR
    from backend.smpl_file import load_smpl
    from backend.training import checkpoints, ddp
    from backend.training.config import TrainConfig
    from backend.training.trainer import Session

    smpl_data = load_smpl(folder / "SMPL_NEUTRAL.pkl")
    j_extra = load_regressor_npy(folder / "J_regressor_extra.npy", 9)
    parts = {"tcmr": TCMR(), "smpl": SmplLayer(smpl_data, j_extra),
             "smpl_state": checkpoints.smpl_buffers(smpl_data, j_extra), "dbs": [random_db()]}
    config = TrainConfig(dbs=("random",), out=str(folder / "unused"), batch_size=batch, freeze_encoder=freeze)
    return Session(config, ddp.Dist(), device, parts, NullReporter()), smpl_data, j_extra


def time_training(folder: Path, device: torch.device, batch: int, steps: int, freeze: bool) -> float:
    sess, _, _ = session(folder, device, batch, freeze)
    sess.train_step()  # warm-up (and, frozen, the first encodings)
    if freeze:  # steady state of a frozen-encoder fine-tune: every window already encoded once
        for _ in range(len(sess.schedule.streams[1]) // batch):
            sess.train_step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        sess.train_step()
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def time_inference(folder: Path, device: torch.device, frames: int = 256) -> float:
    from backend.models.inference import regress_track
    from backend.models.loading import Models, load_regressor_npy
    from backend.models.smpl import SmplLayer
    from backend.models.tcmr import TCMR
    from backend.smpl_file import load_smpl

    smpl_data = load_smpl(folder / "SMPL_NEUTRAL.pkl")
    smpl = SmplLayer(smpl_data, load_regressor_npy(folder / "J_regressor_extra.npy", 9)).to(device)
    models = Models(tcmr=TCMR().to(device).eval(), smpl=smpl, smpl_data=smpl_data, backbone=None,
                    device=device, synthetic=True, data_dir=folder)
    feats = np.random.default_rng(1).uniform(0, 1, (frames, 2048)).astype(np.float32)
    regress_track(models, feats[:32])
    sync(device)
    start = time.perf_counter()
    regress_track(models, feats)
    sync(device)
    return frames / (time.perf_counter() - start)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--data-dir", default=None, help="model data folder (default: synthetic, temporary)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.data_dir) if args.data_dir else Path(tmp)
        if not args.data_dir:
            from backend.synthetic import write_model_data

            write_model_data(folder, seed=0)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads of {os.cpu_count()} cores "
              f"(load average {load:.1f}), batch {args.batch_size}, {args.steps} timed steps")
        for device in devices:
            batch = args.batch_size if device.type == "cpu" else max(args.batch_size, 32)
            infer = time_inference(folder, device)
            for freeze in (False, True):
                steps = args.steps if device.type == "cpu" else 20
                rate = time_training(folder, device, batch, steps, freeze)
                epoch = PAPER_EPOCH_WINDOWS / rate
                label = "frozen encoder" if freeze else "full model"
                print(f"{device.type:>4} {label:>14}: {rate:8.1f} training windows/s (batch {batch}), "
                      f"{batch / rate:6.2f} s/step, paper epoch (500 x 32 windows) {epoch / 60:7.1f} min; "
                      f"inference baseline {infer:7.1f} windows/s, training/inference {rate / infer:.3f}")


if __name__ == "__main__":
    main()
