"""Image cues for the tracker (OpenCV + numpy): box appearance, and optical flow across misses.

* `appearance(frame, box)`: a hue-saturation histogram of the box's inner part (where the
  person's clothes are), compared with `appearance_distance` (Bhattacharyya: 0 same, 1 disjoint).
  Cheap, and enough to tell two people apart who cross or swap places while undetected.
* `FlowBridge`: while the detector misses a person, the box is carried from frame to frame by
  the median sparse optical flow (pyramidal Lucas-Kanade) of corner points inside it, with the
  spread of the points giving the change in size. It follows the image rather than a straight
  line; `backend.tracking` still marks those frames `interpolated` (not detected) and bends the
  flow path so it meets the box where the person is found again.

Works on a grey copy of each frame scaled so the longer side is at most `max_side` pixels; only
the current and previous grey frames are kept. Boxes are corner boxes [x1, y1, x2, y2] in frame
pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

HIST_BINS = (16, 8)  # hue, saturation
INNER = 0.6  # the central fraction of the box (width and height) the histogram looks at


def appearance(frame_bgr: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """(16*8,) float32 normalised hue-saturation histogram of the box's centre, or None if empty."""
    height, width = frame_bgr.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) * INNER / 2, (box[3] - box[1]) * INNER / 2
    x1, x2 = int(max(0, cx - hw)), int(min(width, cx + hw))
    y1, y2 = int(max(0, cy - hh)), int(min(height, cy + hh))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    patch = frame_bgr[y1:y2, x1:x2]
    step = max(1, int(max(patch.shape[:2]) // 64))  # ~64 px is plenty for a colour histogram
    hsv = cv2.cvtColor(np.ascontiguousarray(patch[::step, ::step]), cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, list(HIST_BINS), [0, 180, 0, 256]).reshape(-1)
    total = float(hist.sum())
    return (hist / total).astype(np.float32) if total > 0 else None


def appearance_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Bhattacharyya distance of two histograms in [0, 1]; 0 when either is unknown."""
    if a is None or b is None:
        return 0.0
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


class FlowBridge:
    """Grey frames of the last two detector calls and box propagation between them."""

    def __init__(self, max_side: int = 480, max_points: int = 80, min_points: int = 8,
                 max_step: int = 1) -> None:
        """max_step: the largest frame step flow is computed across (1: consecutive frames only;
        the tracker sets it to --detect-every when the detector skips frames)."""
        self.max_side = max_side
        self.max_step = max_step
        self.max_points = max_points
        self.min_points = min_points
        self.scale = 1.0
        self.previous: np.ndarray | None = None
        self.current: np.ndarray | None = None
        self.index = -1

    def next_frame(self, frame_index: int, frame_bgr: np.ndarray) -> None:
        """Take frame `frame_index`; flow is available only from a frame at most max_step before."""
        self.scale = min(1.0, self.max_side / max(frame_bgr.shape[:2]))
        grey = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)  # grey first: a third of the pixels to scale
        if self.scale != 1.0:
            grey = cv2.resize(grey, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        consecutive = 0 < frame_index - self.index <= self.max_step
        self.previous = self.current if consecutive else None
        self.current = grey
        self.index = frame_index

    def propagate(self, box: np.ndarray) -> np.ndarray | None:
        """A corner box in the previous frame -> where its content is in the current frame, or None
        when there is no previous frame or too few points could be followed."""
        if self.previous is None or self.current is None:
            return None
        b = np.asarray(box, dtype=np.float64)[:4] * self.scale
        h, w = self.previous.shape
        centre, half = (b[:2] + b[2:4]) / 2, (b[2:4] - b[:2]) / 2
        inner = half * INNER  # points from the middle of the box: more person, less background
        x1, y1 = int(max(0, centre[0] - inner[0])), int(max(0, centre[1] - inner[1]))
        x2, y2 = int(min(w, centre[0] + inner[0])), int(min(h, centre[1] + inner[1]))
        if x2 - x1 < 8 or y2 - y1 < 8:
            return None
        points = cv2.goodFeaturesToTrack(self.previous[y1:y2, x1:x2], self.max_points, 0.01, 3)
        if points is None or len(points) < self.min_points:
            return None
        points = (points + np.array([x1, y1], dtype=np.float32)).astype(np.float32)
        moved, status, _ = cv2.calcOpticalFlowPyrLK(self.previous, self.current, points, None,
                                                    winSize=(15, 15), maxLevel=2)
        ok = status.reshape(-1) == 1
        if ok.sum() < self.min_points:
            return None
        p0, p1 = points.reshape(-1, 2)[ok], moved.reshape(-1, 2)[ok]
        shift = np.median(p1 - p0, axis=0)
        spread0 = np.median(np.linalg.norm(p0 - p0.mean(axis=0), axis=1))
        spread1 = np.median(np.linalg.norm(p1 - p1.mean(axis=0), axis=1))
        grow = float(np.clip(spread1 / spread0, 0.98, 1.02)) if spread0 > 1e-6 else 1.0
        centre = centre + shift
        half = half * grow
        return np.concatenate([centre - half, centre + half]) / self.scale
