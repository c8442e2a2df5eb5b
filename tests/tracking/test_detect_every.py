"""`--detect-every K`: the detector on every K-th frame, the tracker's boxes between. Checked on a
drawn scene with a known moving person (tests.tracking.scenes) against the truth, and K = 1
against the every-frame path as it was before the option existed."""

from __future__ import annotations

import io

import numpy as np
import pytest

from backend.detection import iou_matrix
from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.pipeline import RunConfig, _default_tracker, _filter_tracks, _pass1
from backend.tracking import Track, Tracker, TrackerConfig, missed_frames, strided_config
from backend.video import SourceInfo
from tests.tracking.scenes import HEIGHT, WIDTH, Person, Scene

FRAMES = 60


def _walk(i: int) -> tuple[float, float]:  # right, then curving down: not a straight line
    return 90.0 + 5.0 * i, 150.0 + 30.0 * np.sin(i / 10.0)


class SceneSource:
    """A FrameSource stand-in streaming a Scene; each frame carries its index in pixel (0, 0)."""

    def __init__(self, scene: Scene, frames: int) -> None:
        self.scene, self.count = scene, frames
        self.info = SourceInfo("scene", "video", 30.0, WIDTH, HEIGHT, frames)

    def expected_frames(self, start, end):
        return (end or self.count) - start

    def frames(self, start=0, end=None):
        for i in range(start, min(end or self.count, self.count)):
            frame = self.scene.frame(i)
            frame[0, 0] = (i % 256, i // 256, 0)
            yield i, frame


def detector_for(scene: Scene):
    """The true boxes with noise fixed per frame (the same whichever frames are asked)."""
    def detect(frame):
        i = int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])
        rows = [[*(p.box(i) + np.random.default_rng(i * 10 + k).normal(0, 1.5, 4)), 0.9]
                for k, p in enumerate(scene.people) if i in p.frames and i not in p.missed]
        detect.calls.append(i)
        return np.array(rows, dtype=np.float32).reshape(-1, 5)

    detect.calls = []
    return detect


def pass1(scene: Scene, every: int, frames: int = FRAMES, tracker_factory=None):
    config = RunConfig(input="scene", out="out", detect_every=every)
    detector = detector_for(scene)
    factory = tracker_factory or (lambda: _default_tracker(every))
    tracks, count = _pass1(SceneSource(scene, frames), config, Reporter(jsonl=True, out=io.StringIO()),
                           detector, factory)
    return tracks, count, detector.calls


def square_truth(person: Person, frames: np.ndarray) -> np.ndarray:
    """The person's true box as the track's square [cx, cy, s, s] -> corner boxes (n,4)."""
    boxes = np.array([person.box(int(f)) for f in frames])
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None] / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def corners(track: Track) -> np.ndarray:
    c, h = track.boxes[:, :2], track.boxes[:, 2:] / 2
    return np.concatenate([c - h, c + h], axis=1)


def test_with_k_2_the_track_covers_every_frame_close_to_the_truth():
    scene = Scene([Person((40, 160, 60), _walk, height=150, seed=3)])
    tracks, count, calls = pass1(scene, 2)
    assert count == FRAMES
    assert calls == [*range(0, FRAMES, 2), FRAMES - 1]  # every other frame, and the last
    assert len(tracks) == 1
    track = tracks[0]
    assert np.array_equal(track.frames, np.arange(FRAMES))  # every frame, to the end of the range
    assert track.observed == len(calls)
    skipped = np.setdiff1d(np.arange(FRAMES), calls)
    assert track.interpolated[skipped].all()  # honest: the detector never saw these frames
    assert not missed_frames(track, 2).any()  # ... but nothing was missed
    iou = np.diag(iou_matrix(corners(track), square_truth(scene.people[0], track.frames)))
    assert iou.min() > 0.85 and iou[skipped].mean() > 0.93, (iou.min(), iou[skipped].mean())


def test_k_2_boxes_are_about_as_good_as_every_frame():
    scene = Scene([Person((40, 160, 60), _walk, height=150, seed=3)])
    every, _, _ = pass1(scene, 1)
    strided, _, _ = pass1(scene, 2)
    truth = square_truth(scene.people[0], np.arange(FRAMES))
    iou_1 = np.diag(iou_matrix(corners(every[0]), truth)).mean()
    iou_2 = np.diag(iou_matrix(corners(strided[0]), truth)).mean()
    assert iou_2 > iou_1 - 0.03, (iou_1, iou_2)


def test_a_real_miss_with_k_2_keeps_one_id_and_is_marked_missed():
    missed = set(range(20, 34))
    scene = Scene([Person((40, 160, 60), _walk, height=150, missed=missed, seed=3)])
    tracks, _, _ = pass1(scene, 2)
    assert len(tracks) == 1 and np.array_equal(tracks[0].frames, np.arange(FRAMES))
    flags = missed_frames(tracks[0], 2)
    assert set(np.flatnonzero(flags)) >= set(range(20, 34))  # the detector ran there and missed
    assert not flags[:19].any() and not flags[35:].any()
    iou = np.diag(iou_matrix(corners(tracks[0]), square_truth(scene.people[0], tracks[0].frames)))
    assert iou[sorted(missed)].mean() > 0.7  # bridged along the flow, not lost


def test_a_long_absence_ends_the_track_after_the_same_time_as_every_frame():
    person = Person((40, 160, 60), _walk, height=150, frames=range(0, 20), seed=3)
    config = strided_config(TrackerConfig(), 2)
    assert config.max_age == 15 and config.refind_growth == pytest.approx(0.1)  # 30 frames, as K = 1
    tracks, _, _ = pass1(Scene([person]), 2)
    assert len(tracks) == 1 and tracks[0].frames[-1] <= 19


def test_k_1_is_the_every_frame_path_bit_for_bit():
    """What _pass1 did before --detect-every: the default tracker fed every frame with its detections."""
    missed = set(range(25, 31))
    scene = Scene([Person((40, 160, 60), _walk, height=150, missed=missed, seed=3),
                   Person((200, 90, 30), lambda i: (400 - 3.0 * i, 170.0), height=130, depth=2.0, seed=4)])
    new, _, calls = pass1(scene, 1)
    assert calls == list(range(FRAMES))
    old_tracker = Tracker(TrackerConfig(min_track_length=1))
    detect, source = detector_for(scene), SceneSource(scene, FRAMES)
    for i, frame in source.frames():
        old_tracker.update(i, detect(frame), frame=frame)
    old = old_tracker.finish()
    assert len(new) == len(old) == 2
    for a, b in zip(new, old):
        assert a.id == b.id
        assert np.array_equal(a.frames, b.frames) and np.array_equal(a.interpolated, b.interpolated)
        assert np.array_equal(a.boxes, b.boxes)  # bit for bit
        assert np.array_equal(missed_frames(a, 1), a.interpolated)


def test_min_track_length_counts_frames_of_the_clip_at_any_k():
    """25 frames of presence pass --min-track-length 25 at K = 2 (13 detections), 20 do not."""
    def track(frames: int, every: int) -> Track:
        rows = np.arange(frames)
        return Track(1, rows, np.ones((frames, 4)), rows % every != 0)

    reporter = Reporter(jsonl=True, out=io.StringIO())
    config = RunConfig(input="x", out="o", detect_every=2, min_track_length=25)
    assert len(_filter_tracks([track(25, 2)], config, reporter, decoded=100)) == 1
    with pytest.raises(BackendError) as info:
        _filter_tracks([track(20, 2)], config, reporter, decoded=100)
    assert info.value.code == Code.NO_PERSON
    every = RunConfig(input="x", out="o", detect_every=1, min_track_length=25)
    with pytest.raises(BackendError):  # K = 1 as before: 13 detected frames are not 25
        _filter_tracks([track(25, 2)], every, reporter, decoded=100)


@pytest.mark.parametrize("bad", [0, -2])
def test_detect_every_below_1_is_refused_with_a_hint(bad):
    with pytest.raises(BackendError) as info:
        RunConfig(input="x", out="o", detect_every=bad)
    assert info.value.code == Code.BAD_ARGUMENT and "--detect-every" in info.value.message
    assert "1" in info.value.hint


def test_bbox_ignores_detect_every():
    scene = Scene([Person((40, 160, 60), _walk, height=150, seed=3)])
    config = RunConfig(input="scene", out="out", bbox=(10, 10, 100, 200), detect_every=3)
    tracks, count = _pass1(SceneSource(scene, 20), config, Reporter(jsonl=True, out=io.StringIO()),
                           None, None)
    assert count == 20 and len(tracks) == 1 and np.array_equal(tracks[0].frames, np.arange(20))
    assert not tracks[0].interpolated.any()


def test_with_k_2_a_miss_is_still_bridged_by_optical_flow():
    """Flow is computed across the detector's step: a 14-frame miss on an arc, K = 2, stays one
    track whose bridged boxes follow the truth far closer than a straight line (K = 1, no image)."""
    def arc(i):
        return 240 + 150 * np.cos(i / 12.0), 160 + 40 * np.sin(i / 12.0)

    missed = sorted(range(20, 34))
    scene = Scene([Person((40, 160, 60), arc, height=150, missed=set(missed), seed=3)])
    truth = np.array([(scene.people[0].box(i)[:2] + scene.people[0].box(i)[2:]) / 2 for i in missed])
    flow, _, _ = pass1(scene, 2, 50)
    line, _, _ = pass1(scene, 1, 50, lambda: Tracker(TrackerConfig(min_track_length=1, use_image=False)))
    assert len(flow) == len(line) == 1 and np.array_equal(flow[0].frames, np.arange(50))
    err_flow = np.linalg.norm(flow[0].boxes[missed, :2] - truth, axis=1).mean()
    err_line = np.linalg.norm(line[0].boxes[missed, :2] - truth, axis=1).mean()
    assert err_flow < 0.5 * err_line, (err_flow, err_line)
