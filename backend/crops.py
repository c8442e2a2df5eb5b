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


def _normalisation_tables() -> list[np.ndarray]:
    """Per RGB channel, (1,256) float32: the normalised value of each uint8 level, computed with
    the same float32 operations as the formula, so a table look-up gives identical bits."""
    levels = np.arange(256, dtype=np.float32) / np.float32(255.0)
    return [np.ascontiguousarray(((levels - IMAGENET_MEAN[c]) / IMAGENET_STD[c]).reshape(1, 256),
                                 dtype=np.float32) for c in range(3)]


_TABLES = _normalisation_tables()


def normalize(crops_bgr: np.ndarray) -> np.ndarray:
    """(B,224,224,3) uint8 BGR -> (B,3,224,224) float32 RGB, /255, ImageNet mean/std.

    Bit for bit ((x/255 - mean)/std in float32), by table look-up (cv2.LUT) into each output
    plane: ~15x cheaper than the arithmetic on whole arrays."""
    crops_bgr = np.asarray(crops_bgr)
    if crops_bgr.dtype != np.uint8 or crops_bgr.ndim != 4 or crops_bgr.shape[-1] != 3:
        raise ValueError(f"crops must be (B,H,W,3) uint8, got {crops_bgr.shape} {crops_bgr.dtype}")
    out = np.empty((crops_bgr.shape[0], 3, *crops_bgr.shape[1:3]), dtype=np.float32)
    for i, crop in enumerate(crops_bgr):
        planes = cv2.split(crop)  # B, G, R
        for c in range(3):  # output channel c is RGB channel c = plane 2 - c
            cv2.LUT(planes[2 - c], _TABLES[c], dst=out[i, c])
    return out


def crop_batch(frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """One frame, boxes (B,4) [cx,cy,w,h] -> (B,3,224,224) float32 network input."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return normalize(np.stack([crop_bgr(frame_bgr, b) for b in boxes]))
