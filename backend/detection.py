"""Person detection: a frame -> person boxes.

Interface the pipeline relies on:
    detector = make_detector(DetectorConfig(...))
    dets = detector(frame_bgr)   # frame (H,W,3) uint8 BGR -> (N,5) float32 [x1,y1,x2,y2,score], pixels

* Embedded default (offline, nothing to download): OpenCV's HOG + linear-SVM people detector
  (Dalal-Triggs, shipped inside OpenCV). Its 64x128 window holds a person of about 48x102 px
  (HOG_MIN_PERSON_PX tall) in its centre, so raw HOG boxes are shrunk to hug the person roughly
  as a learned detector's would (the crop adds its own x1.2 margin later). HOG's image pyramid
  only shrinks, and a window never extends past the image, so it finds people from
  HOG_MIN_PERSON_PX (in the detector's input) up to ~80 % of the input's height. The input is
  therefore scaled by what the detector needs (`hog_scale_for`): a person of `min_person_height`
  x the frame height becomes HOG_MIN_PERSON_PX tall (the longer side capped at `max_side` for
  speed), whatever the aspect ratio. `pad` (off by default) adds a replicated border so people
  taller than ~80 % of the frame can be found too; on real footage it finds more frames of a
  close person but with loose, oversized boxes, so it is left to the user. `min_person_height=None`
  restores this project's earlier rule, the longer side scaled to `max_side` (with 400 on
  landscape video it found people only between ~45 % and ~80 % of the frame height).
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
HOG_WINDOW_HEIGHT = 128  # pixels, OpenCV's default people detector
HOG_MIN_PERSON_PX = HOG_WINDOW_HEIGHT * HOG_PERSON_HEIGHT  # smallest person one window holds, input px


@dataclass(frozen=True)
class DetectorConfig:
    onnx_path: str | None = None  # None: embedded HOG detector
    score_threshold: float = 0.5  # HOG: SVM margin; ONNX: objectness x class confidence
    nms_iou: float = 0.45  # boxes overlapping more than this with a better one are dropped
    # HOG: the smallest person to find, as a fraction of the frame height (sets the input's
    # scale); None: one pass scaled so the longer side is `max_side` (the earlier detector).
    min_person_height: float | None = 0.3
    max_side: int = 960  # HOG: longest side of the input, pixels (bounds the cost)
    max_upscale: float = 2.0  # HOG: small frames are enlarged at most this much
    pad: float = 0.0  # HOG: replicated border on every side, fraction of the side (people > 80 % tall)
    hog_scale: float = 1.05  # HOG image pyramid step
    # HOG: search the whole frame on every `full_every`-th call (and whenever the last call found
    # nobody); on the calls between, only around the people of the last call (HogTracker); 1: always.
    full_every: int = 4
    onnx_input_size: int = 640  # square network input of the ONNX model


HOG_WINDOW = (64, 128)  # width, height of OpenCV's default people detector window, pixels


def check_frame_size(width: int, height: int, config: DetectorConfig) -> None:
    """Raise NO_PERSON (hint: --bbox) when frames of width x height cannot go through the detector:
    HOG needs its 64x128 window inside the downscaled frame, the ONNX letterbox at least 1 px."""
    if config.onnx_path:
        scale = config.onnx_input_size / max(width, height)
        need, what = (1, 1), f"{config.onnx_input_size} px letterbox"
    else:
        scale = hog_scale_for(height, width, config)
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


def hog_scale_for(height: int, width: int, config: DetectorConfig) -> float:
    """Scale of the HOG input for an HxW frame. A person h frame pixels tall is h*scale pixels tall
    in the input and is found when HOG_MIN_PERSON_PX <= h*scale <= ~0.8 x the input height."""
    longest = max(height, width)
    if config.min_person_height is None:
        return min(1.0, config.max_side / longest)
    return min(HOG_MIN_PERSON_PX / (config.min_person_height * height), config.max_side / longest,
               config.max_upscale)


class HogDetector:
    """OpenCV's default HOG people detector on the frame scaled by hog_scale_for, plus NMS."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def _pass(self, frame_bgr: np.ndarray, scale: float, pad: float) -> Detections:
        interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        image = frame_bgr if scale == 1.0 else cv2.resize(frame_bgr, None, fx=scale, fy=scale,
                                                          interpolation=interpolation)
        pad_y, pad_x = round(pad * image.shape[0]), round(pad * image.shape[1])
        if pad_x or pad_y:  # replicated edges: no artificial border line for HOG to respond to
            image = cv2.copyMakeBorder(image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REPLICATE)
        rects, weights = self.hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8),
                                                   scale=self.config.hog_scale)
        if len(rects) == 0:
            return empty_detections()
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) - [pad_x, pad_y, 0, 0]
        return calibrate_hog_boxes(rects, weights, scale)

    def keep(self, dets: Detections) -> Detections:
        """Window detections (N,5) in frame pixels -> those above the score threshold, after NMS."""
        dets = dets[dets[:, 4] >= self.config.score_threshold]
        return nms(dets, self.config.nms_iou) if len(dets) else empty_detections()

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        height, width = frame_bgr.shape[:2]
        check_frame_size(width, height, self.config)
        return self.keep(self._pass(frame_bgr, hog_scale_for(height, width, self.config), self.config.pad))


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


# Around a person of the last call, the region searched (HogTracker): the person's HOG window
# grown by these factors (width, height) about its centre, scaled so that the window is
# ROI_WINDOW_MARGIN x the detector's 128 px: the person may shrink by ~13 % or grow to fill the
# region before the next full-frame search.
ROI_GROW = (2.0, 1.5)
ROI_WINDOW_MARGIN = 1.15


def roi_for(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int, float]:
    """A detected person box [x1,y1,x2,y2,...] -> the region around it to search next,
    (x0, y0, x1, y1) in frame pixels (clipped), and the scale for its HOG input."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    win_h = max(float(box[3] - box[1]), 1.0) / HOG_PERSON_HEIGHT
    win_w = win_h * HOG_WINDOW[0] / HOG_WINDOW[1]
    half_w, half_h = win_w * ROI_GROW[0] / 2, win_h * ROI_GROW[1] / 2
    x0, y0 = max(0, int(cx - half_w)), max(0, int(cy - half_h))
    x1, y1 = min(width, int(np.ceil(cx + half_w))), min(height, int(np.ceil(cy + half_h)))
    return x0, y0, x1, y1, HOG_WINDOW[1] * ROI_WINDOW_MARGIN / win_h


class HogTracker:
    """HOG that follows the people it found: a full-frame search (HogDetector) on every
    config.full_every-th call and whenever nobody is known; on the calls between, HOG runs only on
    a small region around each known person (roi_for), scaled to that person's size, which costs a
    fraction of the full frame's image pyramid. The known people are the last call's detections,
    plus those not found again (HOG misses a person now and then where they are: searching there
    again is cheaper than the whole frame) for up to full_every calls, so a person missed through
    a whole cycle, whole-frame search included, is forgotten. New people are found by the next
    full-frame search (at most full_every - 1 calls later). Stateful: one per pass."""

    def __init__(self, config: DetectorConfig) -> None:
        self.full = HogDetector(config)
        self.config = config
        self.calls = 0
        self.last = empty_detections()  # the known people (N,5), frame pixels
        self.misses = np.zeros(0, dtype=np.int64)  # (N,) calls since each was last found

    def _near(self, frame_bgr: np.ndarray) -> tuple[Detections, np.ndarray]:
        """-> (detections around the known people, bool (N,) the known people whose region found nobody)."""
        height, width = frame_bgr.shape[:2]
        found, missed = [], np.zeros(len(self.last), dtype=bool)
        for n, box in enumerate(self.last):
            x0, y0, x1, y1, scale = roi_for(box, width, height)
            if round((x1 - x0) * scale) < HOG_WINDOW[0] or round((y1 - y0) * scale) < HOG_WINDOW[1]:
                continue  # the region does not hold a window at this scale (at the frame's edge)
            dets = self.full._pass(np.ascontiguousarray(frame_bgr[y0:y1, x0:x1]), scale, 0.0)
            dets[:, [0, 2]] += x0
            dets[:, [1, 3]] += y0
            found.append(dets)
            missed[n] = not (dets[:, 4] >= self.config.score_threshold).any()
        return self.full.keep(np.concatenate(found) if found else empty_detections()), missed

    def _remember(self, dets: Detections, missed: np.ndarray) -> None:
        """Known people: dets, plus the missed ones not found from another region, if not missed too long."""
        old, misses = self.last[missed], self.misses[missed] + 1
        if len(dets) and len(old):
            # not found again from another person's region
            elsewhere = iou_matrix(old, dets).max(axis=1) <= self.config.nms_iou
            old, misses = old[elsewhere], misses[elsewhere]
        recent = misses < max(1, self.config.full_every)
        self.last = np.concatenate([dets, old[recent]]).astype(np.float32)
        self.misses = np.concatenate([np.zeros(len(dets), dtype=np.int64), misses[recent]])

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        full = self.calls % max(1, self.config.full_every) == 0 or not len(self.last)
        self.calls += 1
        if full:
            dets = self.full(frame_bgr)
            missed = np.full(len(self.last), not len(dets))  # a whole-frame miss keeps them a while
        else:
            dets, missed = self._near(frame_bgr)
        self._remember(dets, missed)
        return dets


def make_detector(config: DetectorConfig) -> Callable[[np.ndarray], Detections]:
    """A detector for one pass over a clip (HogTracker keeps state between calls)."""
    if config.onnx_path:
        return OnnxDetector(config)
    return HogTracker(config) if config.full_every > 1 else HogDetector(config)
