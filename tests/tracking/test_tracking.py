"""SORT-style tracking on synthetic detection streams with known ground truth."""

import numpy as np
import pytest

from backend.tracking import Tracker, TrackerConfig, fixed_track, select_main


def person(cx: float, cy: float, w: float = 80.0, h: float = 200.0, score: float = 0.9) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score]


def run(stream: dict[int, list[list[float]]], config: TrackerConfig | None = None):
    tracker = Tracker(config or TrackerConfig())
    for frame in sorted(stream):
        tracker.update(frame, np.array(stream[frame], dtype=np.float32).reshape(-1, 5))
    return tracker.finish()


def test_two_people_crossing_keep_their_ids():
    rng = np.random.default_rng(0)
    stream = {}
    for f in range(60):
        a = 100 + 8 * f + rng.normal(0, 1.5)  # walks right
        b = 580 - 8 * f + rng.normal(0, 1.5)  # walks left, crossing a around frame 30
        stream[f] = [person(a, 300), person(b, 320, w=90, h=220)]
    tracks = run(stream)
    assert len(tracks) == 2
    for track in tracks:
        starts_left = track.boxes[0, 0] < 340
        ends_left = track.boxes[-1, 0] < 340
        assert starts_left != ends_left  # it crossed over instead of swapping identity
        assert len(track) == 60 and not track.interpolated.any()
        np.testing.assert_array_equal(track.frames, np.arange(60))


def test_a_short_miss_is_bridged_and_interpolated():
    stream = {f: [person(200 + 5 * f, 300)] for f in range(40)}
    for f in (20, 21, 22):
        stream[f] = []
    tracks = run(stream)
    assert len(tracks) == 1
    track = tracks[0]
    np.testing.assert_array_equal(track.frames, np.arange(40))
    assert track.interpolated.tolist() == [f in (20, 21, 22) for f in range(40)]
    # Interpolated centres lie on the true straight path.
    np.testing.assert_allclose(track.boxes[20:23, 0], [300, 305, 310], atol=3.0)


def test_a_person_lost_during_a_pose_change_is_found_again():
    # While lost, the box changes shape (arms up: wider) and the person moved 90 px sideways.
    stream = {f: [person(300, 400, w=120, h=420)] for f in range(30)}
    stream |= {f: [] for f in range(30, 50)}
    stream |= {f: [person(390, 400, w=220, h=380)] for f in range(50, 80)}
    tracks = run(stream)
    assert len(tracks) == 1 and len(tracks[0]) == 80 and tracks[0].interpolated.sum() == 20


def test_a_one_frame_false_positive_is_dropped():
    stream = {f: [person(200, 300)] for f in range(40)}
    stream[10] = stream[10] + [person(600, 300, w=40, h=90, score=0.6)]
    tracks = run(stream)
    assert len(tracks) == 1 and tracks[0].boxes[0, 0] == pytest.approx(200, abs=1)


def test_people_leaving_and_entering_get_ids_by_first_appearance():
    stream = {f: [person(150, 300)] for f in range(0, 40)}
    for f in range(30, 80):
        stream.setdefault(f, []).append(person(600, 300))
    tracks = run(stream)
    assert [t.id for t in tracks] == [1, 2]
    assert tracks[0].frames[0] == 0 and tracks[0].frames[-1] == 39
    assert tracks[1].frames[0] == 30 and tracks[1].frames[-1] == 79


def test_minimum_length_drops_short_tracks_but_keeps_short_clips():
    long_clip = {f: [person(150, 300)] for f in range(100)}
    for f in range(40, 50):
        long_clip[f] = long_clip[f] + [person(600, 300)]
    assert len(run(long_clip)) == 1  # the 10-frame passer-by is dropped (min 25 frames)
    short_clip = {f: [person(150, 300)] for f in range(10)}
    assert len(run(short_clip)) == 1  # a 10-frame clip keeps its person


def test_boxes_are_squares_around_the_person():
    tracks = run({f: [person(200, 300, w=80, h=200)] for f in range(30)})
    boxes = tracks[0].boxes
    np.testing.assert_allclose(boxes[:, 2], boxes[:, 3])
    np.testing.assert_allclose(boxes[:, 2], 200, atol=1.0)
    np.testing.assert_allclose(boxes[:, :2], [[200, 300]] * 30, atol=1.0)


def test_select_main_person():
    stream = {f: [person(150, 300, w=60, h=150)] for f in range(80)}
    for f in range(20, 60):
        stream[f] = stream[f] + [person(600, 300, w=120, h=300)]
    tracks = run(stream)
    assert len(tracks) == 2
    assert select_main(tracks, "longest")[0].id == 1
    assert select_main(tracks, "largest")[0].id == 2
    assert select_main([], "longest") == []


def test_fixed_box_track_is_square_around_the_given_box():
    track = fixed_track(np.arange(5, 9), (10.0, 20.0, 40.0, 100.0))
    np.testing.assert_array_equal(track.frames, [5, 6, 7, 8])
    np.testing.assert_allclose(track.boxes, [[30.0, 70.0, 100.0, 100.0]] * 4)


def test_frames_must_increase():
    tracker = Tracker()
    tracker.update(3, np.zeros((0, 5)))
    with pytest.raises(ValueError):
        tracker.update(3, np.zeros((0, 5)))


def test_the_length_filter_counts_detected_frames_not_gap_filled_ones():
    # Three detections 14 frames apart would span 29 frames once the gaps are filled.
    stream = {f: [] for f in range(60)}
    for f in (0, 14, 28):
        stream[f] = [person(300, 300)]
    assert run(stream, TrackerConfig(max_age=20)) == []
    # 25 detections spread over 49 frames (every second frame) are a real person.
    stream = {f: [person(300 + f, 300)] if f % 2 == 0 else [] for f in range(49)}
    tracks = run(stream)
    assert len(tracks) == 1 and len(tracks[0]) == 49 and tracks[0].observed == 25
