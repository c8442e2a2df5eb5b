"""Frame sources: counts, ranges, image folders, and the input errors (code + hint)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from backend.errors import BackendError, Code
from backend.video import FrameSource
from tests.pipeline.clips import HEIGHT, WIDTH, figure_frame, write_images, write_mp4


def test_video_frames_rate_and_range(tmp_path):
    source = FrameSource(write_mp4(tmp_path / "c.mp4", 12, fps=24.0))
    info = source.info
    assert (info.kind, info.fps, info.width, info.height) == ("video", 24.0, WIDTH, HEIGHT)
    indices = [i for i, _ in source.frames()]
    assert indices == list(range(12))
    ranged = list(source.frames(4, 9))
    assert [i for i, _ in ranged] == [4, 5, 6, 7, 8]
    # the frame really is frame 4 (lossy codec: compare loosely with the drawn frame, and to frame 0)
    assert np.abs(ranged[0][1].astype(int) - figure_frame(4).astype(int)).mean() < 6
    assert [i for i, _ in source.frames(10, 50)] == [10, 11]
    assert list(source.frames(20)) == []


def test_image_folder_sorted_by_name(tmp_path):
    folder = write_images(tmp_path / "imgs", 6)
    (folder / "notes.txt").write_text("not a frame")
    source = FrameSource(folder, image_fps=12.5)
    assert (source.info.kind, source.info.fps, source.info.reported_frames) == ("images", 12.5, 6)
    frames = list(source.frames(2, 5))
    assert [i for i, _ in frames] == [2, 3, 4]
    assert np.array_equal(frames[0][1], figure_frame(2))  # png: lossless


def _code(path, **kw):
    with pytest.raises(BackendError) as info:
        FrameSource(path, **kw)
    assert info.value.hint
    return info.value.code


def test_input_errors(tmp_path):
    assert _code(tmp_path / "missing.mp4") == Code.INPUT_NOT_FOUND
    (tmp_path / "random.mp4").write_bytes(os.urandom(4000))
    assert _code(tmp_path / "random.mp4") == Code.VIDEO_CORRUPT
    data = write_mp4(tmp_path / "ok.mp4", 10).read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 2])
    assert _code(tmp_path / "truncated.mp4") == Code.VIDEO_CORRUPT
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert _code(tmp_path / "empty.mp4") == Code.VIDEO_EMPTY
    (tmp_path / "nothing").mkdir()
    assert _code(tmp_path / "nothing") == Code.VIDEO_EMPTY
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "0001.png").write_bytes(b"not a png")
    assert _code(bad) == Code.INPUT_UNREADABLE


def test_image_of_another_size_is_refused(tmp_path):
    import cv2

    folder = write_images(tmp_path / "imgs", 3)
    cv2.imwrite(str(folder / "frame_0001.png"), np.zeros((10, 10, 3), np.uint8))
    source = FrameSource(folder)
    with pytest.raises(BackendError) as info:
        list(source.frames())
    assert info.value.code == Code.INPUT_UNREADABLE and "frame_0001.png" in info.value.message
