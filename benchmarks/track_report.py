"""Detection + tracking over a video: what it finds and how fast (not a test).

    python benchmarks/track_report.py VIDEO [--max-side 400] [--onnx model.onnx]

Prints per track: id, length, first/last frame, interpolated frames, median box side, and the
detector's milliseconds per frame. VIDEO is any clip you have (the repository ships none).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.detection import DetectorConfig, make_detector
from backend.tracking import Tracker, TrackerConfig, select_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", help="a video file")
    parser.add_argument("--max-side", type=int, default=DetectorConfig.max_side)
    parser.add_argument("--onnx", default=None)
    args = parser.parse_args()
    detector = make_detector(DetectorConfig(onnx_path=args.onnx, max_side=args.max_side))
    tracker = Tracker(TrackerConfig())
    capture = cv2.VideoCapture(args.video)
    frames, seconds, boxes = 0, 0.0, 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        start = time.perf_counter()
        dets = detector(frame)
        seconds += time.perf_counter() - start
        boxes += len(dets)
        tracker.update(frames, dets)
        frames += 1
    if frames == 0:
        sys.exit(f"no frames decoded from {args.video}")
    tracks = tracker.finish()
    print(f"{args.video}: {frames} frames, detector {1000 * seconds / frames:.1f} ms/frame "
          f"({cv2.getNumThreads()} OpenCV threads), {boxes / frames:.2f} boxes/frame")
    for track in tracks:
        print(f"  track {track.id}: {len(track)} frames [{track.frames[0]}..{track.frames[-1]}], "
              f"{int(track.interpolated.sum())} interpolated, median box side "
              f"{np.median(track.boxes[:, 2]):.0f} px")
    main_track = select_main(tracks)
    print(f"  main person (longest): track {main_track[0].id}" if main_track else "  nobody tracked")


if __name__ == "__main__":
    main()
