"""HogTracker (--hog-full-every N): the whole frame on every N-th call and whenever nobody is known,
only the regions around the known people between (a person HOG missed stays known for up to N
calls). OpenCV's HOG is replaced by a
stand-in that finds white rectangles (people) at their true place and size whenever a detection
window can hold them, so the crop, scale and offset book-keeping of the real code is checked
against boxes known by construction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from backend.detection import (
    HOG_PERSON_HEIGHT,
    HOG_PERSON_WIDTH,
    HOG_WINDOW,
    DetectorConfig,
    HogDetector,
    HogTracker,
    make_detector,
)

W, H = 640, 480
PERSON = (60, 200)  # width, height in frame pixels


def _frame(people: list[tuple[float, float]]) -> np.ndarray:
    """Black frame with a white PERSON-sized rectangle at each (x, y) top-left."""
    frame = np.zeros((H, W, 3), np.uint8)
    for x, y in people:
        frame[int(y):int(y) + PERSON[1], int(x):int(x) + PERSON[0]] = 255
    return frame


class FakeHog:
    """detectMultiScale stand-in: every white blob fully inside the image whose height is at least
    a window's person height -> the HOG window that calibrates back to exactly that blob."""

    def __init__(self) -> None:
        self.areas: list[int] = []

    def detectMultiScale(self, image, winStride, padding, scale):
        self.areas.append(image.shape[0] * image.shape[1])
        mask = (image[..., 0] > 127).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        rects = []
        for x, y, w, h, _area in stats[1:n]:
            inside = x > 0 and y > 0 and x + w < image.shape[1] and y + h < image.shape[0]
            if inside and h >= HOG_WINDOW[1] * HOG_PERSON_HEIGHT:
                win_w, win_h = w / HOG_PERSON_WIDTH, h / HOG_PERSON_HEIGHT
                rects.append([x + w / 2 - win_w / 2, y + h / 2 - win_h / 2, win_w, win_h])
        return np.array(rects).reshape(-1, 4), np.ones(len(rects))


def _tracker(full_every: int = 4) -> tuple[HogTracker, FakeHog]:
    detector = HogTracker(DetectorConfig(full_every=full_every))
    fake = FakeHog()
    detector.full.hog = fake
    return detector, fake


def _truth(x: float, y: float) -> np.ndarray:
    return np.array([x, y, x + PERSON[0], y + PERSON[1]])


def test_region_calls_find_the_person_where_it_is_at_a_fraction_of_the_cost():
    detector, fake = _tracker(4)
    for call in range(9):
        x, y = 100 + 6 * call, 120 + 2 * call  # walking right and slightly down
        dets = detector(_frame([(x, y)]))
        assert len(dets) == 1
        np.testing.assert_allclose(dets[0, :4], _truth(x, y), atol=2.5)  # resize rounding only
    full_area = fake.areas[0]
    assert [a == full_area for a in fake.areas] == [True, False, False, False] * 2 + [True]
    assert max(a for a in fake.areas if a != full_area) < 0.3 * full_area


def test_a_newcomer_is_found_at_the_next_whole_frame_search():
    detector, _ = _tracker(4)
    counts = [len(detector(_frame([(80, 100)] + ([(420, 150)] if call >= 1 else [])))) for call in range(6)]
    assert counts == [1, 1, 1, 1, 2, 2]  # calls 1-3 search only around the first person


def test_after_a_call_that_found_nobody_the_whole_frame_is_searched():
    detector, fake = _tracker(4)
    assert len(detector(_frame([]))) == 0
    dets = detector(_frame([(300, 200)]))  # call 1: not a scheduled full call, but nobody was known
    np.testing.assert_allclose(dets[0, :4], _truth(300, 200), atol=2.5)
    assert fake.areas[1] == fake.areas[0]


def _kinds(fake: FakeHog) -> list[str]:
    """'F' for a whole-frame call, 'r' for a region call, in call order (one region per call here)."""
    return ["F" if a == fake.areas[0] else "r" for a in fake.areas]


def test_a_person_a_region_search_missed_is_searched_there_again_not_in_the_whole_frame():
    detector, fake = _tracker(4)
    found = [len(detector(_frame(people))) for people in
             ([(100, 120)], [], [(104, 121)], [(108, 122)], [(112, 123)])]
    assert found == [1, 0, 1, 1, 1]
    assert _kinds(fake) == ["F", "r", "r", "r", "F"]  # the miss did not bring the whole frame forward


def test_after_a_whole_frame_miss_the_known_person_is_looked_for_in_their_region():
    detector, fake = _tracker(4)
    for call in range(4):
        detector(_frame([(100 + 3 * call, 120)]))
    assert len(detector(_frame([]))) == 0  # call 4: the scheduled whole-frame search misses
    dets = detector(_frame([(115, 121)]))  # call 5: around where they were
    np.testing.assert_allclose(dets[0, :4], _truth(115, 121), atol=2.5)
    assert _kinds(fake) == ["F", "r", "r", "r", "F", "r"]


def test_a_person_missed_through_a_whole_cycle_is_forgotten():
    detector, fake = _tracker(4)
    detector(_frame([(100, 120)]))
    for _ in range(6):  # regions 1-3 and the whole frame 4 miss: forgotten, so whole frames again
        assert len(detector(_frame([]))) == 0
    assert _kinds(fake) == ["F", "r", "r", "r", "F", "F", "F"]
    dets = detector(_frame([(400, 100)]))  # someone anywhere is found by the next call
    np.testing.assert_allclose(dets[0, :4], _truth(400, 100), atol=2.5)


def test_a_person_at_the_frame_edge_is_still_followed_or_searched_again():
    detector, _ = _tracker(4)
    detector(_frame([(5, 270)]))  # low and at the left edge: the region is clipped by the frame
    dets = detector(_frame([(8, 272)]))
    assert len(dets) == 1
    np.testing.assert_allclose(dets[0, :4], _truth(8, 272), atol=2.5)


def test_full_every_one_is_the_whole_frame_detector():
    assert type(make_detector(DetectorConfig(full_every=1))) is HogDetector
    assert type(make_detector(DetectorConfig())) is HogTracker


@pytest.mark.parametrize("value", [0, -3])
def test_run_refuses_a_full_every_below_one(value):
    from backend.errors import BackendError, Code
    from backend.pipeline import RunConfig

    with pytest.raises(BackendError) as err:
        RunConfig(input="v.mp4", out="o", hog_full_every=value)
    assert err.value.code == Code.BAD_ARGUMENT and "--hog-full-every" in err.value.message
