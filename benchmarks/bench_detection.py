"""Cheaper detection, measured for its effect on the tracks: HOG input size and frame stride.

Not a test: decodes the first --frames frames of CLIP once (timed), then runs detection + SORT
tracking for each variant and prints detector time per frame and, against the default
(HOG on a 400-pixel frame, every frame), what the tracks lose: number of tracks, frames covered,
mean IoU of the longest track's boxes with the default's on common frames, and its mean centre
offset in pixels (the crops follow these boxes).

    python benchmarks/bench_detection.py CLIP [--frames 150] [--sides 400,320,256] [--strides 1,2,3]

A stride of k runs the detector on every k-th frame only; the tracker gets exactly those frames
and the frames between are filled by the tracker's interpolation (backend.tracking).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


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


def tracks_for(frames: list[np.ndarray], side: int, stride: int):
    from backend.detection import DetectorConfig, make_detector
    from backend.tracking import Tracker, TrackerConfig

    detector = make_detector(DetectorConfig(max_side=side))
    tracker = Tracker(TrackerConfig())
    spent = 0.0
    for i in range(0, len(frames), stride):
        t0 = time.perf_counter()
        dets = np.asarray(detector(frames[i]), dtype=np.float32).reshape(-1, 5)
        spent += time.perf_counter() - t0
        tracker.update(i, dets)
    return tracker.finish(), spent / len(frames)


def _corners(square: np.ndarray) -> np.ndarray:
    """Track boxes (N,4) [cx,cy,w,h] -> corners (N,4)."""
    c, s = square[:, :2], square[:, 2:] / 2
    return np.concatenate([c - s, c + s], axis=1)


def compare(tracks, reference) -> tuple[float, float, int]:
    """Longest track vs the reference's longest: mean IoU, mean centre offset (px), common frames."""
    from backend.detection import iou_matrix

    if not tracks or not reference:
        return float("nan"), float("nan"), 0
    a, b = max(tracks, key=len), max(reference, key=len)
    common, ia, ib = np.intersect1d(a.frames, b.frames, return_indices=True)
    if not len(common):
        return 0.0, float("nan"), 0
    boxes_a, boxes_b = a.boxes[ia], b.boxes[ib]
    iou = np.diag(iou_matrix(_corners(boxes_a), _corners(boxes_b)))
    offset = np.linalg.norm(boxes_a[:, :2] - boxes_b[:, :2], axis=1)
    return float(iou.mean()), float(offset.mean()), len(common)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--sides", default="400,320,256")
    p.add_argument("--strides", default="1,2,3")
    args = p.parse_args()
    frames, decode_s = decode(args.clip, args.frames)
    size = f"{frames[0].shape[1]}x{frames[0].shape[0]}"
    print(f"{len(frames)} frames of {size}; decode {decode_s * 1e3:.1f} ms/frame")
    variants = [(int(s), 1) for s in args.sides.split(",")]
    variants += [(variants[0][0], int(k)) for k in args.strides.split(",") if int(k) > 1]
    results = {v: tracks_for(frames, *v) for v in variants}
    reference, base_s = results[variants[0]]
    print(f"\n{'HOG side':>8} {'stride':>6} {'det ms/frame':>12} {'x faster':>8} {'tracks':>6} "
          f"{'frames':>7} {'IoU vs default':>14} {'centre px':>9}")
    for (side, stride), (tracks, spent) in results.items():
        iou, offset, _n = compare(tracks, reference)
        covered = sum(len(t) for t in tracks)
        print(f"{side:>8} {stride:>6} {spent * 1e3:>12.1f} {base_s / spent:>8.2f} {len(tracks):>6} "
              f"{covered:>7} {iou:>14.3f} {offset:>9.1f}")


if __name__ == "__main__":
    main()
