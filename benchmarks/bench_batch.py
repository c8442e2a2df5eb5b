"""Batch scaling: clips per minute with 1 and 2 workers, and the model load time saved.

    python benchmarks/bench_batch.py [CLIPS [FRAMES [MODEL_DATA_DIR]]] [--ray]   (default 6 clips, 12 frames)

Generates CLIPS small clips (the pipeline tests' walking figure, with --bbox, --ground off) and
runs `python -m backend batch` on them with --workers 1 and --workers 2 (fresh --out each), timing
the whole command; with --ray also with `--ray local` (the whole command again: Ray's start-up and
shutdown included, as a user sees it). Without MODEL_DATA_DIR it writes synthetic model data
(random weights: the figures are about speed, never about quality). Then it times one model load
and prints what loading once per worker saves against one `run` per clip: load x (clips - workers).
On a machine with fewer than 4 free cores the 2-worker figure shows contention, not scaling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.pipeline.clips import BBOX, write_mp4  # noqa: E402


def _batch(clips: Path, out: Path, data_dir: Path, workers: int, extra: tuple = ()) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "backend", "batch", str(clips), "--out", str(out),
           "--data-dir", str(data_dir), "--workers", str(workers), "--bbox", ",".join(map(str, BBOX)),
           "--ground", "off", "--jsonl", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"batch failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, json.loads((out / "batch.json").read_text())["totals"]


def _load_seconds(data_dir: Path) -> float:
    from backend.batch.work import load_models
    from backend.pipeline import RunConfig

    load_models(RunConfig(input=".", out=".", data_dir=str(data_dir), device="cpu"))  # warm the file cache
    _, seconds = load_models(RunConfig(input=".", out=".", data_dir=str(data_dir), device="cpu"))
    return seconds


def _rates(clips: Path, tmp: Path, data_dir: Path, n_clips: int, label: str, extra: tuple = ()) -> None:
    rates = {}
    for workers in (1, 2):
        wall, totals = _batch(clips, tmp / f"out_{label}_{workers}", data_dir, workers, extra)
        rates[workers] = n_clips / wall * 60
        print(f"{label:5s} workers={workers}: {wall:7.1f} s  {rates[workers]:6.2f} clips/min  "
              f"{totals['frames'] / wall:6.2f} frames/s  (done {totals['done']}, failed {totals['failed']})")
    print(f"{label:5s} speed-up 2 vs 1 workers: {rates[2] / rates[1]:.2f}x")


def main() -> None:
    use_ray = "--ray" in sys.argv
    argv = [a for a in sys.argv if a != "--ray"]
    n_clips = int(argv[1]) if len(argv) > 1 else 6
    frames = int(argv[2]) if len(argv) > 2 else 12
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if len(argv) > 3:
            data_dir = Path(argv[3])
        else:
            from backend.synthetic import write_model_data

            data_dir = write_model_data(tmp / "base_data", seed=0)
            print("model data: synthetic (random weights)")
        clips = tmp / "clips"
        clips.mkdir()
        for i in range(n_clips):
            write_mp4(clips / f"clip_{i:03d}.mp4", frames)
        load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{n_clips} clips x {frames} frames, {os.cpu_count()} CPU cores, load average {load_avg:.1f}")
        _rates(clips, tmp, data_dir, n_clips, "local")
        if use_ray:
            _rates(clips, tmp, data_dir, n_clips, "ray", ("--ray", "local"))
        load = _load_seconds(data_dir)
        for workers in (1, 2):
            saved = load * (n_clips - workers)
            print(f"model load {load:.2f} s: loading once per worker ({workers}) instead of per clip saves "
                  f"{saved:.1f} s over {n_clips} clips")


if __name__ == "__main__":
    main()
