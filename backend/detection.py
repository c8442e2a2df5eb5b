"""Person detection: a frame -> person boxes.

Interface the pipeline relies on:
    detector = make_detector(DetectorConfig(...))
    dets = detector(frame_bgr)   # frame (H,W,3) uint8 BGR -> (N,5) float32 [x1,y1,x2,y2,score], pixels

* Embedded default (offline, nothing to download): OpenCV's HOG + linear-SVM people detector
  (Dalal-Triggs, shipped inside OpenCV) on a frame downscaled so its longer side is
  `max_side` pixels. HOG's 64x128 window holds a person of about 48x96 px in its centre, so raw
  HOG boxes are shrunk to hug the person roughly as a learned detector's would (the crop adds
  its own x1.2 margin later). People smaller than about 128/max_side of the frame height are not
  found; raise `max_side` for small or distant people (slower).
* `onnx_path`: a user-supplied ONNX person detector run through cv2.dnn. Expected layout: a
  YOLOv5/v8-style export on a square letterboxed RGB input in [0, 1] whose output is either
  (1, N, 5 + C) [cx, cy, w, h, objectness, C class scores] (YOLOv5) or (1, 4 + C, N)
  [cx, cy, w, h, C class scores] (YOLOv8), in input pixels; class 0 is "person" (COCO).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from backend.errors import BackendError, Code

Detections = np.ndarray  # (N,5) float32 [x1, y1, x2, y2, score]

# How a HOG window relates to the person inside it (fractions of the window, centred).
HOG_PERSON_WIDTH = 0.5
HOG_PERSON_HEIGHT = 0.8


@dataclass(frozen=True)
class DetectorConfig:
    onnx_path: str | None = None  # None: embedded HOG detector
    score_threshold: float = 0.5  # HOG: SVM margin; ONNX: objectness x class confidence
    nms_iou: float = 0.45  # boxes overlapping more than this with a better one are dropped
    max_side: int = 400  # HOG runs on the frame scaled so its longer side is this many pixels
    hog_scale: float = 1.05  # HOG image pyramid step
    onnx_input_size: int = 640  # square network input of the ONNX model


HOG_WINDOW = (64, 128)  # width, height of OpenCV's default people detector window, pixels


def check_frame_size(width: int, height: int, config: DetectorConfig) -> None:
    """Raise NO_PERSON (hint: --bbox) when frames of width x height cannot go through the detector:
    HOG needs its 64x128 window inside the downscaled frame, the ONNX letterbox at least 1 px."""
    if config.onnx_path:
        scale = config.onnx_input_size / max(width, height)
        need, what = (1, 1), f"{config.onnx_input_size} px letterbox"
    else:
        scale = min(1.0, config.max_side / max(width, height))
        need, what = HOG_WINDOW, f"HOG window of {HOG_WINDOW[0]}x{HOG_WINDOW[1]} px"
    small = (round(width * scale), round(height * scale))
    if small[0] < need[0] or small[1] < need[1]:
        raise BackendError(Code.NO_PERSON,
                           f"person detection cannot run on {width}x{height} frames: scaled to "
                           f"{small[0]}x{small[1]} for detection, they do not hold the {what}",
                           "Give the person's box with --bbox X,Y,W,H (pixels), which skips detection.")


def empty_detections() -> Detections:
    return np.zeros((0, 5), dtype=np.float32)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of corner boxes a (N,>=4) and b (M,>=4): (N,M)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(dets: Detections, iou_threshold: float) -> Detections:
    """Greedy non-maximum suppression, best score first. (N,5) -> (M,5)."""
    order = np.argsort(-dets[:, 4], kind="stable")
    keep: list[int] = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(best)
        order = rest[iou_matrix(dets[best:best + 1], dets[rest])[0] <= iou_threshold]
    return dets[keep].astype(np.float32)


def calibrate_hog_boxes(rects_xywh: np.ndarray, weights: np.ndarray, scale: float) -> Detections:
    """HOG window rects (N,4) [x,y,w,h] on the downscaled frame -> person boxes (N,5) full-res."""
    rects = np.asarray(rects_xywh, dtype=np.float64).reshape(-1, 4) / scale
    cx, cy = rects[:, 0] + rects[:, 2] / 2, rects[:, 1] + rects[:, 3] / 2
    half_w, half_h = rects[:, 2] * HOG_PERSON_WIDTH / 2, rects[:, 3] * HOG_PERSON_HEIGHT / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h,
                      np.asarray(weights, dtype=np.float64).reshape(-1)], axis=1)
    return boxes.astype(np.float32)


class HogDetector:
    """OpenCV's default HOG people detector on a downscaled frame, plus NMS."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        check_frame_size(frame_bgr.shape[1], frame_bgr.shape[0], self.config)
        scale = min(1.0, self.config.max_side / max(frame_bgr.shape[:2]))
        small = frame_bgr if scale == 1.0 else cv2.resize(frame_bgr, None, fx=scale, fy=scale,
                                                          interpolation=cv2.INTER_AREA)
        rects, weights = self.hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8),
                                                   scale=self.config.hog_scale)
        if len(rects) == 0:
            return empty_detections()
        dets = calibrate_hog_boxes(rects, weights, scale)
        dets = dets[dets[:, 4] >= self.config.score_threshold]
        return nms(dets, self.config.nms_iou)


def letterbox_params(height: int, width: int, size: int) -> tuple[float, float, float]:
    """Scale and (pad_x, pad_y) that fit an HxW image centred into a size x size square."""
    scale = size / max(height, width)
    return scale, (size - width * scale) / 2.0, (size - height * scale) / 2.0


def decode_yolo(output: np.ndarray, scale: float, pad_x: float, pad_y: float, score_threshold: float,
                nms_iou: float) -> Detections:
    """YOLO output (1,N,5+C) or (1,4+C,N) in letterboxed input pixels -> person boxes in frame pixels."""
    out = np.asarray(output, dtype=np.float64)
    if out.ndim == 3:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"unexpected detector output shape {np.shape(output)}")
    # Exports have many more candidates N than attributes K: the smaller axis holds the attributes.
    if out.shape[0] < out.shape[1]:  # YOLOv8: (4 + C, N) -> (N, 4 + C)
        rows = out.T
        score = rows[:, 4]  # class 0 (person) confidence
    else:  # YOLOv5: (N, 5 + C): objectness x person-class confidence
        rows = out
        score = rows[:, 4] * (rows[:, 5] if rows.shape[1] > 5 else 1.0)
    keep = score >= score_threshold
    rows, score = rows[keep], score[keep]
    cx, cy, w, h = (rows[:, k] for k in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    boxes = (boxes - np.array([pad_x, pad_y, pad_x, pad_y])) / scale
    dets = np.concatenate([boxes, score[:, None]], axis=1).astype(np.float32)
    return nms(dets, nms_iou) if len(dets) else empty_detections()


class OnnxDetector:
    """A user-supplied YOLO-style ONNX person detector through OpenCV's DNN module."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        path = Path(config.onnx_path or "")
        hint = "Pass --detector with a YOLOv5/YOLOv8 ONNX export (class 0 = person), or leave it out to " \
               "use the built-in detector."
        if not path.is_file():
            raise BackendError(Code.INPUT_NOT_FOUND, f"detector model not found: {path}", hint)
        try:
            self.net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise BackendError(Code.INPUT_UNREADABLE, f"{path.name} is not a loadable ONNX model: {exc}",
                               hint) from exc

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        size = self.config.onnx_input_size
        height, width = frame_bgr.shape[:2]
        check_frame_size(width, height, self.config)
        scale, _, _ = letterbox_params(height, width, size)
        canvas = np.full((size, size, 3), 114, dtype=np.uint8)
        resized = cv2.resize(frame_bgr, (round(width * scale), round(height * scale)))
        top, left = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
        canvas[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / 255.0, (size, size), swapRB=True)
        self.net.setInput(blob)
        return decode_yolo(self.net.forward(), scale, left, top, self.config.score_threshold,
                           self.config.nms_iou)


def make_detector(config: DetectorConfig) -> Callable[[np.ndarray], Detections]:
    return OnnxDetector(config) if config.onnx_path else HogDetector(config)
