"""Backbone engines side by side, the temporal stage, and `run` end to end per engine.

Not a test: prints, in one invocation, crops/s of every engine and precision (ratios to the
torch fp32 batch-32 path as it ran before malloc tuning, measured in the same run), how close
each is to torch fp32 (relative max difference; INT8 as cosine and, as the INT8 gate measures it,
the pose difference in degrees through the loaded temporal model), the temporal stage in frames/s,
and `python -m backend run` end to end on CLIP (frames/s, ratio to backbone-only, peak RSS;
today's default = torch fp32 with glibc's malloc, whole-frame detection on every frame, no
read-ahead).

    python benchmarks/bench_engines.py CLIP [--data-dir D] [--batch 32] [--crops 64] [--repeats 2]
        [--e2e-frames 60] [--e2e-repeats 2] [--bbox X,Y,W,H] [--threads N] [--temporal-frames 312]
        [--no-int8] [--no-e2e]

The crops are CLIP's own (a centred box, or --bbox, on frames spread over the clip): the INT8
calibration and its held-out check need real pixels. Model data are SYNTHETIC (random weights)
unless --data-dir points at real data; speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def clip_crops(clip: str, n: int, bbox: tuple[float, ...] | None) -> np.ndarray:
    """n crops (n,3,224,224) from frames spread evenly over the clip."""
    import cv2

    from backend.crops import crop_batch

    cap = cv2.VideoCapture(clip)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or n
    wanted = set(np.linspace(0, total - 1, n).astype(int).tolist())
    crops, index = [], 0
    while len(crops) < n:
        ok, frame = cap.read()
        if not ok:
            break
        if index in wanted:
            h, w = frame.shape[:2]
            box = (np.array([bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2, max(bbox[2:]), max(bbox[2:])])
                   if bbox else np.array([w / 2, h / 2, min(w, h) * 0.8, min(w, h) * 0.8]))
            crops.append(crop_batch(frame, box[None])[0])
        index += 1
    cap.release()
    while len(crops) < n:  # a short clip: repeat
        crops.append(crops[len(crops) % max(1, len(crops))])
    return np.stack(crops).astype(np.float32)


def throughput(fn, crops: np.ndarray, batch: int) -> tuple[float, float, int]:
    """All crops in batches (after the caller's warm-up) -> (wall s, CPU s of this process, minor
    page faults). CPU seconds and faults hardly depend on other processes' load; wall time does."""
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for i in range(0, len(crops), batch):
        fn(crops[i:i + batch])
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, cpu, r1.ru_minflt - r0.ru_minflt


def _best(a, b):
    return b if a is None else (min(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]))


def untuned_child(args) -> tuple[float, float, int]:
    """torch fp32 at the run's batch in a child with glibc's malloc defaults -> best (wall, cpu, faults)."""
    cmd = [sys.executable, __file__, args.clip, "--child-untuned", "--batch", str(args.batch),
           "--crops", str(args.crops), "--repeats", str(args.repeats)]
    if args.data_dir:
        cmd += ["--data-dir", str(args.data_dir)]
    env = dict(os.environ, TCMR_NO_MALLOC_TUNING="1", PYTHONPATH=str(ROOT))
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(out.strip().splitlines()[-1])["best"])


def engines(models, args, crops):
    """name -> (callable, batch); INT8 quantized on the first 2/3 of the crops."""
    from backend.engines.cpu_features import detect
    from backend.engines.onnx_engine import OnnxFeatureEngine, open_onnx_engine
    from backend.engines.quantize import QuantSettings, choose_settings, quantize_model
    from backend.engines.torch_engine import TorchFeatureEngine

    out = {"torch fp32": (TorchFeatureEngine(models), args.batch),
           "torch fp32 batch 8": (TorchFeatureEngine(models), 8),
           "torch fp32 channels_last": (TorchFeatureEngine(models, "fp32", True), args.batch)}
    cpu = detect()
    if cpu.bf16:
        out["torch bf16 channels_last"] = (TorchFeatureEngine(models, "bf16", True), args.batch)
    ort = open_onnx_engine(models, print, folder=Path(args.tmp) / "onnx")
    out["onnxruntime fp32"] = (ort, args.batch)
    if not args.no_int8:
        calib = crops[: 2 * len(crops) // 3]
        for label, settings in (("QDQ U8S8 (chosen)", choose_settings(cpu)),
                                ("QOperator U8S8", QuantSettings("QOperator", reduce_range=not cpu.vnni)),
                                ("QDQ S8S8", QuantSettings("QDQ", "int8", "int8"))):
            t0 = time.perf_counter()
            path = quantize_model(ort.path, calib, Path(args.tmp) / f"int8_{len(out)}.onnx", settings)
            print(f"INT8 {label}: quantized in {time.perf_counter() - t0:.1f} s")
            out[f"onnxruntime int8 {label}"] = (OnnxFeatureEngine(path, "int8"), args.batch)
    return out


def int8_accuracy(got: np.ndarray, ref: np.ndarray, pose_of) -> str:
    """The INT8 gate's two figures: feature cosine and the pose difference (degrees, the held-out
    crops as one pseudo-track through the temporal model, backend.engines.quantize.pose_degrees)."""
    from backend.engines.quantize import cosines, pose_degrees

    deg = pose_degrees(pose_of(ref), pose_of(got))
    return (f"cosine min {cosines(got, ref).min():.5f}; pose worst joint mean {deg.mean():.3f} deg, "
            f"max {deg.max():.3f} deg")


def bench_backbones(models, args, crops) -> dict[str, float]:
    from backend.engines.factory import pose_function
    from backend.engines.onnx_engine import relative_error, torch_reference

    table = engines(models, args, crops)
    held = crops[2 * len(crops) // 3:]
    ref = torch_reference(models, held)
    best: dict = {name: None for name in table}
    for fn, batch in table.values():
        fn(crops[:batch])  # warm-up
    for _ in range(args.repeats):  # interleaved rounds: a burst of load hits every engine alike
        for name, (fn, batch) in table.items():
            best[name] = _best(best[name], throughput(fn, crops, batch))
    n = len(crops)
    untuned = untuned_child(args)
    print(f"\n{'backbone engine':<42} {'crops/s':>8} {'x torch':>8} {'crops/CPU-s':>12} {'x torch':>8} "
          f"{'faults/crop':>12}  accuracy vs torch fp32")
    ref_wall, ref_cpu, _ = best["torch fp32"]
    rows = [(f"torch fp32 batch {args.batch}, glibc malloc defaults", untuned, "reference path")]
    pose_of = pose_function(models)
    for name, (fn, _batch) in table.items():
        got = fn(held)
        acc = (int8_accuracy(got, ref, pose_of) if "int8" in name
               else f"relative max diff {relative_error(got, ref):.1e}")
        rows.append((name, best[name], acc))
    for name, (wall, cpu, faults), acc in rows:
        print(f"{name:<42} {n / wall:>8.2f} {ref_wall / wall:>8.2f} {n / cpu:>12.2f} {ref_cpu / cpu:>8.2f} "
              f"{faults / n:>12.0f}  {acc}")
    if any("int8" in name for name in table):
        from backend.engines.quantize import POSE_BOUND_DEG, pose_degrees

        poses = pose_of(ref)
        spread = pose_degrees(poses[1:], poses[:-1]).mean()
        print(f"INT8 pose: {len(held)} held-out crops as one pseudo-track through the temporal model, worst "
              f"joint's rotation vs fp32 (gate bound {POSE_BOUND_DEG} deg, mean). Scale of these weights: "
              f"fp32 poses of successive held-out crops differ by {spread:.3f} deg")
    fastest = min(b[0] for b in best.values())
    peak = sgemm_gflops()
    print(f"the machine's limit: the fastest engine does {TRUNK_GFLOP * n / fastest:.0f} GFLOP/s "
          f"(ResNet-50 trunk {TRUNK_GFLOP} GFLOP per crop); a large float32 matrix product (numpy's BLAS, "
          f"{torch_threads()} threads) {peak:.0f} GFLOP/s")
    return {name: n / b[0] for name, b in best.items()}


TRUNK_GFLOP = 8.2  # ResNet-50 up to the pooled 2048 features at 224x224: ~4.1 G multiply-adds


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def sgemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of a (size x size) float32 matrix product: what this CPU sustains in the kind of
    work a convolution network is made of (numpy's BLAS uses every core)."""
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_temporal(models, frames: int, repeats: int = 2) -> float:
    """The temporal stage on one track per engine (torch, and ONNX Runtime where it applies):
    frames/s (best of `repeats`), ratio to torch, largest difference of the poses."""
    from backend.engines import EngineConfig
    from backend.engines.onnx_engine import import_onnxruntime
    from backend.engines.temporal_choice import with_temporal_engine
    from backend.models.inference import regress_track

    feats = np.random.default_rng(0).uniform(0, 1, (frames, 2048)).astype(np.float32)
    variants = [("torch", models)]
    if import_onnxruntime() is not None and getattr(models, "model_name", "tcmr") == "tcmr":
        variants.append(("onnxruntime", with_temporal_engine(models, EngineConfig("onnxruntime"))))
    print(f"\ntemporal stage (TCMR + regressor + SMPL, {frames}-frame track), best of {repeats}")
    fps, poses = {}, {}
    for name, variant in variants:
        regress_track(variant, feats[:32])
        best = min(_timed(lambda v=variant, k=name: poses.__setitem__(k, regress_track(v, feats)["pose"]))
                   for _ in range(repeats))
        fps[name] = frames / best
        diff = float(np.abs(poses[name] - poses["torch"]).max())
        print(f"  {name:<12} {fps[name]:>7.1f} frames/s  x{fps[name] / fps['torch']:.2f} torch  "
              f"max |pose - torch pose| {diff:.1e} rad")
    return max(fps.values())


STAGES = ("pass1", "features", "backbone_in_features", "regress")  # wall s printed per e2e row


def _e2e_once(args, data_dir: Path, n: int, extra: list[str], prefetch: int, env: dict) -> dict:
    """One child run -> its figures: fps (wall, load excluded), cpu_fps (from pass 1 on), the share
    of its backbone calls, the stages' wall seconds, peak MiB, engine, warnings."""
    from bench_detection import run_child

    argv = [args.clip, "--out", str(Path(args.tmp) / f"out_{n}"), "--data-dir", str(data_dir),
            "--end", str(args.e2e_frames), "--batch-size", str(args.batch), *extra]
    argv += ["--bbox", ",".join(map(str, args.bbox))] if args.bbox else []
    run = run_child(argv, prefetch, env)
    res = run["result"]
    t = res["timings_s"]
    e2e = sum(v for k, v in t.items() if k not in ("load", "backbone_in_features"))
    return {"fps": res["frames"] / e2e, "fps_load": res["frames"] / (e2e + t["load"]),
            "cpu_fps": res["frames"] / run["cpu_s"],
            "per_backbone": e2e / t["backbone_in_features"], "peak": run["peak_mib"],
            "stages": "/".join(f"{t[k]:.1f}" for k in STAGES),
            "engine": res.get("engine", "?"), "warnings": ",".join(run["warnings"]) or "-"}


def bench_e2e(args, data_dir: Path) -> None:
    """`python -m backend run` on CLIP per engine, in children (bench_detection.run_child): today's
    default (torch, glibc malloc, whole-frame detection on every frame, no read-ahead), then the
    defaults. --e2e-repeats rounds, interleaved; each row is its fastest round (this machine's
    speed drifts between runs: the best of interleaved rounds compares like with like). "with load"
    adds the model loading and engine preparation (exports already cached) to the time."""
    from bench_detection import TODAY

    runs = [("today's default: torch, glibc, every frame", TODAY, 0, {"TCMR_NO_MALLOC_TUNING": "1"}),
            ("torch fp32 (malloc tuned), defaults", ["--engine", "torch"], 8, {}),
            ("auto fp32 (onnxruntime): the default", ["--engine", "auto"], 8, {})]
    if not args.no_int8:
        runs.append(("auto int8 (gated), defaults", ["--engine", "auto", "--precision", "int8"], 8, {}))
    best: dict[str, dict] = {}
    for _ in range(args.e2e_repeats):
        for n, (label, extra, prefetch, env) in enumerate(runs):
            got = _e2e_once(args, data_dir, n, extra, prefetch, env)
            if label not in best or got["fps"] > best[label]["fps"]:
                best[label] = got
    print(f"\n{'end to end (load excluded), best of ' + str(args.e2e_repeats):<44} {'frames/s':>9} "
          f"{'x today':>8} {'/backbone-only':>15} {'peak MiB':>9} {'frames/CPU-s':>12} {'x today':>8} "
          f"{'with load':>9} {'x today':>8}  pass1/features/backbone/regress s")
    base = best[runs[0][0]]
    for label, *_ in runs:
        r = best[label]
        print(f"{label:<44} {r['fps']:>9.2f} {r['fps'] / base['fps']:>8.2f} {r['per_backbone']:>15.2f} "
              f"{r['peak']:>9.0f} {r['cpu_fps']:>12.2f} {r['cpu_fps'] / base['cpu_fps']:>8.2f} "
              f"{r['fps_load']:>9.2f} {r['fps_load'] / base['fps_load']:>8.2f}  "
              f"{r['stages']}  [{r['engine']}; warnings {r['warnings']}]")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--crops", type=int, default=64, help="crops per timing round (and calibration pool)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--e2e-frames", type=int, default=60, help="frames of the clip for the end-to-end runs")
    p.add_argument("--e2e-repeats", type=int, default=2, help="interleaved rounds of the end-to-end runs")
    p.add_argument("--bbox", default=None, help="X,Y,W,H person box (default: detection in e2e, centre crop)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--temporal-frames", type=int, default=312, help="track length for the temporal stage")
    p.add_argument("--no-int8", action="store_true")
    p.add_argument("--no-e2e", action="store_true")
    p.add_argument("--child-untuned", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.bbox = tuple(float(v) for v in args.bbox.split(",")) if args.bbox else None
    from backend.engines.malloc_tuning import tune_malloc

    tuned = tune_malloc()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from bench_pipeline import _data_dir

    from backend.engines.cpu_features import detect
    from backend.models.loading import load_models

    with tempfile.TemporaryDirectory() as tmp:
        args.tmp = tmp
        data_dir = Path(args.data_dir) if args.data_dir else _data_dir(Path(tmp))
        if not args.child_untuned and not args.no_e2e:  # first, while this process is small: a
            bench_e2e(args, data_dir)  # child's peak RSS (wait4) includes what it forked from
        models = load_models(data_dir, "cpu")
        crops = clip_crops(args.clip, args.crops, args.bbox)
        if args.child_untuned:
            from backend.engines.torch_engine import TorchFeatureEngine

            fn = TorchFeatureEngine(models)
            fn(crops[:args.batch])
            best = None
            for _ in range(args.repeats):
                best = _best(best, throughput(fn, crops, args.batch))
            print(json.dumps({"best": best}))
            return
        cpu = detect()
        load = os.getloadavg()
        now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(f"{now}  CPU {cpu.model} ({os.cpu_count()} cores, "
              f"torch capability {cpu.torch_capability}, bf16 {'yes' if cpu.bf16 else 'no'}, "
              f"VNNI {'yes' if cpu.vnni else 'no'}), load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {tuned[1]}")
        print(f"weights: {'SYNTHETIC (random) - speed only' if models.synthetic else data_dir}")
        if not cpu.bf16:
            print(f"bf16 not measured: {cpu.bf16_reason()}")
        bench_backbones(models, args, crops)
        bench_temporal(models, args.temporal_frames)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process (every engine loaded): {peak:.0f} MiB")
        print(f"\nload average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
