"""Cost of the per-joint confidence: the regressor run on the three branch features as well.

Not a test: prints the temporal stage's time (regress_track) with and without the branch
heads, measured in the same run, and their ratio, plus the numpy maths of backend.confidence.

    python benchmarks/bench_confidence.py [--data-dir D] [--frames 64] [--repeats 3] [--device cpu]

Weights are SYNTHETIC (random, official layout) unless --data-dir points at real data: speed
does not depend on the values.
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

from backend.confidence import track_confidence
from backend.models.inference import regress_track
from backend.models.loading import load_models


def best_time(fn, device: torch.device, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            from backend.synthetic import write_model_data

            data_dir = write_model_data(Path(tmp) / "base_data", seed=0)
        models = load_models(data_dir, args.device, backbone=False)
        print(f"model data: {'SYNTHETIC' if models.synthetic else 'real'}; device {models.device}; "
              f"{args.frames} frames; torch threads {torch.get_num_threads()}")
        feats = np.random.default_rng(0).uniform(0, 1, (args.frames, 2048)).astype(np.float32)
        models.tcmr.branch_heads = False
        base = best_time(lambda: regress_track(models, feats), models.device, args.repeats)
        models.tcmr.branch_heads = True
        out = regress_track(models, feats)
        with_heads = best_time(lambda: regress_track(models, feats), models.device, args.repeats)
        maths = best_time(lambda: track_confidence(out["branch_rotmat"]), models.device, args.repeats)
    print(f"temporal stage, official output only : {base * 1e3:9.1f} ms")
    print(f"temporal stage, + three branch heads : {with_heads * 1e3:9.1f} ms "
          f"({(with_heads / base - 1) * 100:+.1f} %)")
    print(f"confidence maths (numpy)             : {maths * 1e3:9.1f} ms "
          f"({maths / base * 100:.1f} % of the stage)")


if __name__ == "__main__":
    main()
