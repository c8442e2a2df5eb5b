"""Frame sources for `run`: a video file (OpenCV) or a folder of .png/.jpg images sorted by name.

Streaming only: `frames()` yields one decoded frame at a time and can be called again for a
second pass (it reopens the source); nothing is held or written to disk. The video keeps its
own frame rate (no resampling to 29.97 as the official demo's ffmpeg step does). OpenCV's
reported frame count is only an estimate (container metadata); the pipeline counts what it
actually decodes. Frame numbers are 0-based source frame indices, also with a start/end range.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from backend.errors import BackendError, Code

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_IMAGE_FPS = 30.0  # an image folder has no frame rate: `run --fps` sets it

_VIDEO_HINT = ("Re-export or re-encode the clip (e.g. `ffmpeg -i in.mov -c:v libx264 out.mp4`), or give a "
               "folder of .png/.jpg frames.")


@dataclass(frozen=True)
class SourceInfo:
    path: str  # absolute path of the video file or image folder
    kind: str  # "video" | "images"
    fps: float
    width: int
    height: int
    reported_frames: int  # container's frame count (video) or number of images; may be wrong for video


def _open_capture(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        cap = cv2.VideoCapture(str(path))
    return cap


def list_images(folder: Path) -> list[Path]:
    """The folder's .png/.jpg/.jpeg files (case-insensitive), sorted by name."""
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: p.name)


class FrameSource:
    """A video file or an image folder, opened and probed; `frames()` streams it (repeatable)."""

    def __init__(self, path: str | os.PathLike, image_fps: float = DEFAULT_IMAGE_FPS) -> None:
        path = Path(path).expanduser()
        if not path.exists():
            raise BackendError(Code.INPUT_NOT_FOUND, f"input not found: {path}",
                               "Give the path of a video file or of a folder of .png/.jpg frames.")
        path = path.resolve()
        self._images: list[Path] | None = None
        if path.is_dir():
            self._probe_folder(path, image_fps)
        else:
            self._probe_video(path)

    def _probe_folder(self, path: Path, fps: float) -> None:
        try:
            images = list_images(path)
        except OSError as exc:
            raise BackendError(Code.INPUT_UNREADABLE, f"cannot list the folder {path}: {exc}",
                               "Check the folder's permissions.") from None
        if not images:
            raise BackendError(Code.VIDEO_EMPTY, f"the folder {path} holds no .png or .jpg images",
                               "Give a folder of frames named so that they sort in order (e.g. 000001.png), "
                               "or a video file.")
        first = self._read_image(images[0])
        self._images = images
        self.info = SourceInfo(str(path), "images", float(fps), int(first.shape[1]), int(first.shape[0]),
                               len(images))

    def _probe_video(self, path: Path) -> None:
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise BackendError(Code.INPUT_UNREADABLE, f"cannot read {path}: {exc}",
                               "Check the file's permissions, or copy it somewhere readable.") from None
        if not head:
            raise BackendError(Code.VIDEO_EMPTY, f"{path} is an empty file (0 bytes)", _VIDEO_HINT)
        cap = _open_capture(path)
        try:
            if not cap.isOpened():
                raise BackendError(Code.VIDEO_CORRUPT, f"{path} is not a video OpenCV can decode (damaged, "
                                                       "truncated or an unknown format)", _VIDEO_HINT)
            width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            reported = int(max(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0, 0))
            ok, frame = cap.read()
        finally:
            cap.release()
        if not ok or frame is None:
            code = Code.VIDEO_CORRUPT if reported > 0 else Code.VIDEO_EMPTY
            raise BackendError(code, f"{path}: no frame could be decoded"
                                     + (f" (the file claims {reported})" if reported else ""), _VIDEO_HINT)
        height, width = frame.shape[:2] if frame.ndim >= 2 else (height, width)
        if not (fps > 0 and np.isfinite(fps)):
            raise BackendError(Code.VIDEO_CORRUPT, f"{path} has no valid frame rate ({fps})", _VIDEO_HINT)
        self.info = SourceInfo(str(path), "video", fps, int(width), int(height), reported)

    def _read_image(self, path: Path) -> np.ndarray:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise BackendError(Code.INPUT_UNREADABLE, f"cannot read the image {path}",
                               "Remove or re-save the damaged image: every .png/.jpg in the folder is "
                               "a frame.")
        return frame

    def expected_frames(self, start: int, end: int | None) -> int:
        """Frames the range should hold according to the reported count (an estimate for video)."""
        stop = self.info.reported_frames if end is None else min(end, self.info.reported_frames)
        return max(stop - start, 0)

    def frames(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame_index, frame (H,W,3) uint8 BGR) for start <= frame_index < end, one at a time."""
        if self._images is not None:
            stop = len(self._images) if end is None else min(end, len(self._images))
            for index in range(start, stop):
                frame = self._read_image(self._images[index])
                if frame.shape[:2] != (self.info.height, self.info.width):
                    raise BackendError(Code.INPUT_UNREADABLE,
                                       f"{self._images[index].name} is {frame.shape[1]}x{frame.shape[0]}, "
                                       f"the first image is {self.info.width}x{self.info.height}",
                                       "All frames of an image folder must have the same size.")
                yield index, frame
            return
        cap = _open_capture(Path(self.info.path))
        try:
            if not cap.isOpened():
                raise BackendError(Code.VIDEO_CORRUPT, f"{self.info.path} could not be reopened", _VIDEO_HINT)
            index = 0
            while index < start:  # skip by decoding: seeking is not frame-exact in every container
                if not cap.grab():
                    return
                index += 1
            while end is None or index < end:
                ok, frame = cap.read()
                if not ok or frame is None:
                    return
                yield index, frame
                index += 1
        finally:
            cap.release()
