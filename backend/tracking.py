"""Multi-person tracking: per-frame person boxes -> tracks with stable ids.

SORT (Bewley et al. 2016), as the official multi-person tracker uses it: a constant-velocity
Kalman filter per person on [cx, cy, area, aspect], Hungarian assignment of detections to the
filters' predictions on IoU, new tracks from unmatched detections. Unlike the official
`max_age=1`, a track survives `max_age` detector calls without a match, so short misses
(a serve with the arms up, a passer-by) keep one id; the missed frames are filled afterwards by
linear interpolation between the boxes on both sides (`Track.interpolated`).

    tracker = Tracker(TrackerConfig())
    for frame_index, frame in frames:
        tracker.update(frame_index, detector(frame))
    tracks = tracker.finish()          # list[Track], ids 1..K by first appearance

Only boxes are kept (a few floats per frame and person), never frames.

Box convention of a Track (as the official multi-person tracker): square boxes
[cx, cy, w, h] in pixels with w == h == max(width, height) of the person box, i.e. BEFORE the
x1.2 crop margin that the crop step applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from backend.detection import iou_matrix


@dataclass(frozen=True)
class Track:
    """One person. frames (n,) int64 strictly increasing source frame indices;
    boxes (n,4) float64 [cx, cy, w, h] square boxes, pixels; interpolated (n,) bool marks
    frames filled by gap interpolation rather than seen by the detector; raw_boxes (n,4) or None:
    the tracker's boxes before backend.box_smoothing replaced `boxes`."""

    id: int
    frames: np.ndarray
    boxes: np.ndarray
    interpolated: np.ndarray
    raw_boxes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def observed(self) -> int:
        """Frames the detector actually saw this person in (not gap-filled)."""
        return int(np.count_nonzero(~np.asarray(self.interpolated, dtype=bool)))


def square_box(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    """Corner box -> square [cx, cy, s, s] with s = max(width, height), same centre."""
    side = max(x2 - x1, y2 - y1)
    return np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0, side, side], dtype=np.float64)


def fixed_track(frames: np.ndarray, bbox_xywh: tuple[float, float, float, float], track_id: int = 1) -> Track:
    """`--bbox X,Y,W,H` (top-left and size, pixels): one person in that box in every frame."""
    x, y, w, h = bbox_xywh
    box = square_box(x, y, x + w, y + h)
    frames = np.asarray(frames, dtype=np.int64)
    return Track(track_id, frames, np.tile(box, (len(frames), 1)), np.zeros(len(frames), dtype=bool))


@dataclass(frozen=True)
class TrackerConfig:
    iou_threshold: float = 0.3  # a detection joins a track only above this IoU (official: 0.3)
    max_age: int = 30  # detector calls a track may go unmatched before it ends (official: 1)
    min_hits: int = 3  # matched detections a track needs to be real (official: 3)
    # Detected (observed) frames; tracks seen in fewer are dropped (official demo: 25). Gap-filled
    # frames do not count, so three detections 14 frames apart never make a 29-frame person.
    # Capped at the number of frames the tracker saw, so a person present throughout a clip
    # shorter than this is still kept.
    min_track_length: int = 25


class _KalmanBox:
    """Constant-velocity Kalman filter on z = [cx, cy, area, aspect] (SORT's parameters)."""

    def __init__(self, box: np.ndarray) -> None:
        self.F = np.eye(7)
        self.F[0, 4] = self.F[1, 5] = self.F[2, 6] = 1.0
        self.H = np.eye(4, 7)
        self.R = np.diag([1.0, 1.0, 10.0, 10.0])
        self.Q = np.diag([1.0, 1.0, 1.0, 1.0, 0.01, 0.01, 0.0001])
        self.P = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])
        self.x = np.zeros(7)
        self.x[:4] = _to_z(box)

    def predict(self) -> np.ndarray:
        if self.x[2] + self.x[6] <= 0:  # keep the area positive
            self.x[6] = 0.0
        self.x = self.F @ self.x
        self.P = self.F @ self.P @ self.F.T + self.Q
        return _from_z(self.x[:4])

    def update(self, box: np.ndarray) -> None:
        y = _to_z(box) - self.H @ self.x
        S = self.H @ self.P @ self.H.T + self.R
        K = self.P @ self.H.T @ np.linalg.inv(S)
        self.x = self.x + K @ y
        self.P = (np.eye(7) - K @ self.H) @ self.P

    def box(self) -> np.ndarray:
        return _from_z(self.x[:4])


def _squared(boxes: np.ndarray) -> np.ndarray:
    """Corner boxes (N,>=4) -> square corner boxes (N,4) of side max(w,h), same centres."""
    centre = (boxes[:, :2] + boxes[:, 2:4]) / 2
    half = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None] / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def _to_z(box: np.ndarray) -> np.ndarray:
    """Corner box [x1,y1,x2,y2] -> [cx, cy, area, aspect w/h]."""
    w, h = box[2] - box[0], box[3] - box[1]
    return np.array([box[0] + w / 2, box[1] + h / 2, w * h, w / max(h, 1e-9)])


def _from_z(z: np.ndarray) -> np.ndarray:
    w = np.sqrt(max(z[2] * z[3], 1e-9))
    h = z[2] / w
    return np.array([z[0] - w / 2, z[1] - h / 2, z[0] + w / 2, z[1] + h / 2])


@dataclass
class _Tracklet:
    kalman: _KalmanBox
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)  # filtered corner boxes when matched
    hits: int = 0
    misses: int = 0


class Tracker:
    """Online SORT tracker; call `update` for every frame the detector ran on, then `finish`."""

    def __init__(self, config: TrackerConfig = TrackerConfig()) -> None:
        self.config = config
        self.active: list[_Tracklet] = []
        self.ended: list[_Tracklet] = []
        self.first_frame = -1
        self.last_frame = -1

    def update(self, frame_index: int, dets: np.ndarray) -> None:
        """dets (N,5) [x1,y1,x2,y2,score] of frame `frame_index` (increasing between calls)."""
        if frame_index <= self.last_frame:
            raise ValueError("frames must be given in increasing order")
        self.last_frame = frame_index
        dets = np.asarray(dets, dtype=np.float64).reshape(-1, 5)
        if self.first_frame < 0:
            self.first_frame = frame_index
        predicted = np.array([t.kalman.predict() for t in self.active]).reshape(-1, 4)
        last_seen = np.array([t.boxes[-1] for t in self.active]).reshape(-1, 4)
        # A person the detector lost for a while is found again near where it was last seen,
        # even when the constant-velocity prediction has drifted away during the miss; compared
        # as square boxes (what gets cropped), which tolerates the pose changing the box shape.
        iou = np.maximum(iou_matrix(dets, predicted), iou_matrix(_squared(dets), _squared(last_seen)))
        matched_det, matched_trk = set(), set()
        if iou.size:
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.config.iou_threshold:
                    matched_det.add(r)
                    matched_trk.add(c)
                    self._observe(self.active[c], frame_index, dets[r, :4])
        survivors = []
        for k, tracklet in enumerate(self.active):
            if k not in matched_trk:
                tracklet.misses += 1
            (survivors if tracklet.misses <= self.config.max_age else self.ended).append(tracklet)
        for r in range(len(dets)):
            if r not in matched_det:
                tracklet = _Tracklet(_KalmanBox(dets[r, :4]))
                self._observe(tracklet, frame_index, dets[r, :4])
                survivors.append(tracklet)
        self.active = survivors

    @staticmethod
    def _observe(tracklet: _Tracklet, frame_index: int, box: np.ndarray) -> None:
        # The reported box is the filtered estimate after the update, as the official tracker
        # reports the Kalman state: it steadies the crops against detector jitter.
        if tracklet.hits:
            tracklet.kalman.update(box)
        tracklet.hits += 1
        tracklet.misses = 0
        tracklet.frames.append(frame_index)
        tracklet.boxes.append(tracklet.kalman.box())

    def finish(self) -> list[Track]:
        """Real tracks (>= min_hits and >= min_track_length detected frames), gaps filled."""
        tracks = []
        min_length = min(self.config.min_track_length, self.last_frame - self.first_frame + 1)
        for tracklet in sorted(self.ended + self.active, key=lambda t: t.frames[0]):
            if tracklet.hits < max(self.config.min_hits, min_length):
                continue
            frames, boxes, interpolated = _fill_gaps(np.array(tracklet.frames), np.array(tracklet.boxes))
            squares = np.array([square_box(*b) for b in boxes])
            tracks.append(Track(len(tracks) + 1, frames, squares, interpolated))
        self.active, self.ended = [], []
        return tracks


def _fill_gaps(frames: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed frames (n,) and corner boxes (n,4) -> every frame from first to last, linearly
    interpolated where the detector missed (or was not run)."""
    full = np.arange(frames[0], frames[-1] + 1, dtype=np.int64)
    filled = np.stack([np.interp(full, frames, boxes[:, k]) for k in range(4)], axis=1)
    return full, filled, ~np.isin(full, frames)


def select_main(tracks: list[Track], mode: str = "longest") -> list[Track]:
    """Keep only the main person: the longest track, or the one with the largest median box."""
    if not tracks:
        return []
    if mode == "longest":
        return [max(tracks, key=lambda t: (len(t), float(np.median(t.boxes[:, 2]))))]
    if mode == "largest":
        return [max(tracks, key=lambda t: (float(np.median(t.boxes[:, 2])), len(t)))]
    raise ValueError(f"unknown main-person mode '{mode}' (longest or largest)")
