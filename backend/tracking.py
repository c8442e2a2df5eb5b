"""Multi-person tracking: per-frame person boxes -> tracks with stable ids.

SORT (Bewley et al. 2016), as the official multi-person tracker uses it: a constant-velocity
Kalman filter per person on [cx, cy, area, aspect], Hungarian assignment of detections to the
filters' predictions on IoU, new tracks from unmatched detections. Unlike the official
`max_age=1`, a track survives `max_age` detector calls without a match, so short misses
(a serve with the arms up, a passer-by) keep one id (`Track.interpolated` marks the missed
frames). A person lost for a while is also found again near where it was last seen, and that
re-find is guarded so two people who cross do not swap: the box size must be consistent
(`max_size_ratio`), the distance plausible for the time lost, and, when frames are given, the
colour histogram similar (backend.flow_bridge.appearance). With frames, missed frames are
bridged by optical flow of the box content (backend.flow_bridge.FlowBridge), bent to meet the
re-found box; without (or where flow fails), by straight lines between the boxes on both sides.

    tracker = Tracker(TrackerConfig())
    for frame_index, frame in frames:
        tracker.update(frame_index, detector(frame), frame=frame)   # frame optional
    tracks = tracker.finish()          # list[Track], ids 1..K by first appearance

Only boxes are kept (a few floats per frame and person), never frames.

Box convention of a Track (as the official multi-person tracker): square boxes
[cx, cy, w, h] in pixels with w == h == max(width, height) of the person box, i.e. BEFORE the
x1.2 crop margin that the crop step applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from backend.detection import iou_matrix
from backend.flow_bridge import FlowBridge, appearance, appearance_distance


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
    # Identity guard: a detection whose square side differs from the track's recent side (median
    # of its last 5 detections) by more than this factor is another person or a bad box.
    max_size_ratio: float = 1.5
    # A re-find near the last-seen box (after a miss): the centre may have moved at most
    # refind_reach + refind_growth x (frames missed) box sides, and the colour histograms may
    # differ by at most max_appearance_distance (Bhattacharyya, frames given only).
    refind_reach: float = 0.5
    refind_growth: float = 0.05
    max_appearance_distance: float = 0.65
    appearance_weight: float = 0.3  # how much appearance difference counts against a match
    use_image: bool = True  # with frames: appearance guard and optical-flow bridging
    # Frames between detector calls (--detect-every): the miss counts above are in calls
    # (strided_config rescales them); optical flow is computed across this many frames.
    detect_every: int = 1


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
    anchor: np.ndarray | None = None  # last seen box, carried by optical flow while missed
    sides: list[float] = field(default_factory=list)  # square sides of the last 5 detections, pixels
    hist: np.ndarray | None = None  # running colour histogram of the person
    flow: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> flow-carried corner box
    flow_ok: bool = True  # the flow chain since the last match is unbroken


class Tracker:
    """Online SORT tracker; call `update` for every frame the detector ran on, then `finish`."""

    def __init__(self, config: TrackerConfig = TrackerConfig()) -> None:
        self.config = config
        self.active: list[_Tracklet] = []
        self.ended: list[_Tracklet] = []
        self.first_frame = -1
        self.last_frame = -1
        self.bridge = FlowBridge(max_step=config.detect_every)

    @property
    def uses_frames(self) -> bool:
        return self.config.use_image

    def update(self, frame_index: int, dets: np.ndarray, frame: np.ndarray | None = None) -> None:
        """dets (N,5) [x1,y1,x2,y2,score] of frame `frame_index` (increasing between calls);
        frame (H,W,3) uint8 BGR, optional: enables the appearance guard and flow bridging."""
        if frame_index <= self.last_frame:
            raise ValueError("frames must be given in increasing order")
        self.last_frame = frame_index
        dets = np.asarray(dets, dtype=np.float64).reshape(-1, 5)
        if self.first_frame < 0:
            self.first_frame = frame_index
        frame = frame if self.config.use_image else None
        if frame is not None:
            self.bridge.next_frame(frame_index, frame)
        hists = [appearance(frame, d) for d in dets] if frame is not None else [None] * len(dets)
        score, allowed = self._match_scores(dets, hists)
        matched_det, matched_trk = set(), set()
        if score.size:
            rows, cols = linear_sum_assignment(-score)
            for r, c in zip(rows, cols):
                if allowed[r, c]:
                    matched_det.add(r)
                    matched_trk.add(c)
                    self._observe(self.active[c], frame_index, dets[r, :4], hists[r], dets, frame)
        survivors = []
        for k, tracklet in enumerate(self.active):
            if k not in matched_trk:
                tracklet.misses += 1
                self._carry(tracklet, frame_index, frame)
            (survivors if tracklet.misses <= self.config.max_age else self.ended).append(tracklet)
        for r in range(len(dets)):
            if r not in matched_det:
                tracklet = _Tracklet(_KalmanBox(dets[r, :4]))
                self._observe(tracklet, frame_index, dets[r, :4], hists[r], dets, frame)
                survivors.append(tracklet)
        self.active = survivors

    def _match_scores(self, dets: np.ndarray, hists: list) -> tuple[np.ndarray, np.ndarray]:
        """(N,K) assignment scores and allowed pairs of detections x active tracklets."""
        cfg = self.config
        predicted = np.array([t.kalman.predict() for t in self.active]).reshape(-1, 4)
        if not len(dets) or not self.active:
            return np.zeros((len(dets), len(self.active))), np.zeros((len(dets), len(self.active)), bool)
        anchors = np.array([t.anchor for t in self.active]).reshape(-1, 4)
        misses = np.array([t.misses for t in self.active], dtype=np.float64)
        sides = np.array([np.median(t.sides) for t in self.active])
        det_sides = np.maximum(dets[:, 2] - dets[:, 0], dets[:, 3] - dets[:, 1])
        ratio = det_sides[:, None] / np.maximum(sides[None, :], 1e-9)
        size_ok = (ratio <= cfg.max_size_ratio) & (ratio >= 1.0 / cfg.max_size_ratio)
        # A person the detector lost for a while is found again near where it was last seen
        # (carried by the flow while lost), even when the constant-velocity prediction has
        # drifted away; compared as square boxes (what gets cropped), which tolerates the pose
        # changing the box shape, and only where the move is plausible for the time lost.
        centre_d = np.linalg.norm(((dets[:, None, :2] + dets[:, None, 2:4])
                                   - (anchors[None, :, :2] + anchors[None, :, 2:4])) / 2, axis=2)
        reach = (cfg.refind_reach + cfg.refind_growth * misses)[None, :] * sides[None, :]
        app = np.array([[appearance_distance(h, t.hist) for t in self.active] for h in hists])
        app_ok = app <= cfg.max_appearance_distance
        refind = iou_matrix(_squared(dets), _squared(anchors)) * ((centre_d <= reach) & app_ok)
        iou = np.maximum(iou_matrix(dets, predicted), refind)
        allowed = (iou >= cfg.iou_threshold) & size_ok
        return np.where(allowed, iou - cfg.appearance_weight * app, -1.0), allowed

    def _observe(self, tracklet: _Tracklet, frame_index: int, box: np.ndarray, hist, dets: np.ndarray,
                 frame: np.ndarray | None) -> None:
        # The reported box is the filtered estimate after the update, as the official tracker
        # reports the Kalman state: it steadies the crops against detector jitter.
        if tracklet.misses and tracklet.flow_ok and tracklet.flow and frame is not None:
            carried = self.bridge.propagate(tracklet.anchor)  # where the flow put it on re-find
            if carried is not None:
                tracklet.flow[frame_index] = carried
        if tracklet.hits:
            tracklet.kalman.update(box)
        tracklet.hits += 1
        tracklet.misses = 0
        tracklet.frames.append(frame_index)
        tracklet.boxes.append(tracklet.kalman.box())
        tracklet.anchor = tracklet.boxes[-1]
        tracklet.sides = [*tracklet.sides[-4:], float(max(box[2] - box[0], box[3] - box[1]))]
        tracklet.flow_ok = True
        alone = np.count_nonzero(iou_matrix(box[None], dets[:, :4])[0] > 0.1) <= 1  # itself only
        if hist is not None and alone:  # learn the look only from boxes clear of other people
            tracklet.hist = hist if tracklet.hist is None else (0.9 * tracklet.hist + 0.1 * hist)

    def _carry(self, tracklet: _Tracklet, frame_index: int, frame: np.ndarray | None) -> None:
        """A missed frame: move the anchor with the image, or note that the flow chain broke."""
        if frame is None or not tracklet.flow_ok:
            tracklet.flow_ok = False
            return
        carried = self.bridge.propagate(tracklet.anchor)
        if carried is None:
            tracklet.flow_ok = False
            return
        tracklet.anchor = carried
        tracklet.flow[frame_index] = carried

    def finish(self) -> list[Track]:
        """Real tracks (>= min_hits and >= min_track_length detected frames), gaps filled."""
        tracks = []
        min_length = min(self.config.min_track_length, self.last_frame - self.first_frame + 1)
        for tracklet in sorted(self.ended + self.active, key=lambda t: t.frames[0]):
            if tracklet.hits < max(self.config.min_hits, min_length):
                continue
            frames, boxes, interpolated = _fill_gaps(np.array(tracklet.frames), np.array(tracklet.boxes),
                                                     tracklet.flow)
            squares = np.array([square_box(*b) for b in boxes])
            tracks.append(Track(len(tracks) + 1, frames, squares, interpolated))
        self.active, self.ended = [], []
        return tracks


def _fill_gaps(frames: np.ndarray, boxes: np.ndarray, flow: dict[int, np.ndarray] | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed frames (n,) and corner boxes (n,4) -> every frame from first to last. A gap whose
    every frame (and the re-find frame) has a flow-carried box follows the flow, bent linearly so
    it meets the re-found box; other gaps are straight lines between the boxes on both sides."""
    full = np.arange(frames[0], frames[-1] + 1, dtype=np.int64)
    filled = np.stack([np.interp(full, frames, boxes[:, k]) for k in range(4)], axis=1)
    flow = flow or {}
    for k in np.nonzero(np.diff(frames) > 1)[0]:
        a, b = int(frames[k]), int(frames[k + 1])
        gap = range(a + 1, b + 1)
        if all(f in flow for f in gap):
            path = {f: flow[f] for f in gap}
        elif b in flow:  # detector on every K-th frame: flow at its calls only, lines between them
            path = _flow_path(a, b, boxes[k], flow)
        else:
            continue
        error = boxes[k + 1] - path[b]  # where the flow ended vs where the person was found
        for f in range(a + 1, b):
            filled[f - full[0]] = path[f] + error * (f - a) / (b - a)
    return full, filled, ~np.isin(full, frames)


def _flow_path(a: int, b: int, start: np.ndarray, flow: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Frames a+1..b -> corner box (4,): the flow-carried boxes of the gap's detector calls (the
    tracker records one at each call while the person is missed, and at the re-find b), joined
    by straight lines from the last seen box `start` at a. Used when the detector skipped frames."""
    knots = [a] + [f for f in range(a + 1, b + 1) if f in flow]
    values = np.stack([start] + [flow[f] for f in knots[1:]])  # (n,4)
    gap = np.arange(a + 1, b + 1)
    path = np.stack([np.interp(gap, knots, values[:, c]) for c in range(4)], axis=1)
    return {int(f): box for f, box in zip(gap, path)}


def missed_frames(track: Track, detect_every: int = 1) -> np.ndarray:
    """(n,) bool: the track's frames where the detector ran and missed the person, i.e. its
    interpolated frames inside a gap longer than `detect_every` between two detected frames.
    With the detector on every K-th frame, the frames it skipped by design (gaps of at most K)
    are interpolated but not missed; with K = 1 this is `track.interpolated`."""
    interpolated = np.asarray(track.interpolated, dtype=bool)
    seen = np.flatnonzero(~interpolated)
    if detect_every <= 1 or not len(seen):
        return interpolated.copy()
    frames = np.asarray(track.frames)
    rows = np.arange(len(frames))
    before = seen[np.clip(np.searchsorted(seen, rows, side="right") - 1, 0, len(seen) - 1)]
    after = seen[np.clip(np.searchsorted(seen, rows, side="left"), 0, len(seen) - 1)]
    return interpolated & (frames[after] - frames[before] > detect_every)


def strided_config(config: TrackerConfig, detect_every: int) -> TrackerConfig:
    """The tracker's settings for a detector that runs on every `detect_every`-th frame only: the
    counts that are in detector calls (max_age, the re-find reach's growth per call) rescaled so
    they mean the same time as with every frame. detect_every = 1 returns the same values."""
    if detect_every <= 1:
        return config
    return replace(config, max_age=max(1, math.ceil(config.max_age / detect_every)),
                   refind_growth=config.refind_growth * detect_every, detect_every=detect_every)


def feed(tracker, frame_index: int, dets: np.ndarray, frame: np.ndarray) -> None:
    """tracker.update with the frame for trackers that use it (`uses_frames`), without otherwise."""
    if getattr(tracker, "uses_frames", False):
        tracker.update(frame_index, dets, frame=frame)
    else:
        tracker.update(frame_index, dets)


def select_main(tracks: list[Track], mode: str = "longest") -> list[Track]:
    """Keep only the main person: the longest track, or the one with the largest median box."""
    if not tracks:
        return []
    if mode == "longest":
        return [max(tracks, key=lambda t: (len(t), float(np.median(t.boxes[:, 2]))))]
    if mode == "largest":
        return [max(tracks, key=lambda t: (float(np.median(t.boxes[:, 2])), len(t)))]
    raise ValueError(f"unknown main-person mode '{mode}' (longest or largest)")
