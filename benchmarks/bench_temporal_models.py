"""Throughput of the two temporal models on the same features: TCMR vs VIBE (+ regressor, SMPL).

Not a test: prints frames/s of `regress_track` for each model on one track of --frames frames
and VIBE's speed as a multiple of TCMR's, both measured in the same run on the same machine.

    python benchmarks/bench_temporal_models.py [--data-dir D] [--frames 512] [--repeats 3] [--device cpu]

Weights are SYNTHETIC (random, official layouts; backend.synthetic) unless --data-dir points at
a folder holding both real checkpoints: speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from backend.models.inference import regress_track
from backend.models.loading import load_models


def _time(models, features: np.ndarray, repeats: int) -> float:
    """Best of `repeats` wall-clock seconds for one regress_track call (after a warm-up)."""
    regress_track(models, features[:32])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        regress_track(models, features)
        if models.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="model data folder with both checkpoints")
    p.add_argument("--frames", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            from backend.synthetic import write_model_data, write_vibe_checkpoint

            data_dir = write_model_data(Path(tmp) / "base_data")
            write_vibe_checkpoint(data_dir)
        features = np.random.default_rng(0).uniform(0, 1, (args.frames, 2048)).astype(np.float32)
        seconds = {}
        for model in ("tcmr", "vibe"):
            models = load_models(data_dir, args.device, backbone=False, model=model)
            seconds[model] = _time(models, features, args.repeats)
            del models
    synthetic = " (synthetic weights)" if args.data_dir is None else ""
    print(f"{args.frames} frames on {args.device}, torch threads {torch.get_num_threads()}{synthetic}")
    for model, s in seconds.items():
        print(f"  {model}: {s:7.3f} s  {args.frames / s:8.1f} frames/s")
    print(f"  VIBE / TCMR speed: {seconds['tcmr'] / seconds['vibe']:.2f}x")


if __name__ == "__main__":
    main()
