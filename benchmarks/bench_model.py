"""Throughput of the model core: ResNet-50 backbone vs temporal model + regressor (+ SMPL).

Not a test: prints frames/s for each configuration and the temporal part's cost per frame as
a fraction of the backbone's, both measured in the same run on the same machine.

    python benchmarks/bench_model.py [--data-dir D] [--frames 64] [--crops 8] [--repeats 3]

Weights are SYNTHETIC (random, official layout; backend.synthetic) unless --data-dir points at
real data: speed does not depend on the values, and the output says which was used.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from backend.models.inference import extract_features, regress_track
from backend.models.loading import load_models


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, repeats: int) -> float:
    """Best wall time of `repeats` runs after one warm-up run, seconds."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def bf16_cpu_supported() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.functional.conv2d(torch.ones(1, 3, 8, 8), torch.ones(4, 3, 3, 3))
        return True
    except (RuntimeError, TypeError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="model data folder (default: write a synthetic one)")
    parser.add_argument("--frames", type=int, default=64, help="track length for the temporal part")
    parser.add_argument("--crops", type=int, default=8, help="backbone batch size on CPU (x8 on CUDA)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        from backend.synthetic import write_model_data

        tmp = tempfile.TemporaryDirectory()
        data_dir = write_model_data(Path(tmp.name) / "base_data")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, "
          f"CUDA: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'not available'}")

    features = np.random.default_rng(0).uniform(0, 1, (args.frames, 2048)).astype(np.float32)
    rows = []
    for device in devices:
        models = load_models(data_dir, device, backbone=True)
        if models.synthetic:
            print(f"[{device}] weights: SYNTHETIC (random, official layout) - speed only, output meaningless")
        crops_n = args.crops * (8 if device.type == "cuda" else 1)
        crops = torch.randn(crops_n, 3, 224, 224)
        configs = [("fp32", False), ("fp32", True)]
        if device.type == "cpu" and bf16_cpu_supported():
            configs.append(("bf16", False))
        if device.type == "cuda":
            configs += [("bf16", True), ("fp16", True)]

        def setup_backbone(channels_last, m=models):
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            return lambda: m.backbone.to(memory_format=fmt)

        def run_backbone(precision, channels_last, m=models, c=crops):
            cfg = replace(m.config, backbone_precision=precision, channels_last=channels_last)
            return lambda: extract_features(replace(m, config=cfg), c)

        temporal = "temporal+regressor+SMPL fp32"
        parts = {temporal: (lambda: None, lambda m=models: regress_track(m, features, batch_size=64),
                            args.frames)}
        for precision, channels_last in configs:
            name = f"backbone {precision}" + (" channels_last" if channels_last else "")
            parts[name] = (setup_backbone(channels_last), run_backbone(precision, channels_last), crops_n)
        # Interleave the parts round by round and keep each one's best time, so a burst of load
        # from other processes does not bias one configuration.
        best = {name: float("inf") for name in parts}
        for _round in range(args.repeats):
            for name, (setup, run, _n) in parts.items():
                setup()
                best[name] = min(best[name], timed(run, device, 1))
        temporal_fps = args.frames / best[temporal]
        for name, (_setup, _run, n) in parts.items():
            fps = n / best[name]
            ratio = None if name.startswith("temporal") else fps / temporal_fps
            rows.append((str(device), name, fps, ratio))
        del models
    print(f"\n{'device':<7} {'part':<34} {'frames/s':>10} {'temporal cost / backbone cost':>30}")
    for device, name, fps, ratio in rows:
        ratio_s = f"{ratio:.3f}" if ratio is not None else "-"
        print(f"{device:<7} {name:<34} {fps:>10.1f} {ratio_s:>30}")
    print(f"\n(temporal: {args.frames}-frame track, official windows, batch 64; backbone: batches of "
          f"{args.crops} crops on CPU, {args.crops * 8} on CUDA;\n best of {args.repeats} rounds, "
          "each timed after a warm-up)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
