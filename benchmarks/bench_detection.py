"""Cheaper detection and decoding, measured for their effect on the tracks and on the run's speed.

Not a test. Two parts, both on the first --frames frames of CLIP:

1. Pass 1 alone (decoded once, timed): detection + tracking exactly as `run` does it
   (backend.pipeline._pass1) for each HOG input cap (--sides) and --detect-every stride
   (--strides), whole-frame HOG on every call; then at --detect-every 2 with the whole-frame
   search only every N-th call and the people's regions between (--full-every). Prints the
   detector's time per frame of the clip and, against the first variant (every frame, whole
   frame), what the tracks lose: tracks, frames covered, the longest track's mean IoU with the
   reference's on common frames and its mean centre offset in pixels (the crops follow these
   boxes).
2. With --e2e: `python -m backend run` end to end in child processes, for today's default
   (torch fp32, glibc malloc, every frame, whole frame, no read-ahead) and the ONNX Runtime
   engine with --detect-every 1 / 2, with and without decoding ahead (backend.prefetch), and
   the defaults (regions between whole-frame searches): frames/s (wall and per CPU-second), the
   ratio to today's, CPU time per frame in pass 1, pass 2 and regress, and the written tracks'
   boxes against the --detect-every 1 run of the same engine.

    python benchmarks/bench_detection.py CLIP [--frames 120] [--sides 400,256] [--strides 1,2,3]
        [--full-every 4,8] [--repeats 2] [--e2e] [--e2e-only]
        [--e2e-variants today,k1,k1ra,k2,k2ra,k2raf] [--data-dir D]

Model data for --e2e are SYNTHETIC (random weights) unless --data-dir points at real data: the
timings and boxes are real, the poses meaningless.
"""

from __future__ import annotations

import argparse
import io
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
sys.path.insert(0, str(ROOT / "benchmarks"))

# A child `run` with backend.pipeline.PREFETCH_FRAMES set from argv[1] (0: no read-ahead); after the
# result it prints the CPU seconds of the process from the start of pass 1 (the models loaded) on,
# and per stage (pass 1, pass 2 = features, regress): CPU time depends less on the other load on a
# shared machine than wall time (but read-ahead only shows in wall time).
_CHILD = """
import json, sys, time
import backend.pipeline as p
p.PREFETCH_FRAMES = int(sys.argv[1])
cpu = {}
def timed(name, real):
    def wrapper(*a, **k):
        t0 = time.process_time()
        cpu.setdefault("start", t0)
        try:
            return real(*a, **k)
        finally:
            cpu[name] = time.process_time() - t0
    return wrapper
for name in ("_pass1", "_pass2", "_regress_all"):
    setattr(p, name, timed(name, getattr(p, name)))
from backend.cli import main
rc = main(sys.argv[2:])
if cpu:
    cpu["total"] = time.process_time() - cpu.pop("start")
    print(json.dumps({"event": "bench_cpu", **cpu}), flush=True)
sys.exit(rc)
"""


class ListSource:
    """Already decoded frames as a FrameSource stand-in for backend.pipeline._pass1."""

    def __init__(self, clip: str, frames: list[np.ndarray]) -> None:
        from backend.video import SourceInfo

        self.list = frames
        height, width = frames[0].shape[:2]
        self.info = SourceInfo(clip, "video", 30.0, width, height, len(frames))

    def expected_frames(self, start, end):
        return len(self.list)

    def frames(self, start=0, end=None):
        yield from enumerate(self.list[start:end], start=start)


def decode(clip: str, frames: int) -> tuple[list[np.ndarray], float]:
    import cv2

    cap = cv2.VideoCapture(clip)
    out = []
    t0 = time.perf_counter()
    while len(out) < frames:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    return out, (time.perf_counter() - t0) / max(1, len(out))


def tracks_for(source: ListSource, side: int, stride: int, full_every: int = 1):
    """Pass 1 as `run` does it -> (tracks, detector s per clip frame, detector CPU s per clip frame,
    pass 1 s per clip frame). CPU time (this process, all threads) depends less on the other
    load on the machine than wall time."""
    from backend import pipeline
    from backend.detection import DetectorConfig, make_detector
    from backend.events import Reporter

    detector = make_detector(DetectorConfig(max_side=side, full_every=full_every))
    spent = [0.0, 0.0]

    def timed(frame):
        t0, c0 = time.perf_counter(), time.process_time()
        dets = detector(frame)
        spent[0] += time.perf_counter() - t0
        spent[1] += time.process_time() - c0
        return dets

    config = pipeline.RunConfig(input=source.info.path, out="-", detect_every=stride)
    t0 = time.perf_counter()
    tracks, count = pipeline._pass1(source, config, Reporter(jsonl=True, out=io.StringIO()), timed,
                                    lambda: pipeline._default_tracker(stride))
    total = time.perf_counter() - t0
    return tracks, spent[0] / count, spent[1] / count, total / count


def _best(a, b):
    """Of two tracks_for results of one variant (the tracks are the same), the lower times."""
    return b if a is None else (a[0], *(min(x, y) for x, y in zip(a[1:], b[1:])))


def _corners(square: np.ndarray) -> np.ndarray:
    """Track boxes (N,4) [cx,cy,w,h] -> corners (N,4)."""
    c, s = square[:, :2], square[:, 2:] / 2
    return np.concatenate([c - s, c + s], axis=1)


def compare_boxes(frames_a, boxes_a, frames_b, boxes_b) -> tuple[float, float, int]:
    """Boxes [cx,cy,w,h] of two tracks on their common frames: mean IoU, mean centre offset (px), n."""
    from backend.detection import iou_matrix

    common, ia, ib = np.intersect1d(frames_a, frames_b, return_indices=True)
    if not len(common):
        return 0.0, float("nan"), 0
    a, b = np.asarray(boxes_a)[ia], np.asarray(boxes_b)[ib]
    iou = np.diag(iou_matrix(_corners(a), _corners(b)))
    return float(iou.mean()), float(np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean()), len(common)


def compare(tracks, reference) -> tuple[float, float, int]:
    """Longest track vs the reference's longest: mean IoU, mean centre offset (px), common frames."""
    if not tracks or not reference:
        return float("nan"), float("nan"), 0
    a, b = max(tracks, key=len), max(reference, key=len)
    return compare_boxes(a.frames, a.boxes, b.frames, b.boxes)


def bench_pass1(args) -> None:
    frames, decode_s = decode(args.clip, args.frames)
    source = ListSource(args.clip, frames)
    print(f"{len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]}; "
          f"decode {decode_s * 1e3:.1f} ms/frame")
    variants = [(int(s), 1, 1) for s in args.sides.split(",")]
    variants += [(variants[0][0], int(k), 1) for k in args.strides.split(",") if int(k) > 1]
    variants += [(variants[0][0], 2, int(f)) for f in args.full_every.split(",") if int(f) > 1]
    results = dict.fromkeys(variants)
    for _ in range(args.repeats):  # interleaved, the best of each: the load moves between variants
        for v in variants:
            results[v] = _best(results[v], tracks_for(source, *v))
    reference, base_s, base_cpu, _ = results[variants[0]]
    print(f"\nper frame of the clip, best of {args.repeats}; tracks before the length filter")
    print(f"{'HOG cap':>7} {'every':>5} {'full':>4} {'det ms':>7} {'x faster':>8} {'det CPU ms':>10} "
          f"{'x':>5} {'pass1 ms':>8} {'tracks':>6} {'frames':>6} {'IoU vs first':>12} {'centre px':>9}")
    for (side, stride, full), (tracks, spent, cpu, total) in results.items():
        iou, offset, _n = compare(tracks, reference)
        covered = sum(len(t) for t in tracks)
        print(f"{side:>7} {stride:>5} {full:>4} {spent * 1e3:>7.1f} {base_s / spent:>8.2f} "
              f"{cpu * 1e3:>10.1f} {base_cpu / cpu:>5.2f} {total * 1e3:>8.1f} {len(tracks):>6} {covered:>6} "
              f"{iou:>12.3f} {offset:>9.1f}")


def run_child(argv: list[str], prefetch: int, env: dict) -> dict:
    """`python -m backend run ARGV` (with PREFETCH_FRAMES = prefetch) -> result event, CPU s from pass 1
    on (total and per stage), peak RSS (MiB) and the warning codes."""
    cmd = [sys.executable, "-c", _CHILD, str(prefetch), "run", *argv, "--jsonl"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), **env),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    events = [json.loads(line) for line in proc.stdout]
    _, _status, usage = os.wait4(proc.pid, 0)
    results = [e for e in events if e["event"] == "result"]
    if not results:
        raise SystemExit(f"run failed: {events[-1] if events else 'no output'}")
    cpu = next((e for e in events if e["event"] == "bench_cpu"), {})
    return {"result": results[0], "cpu": cpu, "cpu_s": cpu.get("total", float("nan")),
            "peak_mib": usage.ru_maxrss / 1024.0,
            "warnings": [e["code"] for e in events if e["event"] == "warning"]}


def longest_track(out_dir: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """The result's longest track: frames (T,), boxes (T,4) [cx,cy,w,h] (the cropped ones), tracks."""
    meta = json.loads((out_dir / "result.json").read_text())
    best = max(meta["tracks"], key=lambda t: t["num_frames"])
    with np.load(out_dir / best["file"], allow_pickle=False) as arrays:
        xywh = arrays["bbox_xywh"].astype(np.float64)
        frames = arrays["frame_index"]
    return frames, np.concatenate([xywh[:, :2] + xywh[:, 2:] / 2, xywh[:, 2:]], axis=1), len(meta["tracks"])


WHOLE = ["--hog-full-every", "1"]  # HOG on the whole frame at every call
K1 = ["--detect-every", "1"]
TODAY = ["--engine", "torch", *K1, *WHOLE]  # the run before the CPU work
E2E_VARIANTS = {  # key: (label, run arguments, read-ahead frames, environment)
    "today": ("today: torch, glibc, every frame", TODAY, 0, {"TCMR_NO_MALLOC_TUNING": "1"}),
    "k1": ("onnxruntime, every frame", ["--engine", "auto", *WHOLE, *K1], 0, {}),
    "k1ra": ("onnxruntime, every frame, read-ahead", ["--engine", "auto", *WHOLE, *K1], 8, {}),
    "k2": ("onnxruntime, every 2nd, no read-ahead", ["--engine", "auto", *WHOLE, "--detect-every", "2"], 0,
           {}),
    "k2ra": ("onnxruntime, every 2nd, read-ahead", ["--engine", "auto", *WHOLE], 8, {}),
    "k2raf": ("onnxruntime, every 2nd, read-ahead, regions (default)", ["--engine", "auto"], 8, {}),
}


def bench_e2e(args, data_dir: Path, tmp: Path) -> None:
    keys = args.e2e_variants.split(",")
    print(f"\nend to end, {args.frames} frames, load excluded; boxes of the longest written track vs the "
          f"first onnxruntime every-frame run")
    print("frames/s: wall from pass 1 to the end; per CPU-s: CPU time of the run's process over the same "
          "span; CPU ms per frame of the clip in pass 1, pass 2 (features) and regress")
    print(f"{'variant':<46} {'frames/s':>8} {'x today':>7} {'per CPU-s':>9} {'x today':>7} "
          f"{'CPU pass1':>9} {'features':>8} {'regress':>7} {'tracks':>6} {'frames':>6} {'IoU':>6} "
          f"{'centre px':>9}")
    base = base_cpu = reference = None
    for n, key in enumerate(keys):
        label, extra, prefetch, env = E2E_VARIANTS[key]
        out = tmp / f"e2e_{n}"
        argv = [args.clip, "--out", str(out), "--data-dir", str(data_dir), "--end", str(args.frames), *extra]
        run = run_child(argv, prefetch, env)
        res = run["result"]
        e2e = sum(v for k, v in res["timings_s"].items() if k not in ("load", "backbone_in_features"))
        fps, cpu_fps = res["frames"] / e2e, res["frames"] / run["cpu_s"]
        base, base_cpu = base or fps, base_cpu or cpu_fps
        frames, boxes, count = longest_track(out)
        if reference is None and key.startswith("k1"):
            reference = (frames, boxes)
        iou, offset, _ = compare_boxes(frames, boxes, *reference) if reference else (float("nan"),) * 3
        per = {k: run["cpu"].get(k, float("nan")) / res["frames"] * 1e3
               for k in ("_pass1", "_pass2", "_regress_all")}
        print(f"{label:<46} {fps:>8.2f} {fps / base:>7.2f} {cpu_fps:>9.2f} {cpu_fps / base_cpu:>7.2f} "
              f"{per['_pass1']:>9.0f} {per['_pass2']:>8.0f} {per['_regress_all']:>7.0f} {count:>6} "
              f"{len(frames):>6} {iou:>6.3f} {offset:>9.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--sides", default="400,256", help="HOG input caps (longer side, px); the first is the "
                                                      "reference (the default detector input)")
    p.add_argument("--strides", default="1,2,3", help="--detect-every values with the first cap")
    p.add_argument("--full-every", default="4,8",
                   help="--hog-full-every values (whole-frame search every N-th call) at --detect-every 2")
    p.add_argument("--repeats", type=int, default=2, help="pass-1 timings: best of this many")
    p.add_argument("--e2e", action="store_true", help="also `run` end to end (a child run per variant)")
    p.add_argument("--e2e-only", action="store_true")
    p.add_argument("--e2e-variants", default="today,k1,k1ra,k2,k2ra,k2raf",
                   help=f"comma-separated, of {', '.join(E2E_VARIANTS)}; the first is the baseline")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args()
    load = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; clip {Path(args.clip).name}")
    if not args.e2e_only:
        bench_pass1(args)
    if args.e2e or args.e2e_only:
        from bench_pipeline import _data_dir

        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(args.data_dir) if args.data_dir else _data_dir(Path(tmp))
            bench_e2e(args, data_dir, Path(tmp))
    print(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
