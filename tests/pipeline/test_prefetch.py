"""backend.prefetch: order, the bound on what is read ahead, errors raised in the consumer, and
a consumer that stops early (or fails) ending the reader thread."""

from __future__ import annotations

import io
import threading
import time
from contextlib import nullcontext

import cv2
import numpy as np
import pytest

from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.pipeline import RunConfig, _pass1
from backend.prefetch import Prefetch
from backend.video import FrameSource


class Counting:
    """A generator-backed source that records how far it was read and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None, error: BaseException | None = None) -> None:
        self.n, self.fail_at, self.error = n, fail_at, error
        self.produced = 0
        self.closed = threading.Event()

    def __iter__(self):
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise self.error
                self.produced += 1
                yield i
        finally:
            self.closed.set()


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.mark.parametrize("size", [0, 1, 4])
def test_every_item_in_order(size):
    with Prefetch(iter(Counting(50)), size) as items:
        assert list(items) == list(range(50))


def test_the_reader_blocks_when_the_queue_is_full():
    source = Counting(1000)
    with Prefetch(iter(source), 4) as items:
        iterator = iter(items)
        assert next(iterator) == 0
        time.sleep(0.3)  # plenty of time to read everything if it were not bounded
        assert source.produced <= 1 + 4 + 1  # consumed + queued + the one waiting to be queued
        assert list(iterator) == list(range(1, 1000))


def test_an_error_in_the_reader_is_raised_in_the_consumer_after_the_items_before_it():
    error = BackendError(Code.VIDEO_CORRUPT, "frame 3 is damaged", "Re-encode it.")
    source = Counting(10, fail_at=3, error=error)
    got = []
    with pytest.raises(BackendError) as info, Prefetch(iter(source), 8) as items:
        for item in items:
            got.append(item)
    assert info.value is error  # the same exception, code and hint included
    assert got == [0, 1, 2]
    assert source.closed.is_set()


@pytest.mark.parametrize("how", ["break", "exception", "cancel"])
def test_a_consumer_that_stops_early_ends_the_reader(how):
    source = Counting(10**6)
    prefetch = Prefetch(iter(source), 2)
    before = threading.active_count()
    expected = pytest.raises((RuntimeError, KeyboardInterrupt)) if how != "break" else nullcontext()
    with expected, prefetch as items:
        for item in items:
            if item == 5:
                if how == "break":
                    break
                raise RuntimeError("boom") if how == "exception" else KeyboardInterrupt
    assert not prefetch.alive
    assert source.closed.is_set()  # the source's `finally` ran (a video capture is released there)
    assert _wait_for(lambda: threading.active_count() <= before)
    assert source.produced < 100


def test_a_damaged_image_in_pass_1_surfaces_as_the_same_backend_error(tmp_path):
    """Through the reader thread, pass 1 fails with the source's own error (code and hint)."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"{i:04d}.png"), np.full((64, 48, 3), 40 * i, np.uint8))
    (folder / "0004.png").write_bytes(b"not a png")
    config = RunConfig(input=str(folder), out=str(tmp_path / "o"), bbox=(0, 0, 10, 10))
    with pytest.raises(BackendError) as info:
        _pass1(FrameSource(folder), config, Reporter(jsonl=True, out=io.StringIO()), None, None)
    assert info.value.code == Code.INPUT_UNREADABLE and "0004.png" in info.value.message
    assert not any(t.name == "prefetch" for t in threading.enumerate())


def test_size_must_not_be_negative():
    with pytest.raises(ValueError):
        Prefetch([], -1)
