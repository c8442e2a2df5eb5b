"""Person detection: a frame -> person boxes.

Interface the pipeline relies on:
    detector = make_detector(DetectorConfig(...))
    dets = detector(frame_bgr)   # frame (H,W,3) uint8 BGR -> (N,5) float32 [x1,y1,x2,y2,score], pixels
The embedded default is OpenCV's HOG people detector (offline, no weights to download);
`--detector model.onnx` runs a user-supplied ONNX person detector through cv2.dnn.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectorConfig:
    onnx_path: str | None = None  # None: embedded HOG detector
    score_threshold: float = 0.5
