"""Detection + tracking over a video, before and after this project's tracking changes (not a test).

    python benchmarks/track_report.py VIDEO [--onnx model.onnx] [--end N] [--min-track-length 25]

Runs, on the same clip and in the same run:

  before   the earlier behaviour: HOG scaled so the longer side is 400 px, SORT with re-finds on
           the last-seen box but no identity guard, gaps bridged by straight lines, the length
           filter counting gap-filled frames, crop boxes = the tracker's boxes
           (what `run --no-box-smoothing` still does for the crop boxes);
  tracker  today's detector and tracker (scale by the smallest person, identity guard,
           optical-flow bridging, filter on detected frames), boxes not smoothed
           (`run --no-box-smoothing`);
  after    the same plus the crop-box smoothing (`run`'s default).

For each it prints the kept tracks, the main (longest) track's coverage of the clip as one track,
and the frame-to-frame change of the boxes that feed the crops: side |ds|/s, centre jump in box
sides, and the translation this box puts into the camera-frame position (backend.camera,
equation (2)), computed with a constant crop camera (s=1, tx=ty=0) and the default focal length:
the part of the translation's jitter that comes from the box alone (the network's own crop
camera, which needs the licensed weights, adds its own). Timings are per frame on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.box_smoothing import smooth_boxes
from backend.camera import crop_cam_to_transl, default_focal
from backend.detection import DetectorConfig, make_detector
from backend.tracking import Track, Tracker, TrackerConfig, feed

NO_GUARD = TrackerConfig(min_track_length=1, use_image=False, max_size_ratio=1e9, refind_reach=1e9,
                         max_appearance_distance=1e9, appearance_weight=0.0)


@dataclass
class Variant:
    name: str
    tracker_config: TrackerConfig
    observed_filter: bool  # the length filter counts detected frames (else all frames of a track)
    smoothing: bool
    tracker: Tracker = field(init=False)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self.tracker = Tracker(self.tracker_config)


def detect_and_track(video: str, detector_config: DetectorConfig, variants: list[Variant], end: int | None):
    """One decode pass: detect every frame, feed every variant's tracker. -> (frames, detector s)."""
    detector = make_detector(detector_config)
    capture = cv2.VideoCapture(video)
    frames, seconds = 0, 0.0
    while end is None or frames < end:
        ok, frame = capture.read()
        if not ok:
            break
        t0 = time.perf_counter()
        dets = detector(frame)
        seconds += time.perf_counter() - t0
        for v in variants:
            t0 = time.perf_counter()
            feed(v.tracker, frames, dets, frame)
            v.seconds += time.perf_counter() - t0
        frames += 1
    capture.release()
    return frames, seconds


def changes(boxes: np.ndarray, width: int, height: int) -> dict[str, np.ndarray]:
    """Frame-to-frame changes of crop boxes (F,4) [cx,cy,w,h]: side (relative), centre (box
    sides) and the box-induced translation (mm, constant crop camera)."""
    side = boxes[:, 2]
    transl = crop_cam_to_transl(np.tile([1.0, 0.0, 0.0], (len(boxes), 1)), boxes, width, height,
                                default_focal(width, height))
    return {"side": np.abs(np.diff(side)) / side[:-1],
            "centre": np.linalg.norm(np.diff(boxes[:, :2], axis=0), axis=1) / side[:-1],
            "transl_mm": 1000 * np.linalg.norm(np.diff(transl, axis=0), axis=1),
            "depth_mm": 1000 * np.abs(np.diff(transl[:, 2]))}


def report(v: Variant, frames: int, fps: float, width: int, height: int, min_length: int) -> dict:
    tracks: list[Track] = v.tracker.finish()
    limit = min(min_length, frames)
    kept = [t for t in tracks if (t.observed if v.observed_filter else len(t)) >= limit]
    print(f"\n[{v.name}] tracker {1000 * v.seconds / frames:.1f} ms/frame; {len(tracks)} tracks, "
          f"{len(kept)} kept (>= {limit} {'detected' if v.observed_filter else ''} frames)")
    for t in kept:
        print(f"  track {t.id}: {len(t)} frames [{t.frames[0]}..{t.frames[-1]}], {t.observed} detected "
              f"({len(t) - t.observed} bridged), median side {np.median(t.boxes[:, 2]):.0f} px")
    if not kept:
        return {}
    main = max(kept, key=len)
    boxes = smooth_boxes(main.boxes, ~main.interpolated, fps) if v.smoothing else main.boxes
    c = changes(boxes, width, height)
    print(f"  main track {main.id}: {100 * len(main) / frames:.1f} % of the frames as one track "
          f"({100 * main.observed / frames:.1f} % detected)")
    for key, unit, scale in (("side", "%", 100), ("centre", "% of side", 100), ("transl_mm", "mm", 1),
                             ("depth_mm", "mm", 1)):
        q = np.percentile(c[key], [50, 90]) * scale
        print(f"    {key:9s} change per frame: median {q[0]:.2f}, p90 {q[1]:.2f}, max "
              f"{c[key].max() * scale:.2f} {unit}")
    return {"coverage": len(main) / frames, **{k: np.percentile(x, 90) for k, x in c.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--onnx", default=None, help="a YOLO ONNX person detector for the 'after' runs")
    parser.add_argument("--end", type=int, default=None, help="only the first N frames")
    parser.add_argument("--min-track-length", type=int, default=25)
    args = parser.parse_args()
    capture = cv2.VideoCapture(args.video)
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 30.0)
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    capture.release()
    before = Variant("before", NO_GUARD, observed_filter=False, smoothing=False)
    today = TrackerConfig(min_track_length=1)
    tracker_only = Variant("tracker", today, observed_filter=True, smoothing=False)
    after = Variant("after", today, observed_filter=True, smoothing=True)
    frames, det_before = detect_and_track(args.video, DetectorConfig(min_person_height=None, max_side=400),
                                          [before], args.end)
    if frames == 0:
        sys.exit(f"no frames decoded from {args.video}")
    _, det_after = detect_and_track(args.video, DetectorConfig(onnx_path=args.onnx), [tracker_only, after],
                                    args.end)
    print(f"{Path(args.video).name}: {frames} frames, {width}x{height} at {fps:.2f} fps; detector "
          f"{1000 * det_before / frames:.1f} ms/frame before, {1000 * det_after / frames:.1f} after "
          f"({cv2.getNumThreads()} OpenCV threads)")
    results = [report(v, frames, fps, width, height, args.min_track_length)
               for v in (before, tracker_only, after)]
    print("\nsummary (main track; p90 of the frame-to-frame change of the crop boxes):")
    print(f"  {'':8s} {'coverage':>9s} {'side %':>8s} {'centre %':>9s} {'transl mm':>10s} {'depth mm':>9s}")
    for v, r in zip((before, tracker_only, after), results):
        if r:
            print(f"  {v.name:8s} {100 * r['coverage']:8.1f}% {100 * r['side']:8.2f} "
                  f"{100 * r['centre']:9.2f} {r['transl_mm']:10.1f} {r['depth_mm']:9.1f}")


if __name__ == "__main__":
    main()
