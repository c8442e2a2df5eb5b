"""Benchmark `python -m backend run` end to end: per-stage time, frames/s, the cost of everything
that is not the backbone, and peak memory for a short and a 10x longer input.

    TCMR_TEST_DATA_CACHE=/tmp/base_data python benchmarks/bench_pipeline.py [CLIP] \
        [--frames 30] [--long-factor 10] [--bbox X,Y,W,H | --detect] [--batch-size 32] [--device cpu]

CLIP is any video you have; without it a clip is generated (a drawn figure, long enough for the
long run). Each run is a child process (`python -m backend run`),
so its peak memory is that child's ru_maxrss (os.wait4). Baseline measured in the same
invocation: the backbone alone (load excluded) on as many crops as the run has person-frames,
same batch size and device. Goal on CPU: end-to-end (load excluded) / backbone-only < 1.5,
i.e. decoding, cropping, tracking, TCMR and writing together cost less than half the backbone;
and the long run's peak memory about the short run's.
The model data are SYNTHETIC (random weights): timings are real, outputs meaningless.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _data_dir(tmp: Path) -> Path:
    cache = os.environ.get("TCMR_TEST_DATA_CACHE")
    if cache and (Path(cache) / "tcmr_demo_model.pth.tar").exists():
        return Path(cache)
    from backend.synthetic import write_model_data

    return write_model_data(tmp / "base_data", seed=0)


def _generated_clip(path: Path, frames: int) -> Path:
    import cv2

    sys.path.insert(0, str(ROOT / "tests" / "pipeline"))
    from clips import HEIGHT, WIDTH, figure_frame

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (WIDTH, HEIGHT))
    for i in range(frames):
        writer.write(figure_frame(i))
    writer.release()
    return path


def _run_child(args: list[str]) -> dict:
    """One `run` in a child process -> result event, stage wall times, peak RSS (MiB)."""
    cmd = [sys.executable, "-m", "backend", "run", *args, "--jsonl"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    stage_start: dict[str, float] = {}
    events = []
    finished = 0.0
    for line in proc.stdout:
        event = json.loads(line)
        events.append(event)
        if event["event"] == "stage":
            stage_start[event["stage"]] = time.perf_counter() - start
        elif event["event"] in ("result", "error"):
            finished = time.perf_counter() - start  # the last stage ends here, not at process exit
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if events[-1]["event"] != "result":
        raise SystemExit(f"run failed: {events[-1]}")
    names = list(stage_start)
    stages = {n: (stage_start[names[i + 1]] if i + 1 < len(names) else finished) - stage_start[n]
              for i, n in enumerate(names)}
    return {"result": events[-1], "stages": stages, "wall": wall, "peak_mib": usage.ru_maxrss / 1024.0}


def _backbone_only(data_dir: Path, device: str, crops: int, batch: int) -> float:
    """Seconds for the backbone alone on `crops` crops (random pixels, same batch size)."""
    import torch

    from backend.models.inference import extract_features
    from backend.models.loading import load_models

    models = load_models(data_dir, device)
    pixels = np.random.default_rng(0).normal(size=(min(batch, crops), 3, 224, 224))
    x = torch.from_numpy(pixels.astype(np.float32))
    extract_features(models, x[:1])  # warm-up
    start = time.perf_counter()
    done = 0
    while done < crops:
        n = min(batch, crops - done)
        extract_features(models, x[:n])
        done += n
    if models.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _report(label: str, run: dict, backbone_s: float) -> None:
    res = run["result"]
    frames = res["frames"]
    person_frames = res["person_frames"]
    timings = res["timings_s"]
    e2e = sum(v for k, v in timings.items() if k not in ("load", "backbone_in_features"))
    print(f"\n== {label}: {frames} frames, {res['tracks']} track(s) = {person_frames} person-frames, "
          f"peak RSS {run['peak_mib']:.0f} MiB, "
          f"child wall {run['wall']:.1f} s")
    for stage, seconds in run["stages"].items():
        rate = f"{frames / seconds:8.1f} frames/s" if stage != "load" and seconds > 0 else ""
        print(f"   {stage:>9}: {seconds:7.2f} s {rate}")
    print(f"   pipeline timings (in-process): {res['timings_s']}")
    print(f"   end-to-end without load: {e2e:.2f} s = {frames / e2e:.1f} frames/s")
    print(f"   backbone only, same {person_frames} crops: {backbone_s:.2f} s")
    ratio = e2e / backbone_s
    print(f"   ratio end-to-end / backbone-only = {ratio:.2f} (goal < 1.5: the rest costs "
          f"{(ratio - 1) * 100:.0f}% of the backbone)")
    inside = timings["backbone_in_features"]
    print(f"   same run, time inside the backbone calls {inside:.2f} s: end-to-end / that = "
          f"{e2e / inside:.2f} (robust to other load on the machine: both measured together)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", default=None)
    parser.add_argument("--frames", type=int, default=30, help="frames of the short run")
    parser.add_argument("--long-factor", type=int, default=10, help="the long run has this many times more")
    parser.add_argument("--bbox", default=None,
                        help="fixed box X,Y,W,H (skips detection); default: a centred box, unless --detect")
    parser.add_argument("--detect", action="store_true", help="use detection + tracking (no --bbox)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-long", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data_dir = _data_dir(tmp)
        long_frames = args.frames * args.long_factor
        if args.clip:
            clip = Path(args.clip)
        else:
            clip = _generated_clip(tmp / "generated.mp4", long_frames)
        bbox = args.bbox
        if bbox is None and not args.detect:
            from backend.video import FrameSource

            info = FrameSource(clip).info
            side = min(info.width, info.height) * 0.8
            bbox = f"{(info.width - side) / 2:.0f},{(info.height - side) / 2:.0f},{side:.0f},{side:.0f}"
        print(f"clip: {clip}")
        print(f"model data: SYNTHETIC weights from {data_dir} (timings are real, the output is meaningless)")
        print(f"device {args.device}, batch size {args.batch_size}, "
              + (f"fixed --bbox {bbox}" if bbox else "detection + tracking"))
        runs = []
        for label, frames in [("short", args.frames)] + ([] if args.skip_long else [("long", long_frames)]):
            out = tmp / f"out_{label}"
            cli = [str(clip), "--out", str(out), "--end", str(frames), "--data-dir", str(data_dir),
                   "--device", args.device, "--batch-size", str(args.batch_size), "--min-track-length", "1"]
            cli += ["--bbox", bbox] if bbox else []
            run = _run_child(cli)
            crops = run["result"]["person_frames"]
            backbone_s = _backbone_only(data_dir, args.device, crops, args.batch_size)
            _report(label, run, backbone_s)
            runs.append(run)
        if len(runs) == 2:
            ratio = runs[1]["peak_mib"] / runs[0]["peak_mib"]
            factor = runs[1]["result"]["frames"] / runs[0]["result"]["frames"]
            print(f"\npeak memory long/short: {runs[1]['peak_mib']:.0f} / {runs[0]['peak_mib']:.0f} MiB = "
                  f"{ratio:.2f} for {factor:.0f}x the frames (goal: flat, ~1)")


if __name__ == "__main__":
    main()
