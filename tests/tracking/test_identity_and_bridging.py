"""Tracker identity guard and optical-flow bridging on drawn scenes with known truth."""

import numpy as np

from backend.tracking import Tracker, TrackerConfig
from tests.tracking.scenes import Person, Scene


def track_scene(scene: Scene, frames: int, config: TrackerConfig | None = None, with_frames: bool = True):
    tracker = Tracker(config or TrackerConfig())
    for i in range(frames):
        tracker.update(i, scene.detections(i), frame=scene.frame(i) if with_frames else None)
    return tracker.finish()


def identities(scene: Scene, track) -> set[int]:
    """The true people a track's detected frames belong to (one element: no identity swap)."""
    rows = zip(track.frames, track.boxes, track.interpolated)
    return {scene.truth_of(box, int(f)) for f, box, interp in rows if not interp}


def test_a_lost_persons_spot_taken_by_someone_else_is_not_a_re_find():
    # A (red) stands still until frame 30 and leaves (through a door); B (blue, the same size)
    # walks in from the right and stops exactly where A was last seen.
    a = Person((40, 40, 200), lambda i: (200.0, 160.0), frames=range(0, 30), seed=1)
    b = Person((200, 90, 30), lambda i: (max(200.0, 460 - 16.0 * (i - 30)), 160.0), frames=range(30, 80),
               seed=2)
    scene = Scene([a, b])
    tracks = track_scene(scene, 80)
    assert [identities(scene, t) for t in tracks] == [{0}, {1}]
    assert tracks[0].frames[-1] == 29  # A's track was not continued with B's boxes
    assert tracks[1].frames[0] == 30 and tracks[1].frames[-1] == 79


def test_two_people_crossing_with_the_one_behind_hidden_keep_their_ids():
    # A walks right in front; B, further back (smaller), walks left and is hidden behind A for
    # 10 frames while they cross; after the crossing both are seen again.
    a = Person((40, 40, 200), lambda i: (60 + 6.0 * i, 170.0), height=170, depth=1.0, seed=1)
    b = Person((200, 90, 30), lambda i: (420 - 6.0 * i, 160.0), height=120, depth=2.0,
               missed=set(range(26, 36)), seed=2)
    scene = Scene([a, b])
    tracks = track_scene(scene, 60)
    assert len(tracks) == 2
    assert sorted(identities(scene, t).pop() for t in tracks) == [0, 1]
    assert all(len(identities(scene, t)) == 1 for t in tracks)
    b_track = next(t for t in tracks if identities(scene, t) == {1})
    assert b_track.frames[0] == 0 and b_track.frames[-1] == 59  # one track for B through the crossing
    assert b_track.interpolated.sum() == 10


def test_people_who_meet_and_turn_back_are_told_apart_by_their_colours():
    # Geometry alone cannot tell: both are undetected while they stand together, then each walks
    # back the way it came (a constant-velocity prediction expects them to cross over).
    def walk(x0, v):
        return lambda i: (x0 + v * min(i, 30) - v * max(0, i - 40), 160.0)

    a = Person((40, 40, 200), walk(100.0, 4.0), missed=set(range(28, 44)), seed=1)
    b = Person((200, 90, 30), walk(380.0, -4.0), missed=set(range(28, 44)), seed=2)
    scene = Scene([a, b])
    tracks = track_scene(scene, 75)
    assert all(len(identities(scene, t)) == 1 for t in tracks)
    assert sorted(identities(scene, t).pop() for t in tracks) == [0, 1]


def test_a_miss_is_bridged_by_optical_flow_closer_to_the_truth_than_a_straight_line():
    # The person moves on an arc; the detector misses 14 frames of it.
    def arc(i):
        return 240 + 150 * np.cos(i / 12.0), 160 + 40 * np.sin(i / 12.0)

    missed = set(range(20, 34))
    scene = Scene([Person((40, 160, 60), arc, height=150, missed=missed, seed=3)])
    flow = track_scene(scene, 50)
    line = track_scene(scene, 50, with_frames=False)
    assert len(flow) == len(line) == 1
    truth = np.array([(scene.people[0].box(i)[:2] + scene.people[0].box(i)[2:]) / 2 for i in sorted(missed)])
    rows = sorted(missed)
    assert flow[0].interpolated[rows].all() and line[0].interpolated[rows].all()  # honest flags
    err_flow = np.linalg.norm(flow[0].boxes[rows, :2] - truth, axis=1).mean()
    err_line = np.linalg.norm(line[0].boxes[rows, :2] - truth, axis=1).mean()
    assert err_flow < 0.5 * err_line, (err_flow, err_line)


def test_without_frames_the_tracker_is_the_geometric_one():
    stream = Scene([Person((40, 40, 200), lambda i: (100 + 4.0 * i, 160.0), seed=1)])
    tracks = track_scene(stream, 40, TrackerConfig(use_image=False))
    assert len(tracks) == 1 and len(tracks[0]) == 40


def test_a_crowded_scene_keeps_only_real_people_each_as_one_identity():
    """Six people walking both ways at two depths, crossing; the detector misses 15 % of their
    frames at random and fires flickering false positives (a few frames each, far apart)."""
    rng = np.random.default_rng(5)
    people = []
    for k in range(6):
        x0, v = (40.0, 3.0 + k) if k % 2 == 0 else (440.0, -3.0 - k)
        depth = 1.0 + (k % 3)
        y, height = 150.0 + 15 * depth, 190.0 - 30 * depth

        def path(i, x0=x0, v=v, y=y):
            return x0 + v * i, y

        missed = {int(f) for f in np.nonzero(rng.random(90) < 0.15)[0]}
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        people.append(Person(colour, path, height=height, depth=depth, missed=missed, seed=10 + k))
    scene = Scene(people, seed=5)
    tracker = Tracker(TrackerConfig(max_age=20))
    ghosts = {3: (60, 40), 15: (62, 41), 29: (61, 40), 50: (300, 30), 64: (301, 31)}  # frame -> spot
    for i in range(90):
        dets = scene.detections(i)
        if i in ghosts:
            x, y = ghosts[i]
            dets = np.vstack([dets, np.array([[x, y, x + 30, y + 70, 0.6]], np.float32)])
        tracker.update(i, dets, frame=scene.frame(i))
    tracks = tracker.finish()
    assert tracks and all(t.observed >= 25 for t in tracks)
    for t in tracks:  # no ghost, and no track mixes two people
        ids = identities(scene, t)
        assert len(ids) == 1, (t.id, ids)
    found = {identities(scene, t).pop() for t in tracks}

    def detected_frames(p):
        return sum(0 < (p.box(i)[0] + p.box(i)[2]) / 2 < 480 and i not in p.missed for i in range(90))

    assert found == {k for k, p in enumerate(people) if detected_frames(p) >= 25}
