"""The official demo crop (docs/tcmr_facts.md, Crops): a person box -> a normalised 224x224 crop.

Box convention: square [cx, cy, w, h] in pixels BEFORE the x1.2 margin (a Track's boxes). The
crop covers 1.2*w x 1.2*h around the centre, with no rotation or flip, and is resampled with
`cv2.warpAffine` (INTER_LINEAR, black border) through the analytic form of the matrix that the
official code builds with `cv2.getAffineTransform` from three point pairs (same result).
Then BGR -> RGB, /255 and ImageNet mean/std, float32 CHW.
"""

from __future__ import annotations

import cv2
import numpy as np

CROP_SIZE = 224
BOX_SCALE = 1.2  # official bbox_scale: the crop covers the box side x 1.2
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def crop_matrix(box: np.ndarray, scale: float = BOX_SCALE, size: int = CROP_SIZE) -> np.ndarray:
    """box [cx, cy, w, h] (pixels, before the margin) -> (2,3) float64 affine image -> crop.

    M = [[size/(scale*w), 0, size/2 - cx*size/(scale*w)], [0, size/(scale*h), size/2 - cy*size/(scale*h)]]
    """
    cx, cy, w, h = (float(v) for v in box)
    if not (w > 0 and h > 0):
        raise ValueError(f"box size must be positive, got w={w}, h={h}")
    sx = size / (scale * w)
    sy = size / (scale * h)
    half = size / 2.0
    return np.array([[sx, 0.0, half - cx * sx], [0.0, sy, half - cy * sy]], dtype=np.float64)


def crop_bgr(frame_bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
    """frame (H,W,3) uint8 BGR, box [cx,cy,w,h] -> (224,224,3) uint8 BGR crop, black outside the frame."""
    return cv2.warpAffine(frame_bgr, crop_matrix(box), (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def normalize(crops_bgr: np.ndarray) -> np.ndarray:
    """(B,224,224,3) uint8 BGR -> (B,3,224,224) float32 RGB, /255, ImageNet mean/std."""
    rgb = crops_bgr[..., ::-1].astype(np.float32) / np.float32(255.0)  # (B, 224, 224, 3)
    rgb = (rgb - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(rgb.transpose(0, 3, 1, 2), dtype=np.float32)


def crop_batch(frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """One frame, boxes (B,4) [cx,cy,w,h] -> (B,3,224,224) float32 network input."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return normalize(np.stack([crop_bgr(frame_bgr, b) for b in boxes]))
