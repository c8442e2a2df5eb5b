"""The crop equals the official demo's (docs/tcmr_facts.md, Crops): getAffineTransform from three
point pairs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from backend.crops import CROP_SIZE, IMAGENET_MEAN, IMAGENET_STD, crop_batch, crop_bgr, crop_matrix, normalize


def official_matrix(cx, cy, w, h, scale=1.2, size=224):
    """The official construction: centre, centre+(0, 0.6h), centre+(0.6w, 0) -> crop points."""
    bw, bh = w * scale, h * scale
    src = np.array([[cx, cy], [cx, cy + bh * 0.5], [cx + bw * 0.5, cy]], dtype=np.float32)
    dst = np.array([[size / 2, size / 2], [size / 2, size], [size, size / 2]], dtype=np.float32)
    return cv2.getAffineTransform(src, dst)


BOXES = [(100.0, 80.0, 150.0, 150.0), (406.3, 359.7, 211.9, 211.9), (5.0, 700.0, 90.0, 90.0),
         (640.5, 10.25, 333.0, 333.0)]


@pytest.mark.parametrize("box", BOXES)
def test_analytic_matrix_equals_get_affine_transform(box):
    ours = crop_matrix(np.array(box))
    official = official_matrix(*box)
    # float32 input points: the official matrix carries their rounding (~1e-7 relative)
    assert np.allclose(ours, official, rtol=1e-5, atol=2e-4)


@pytest.mark.parametrize("box", BOXES)
def test_crop_equals_the_official_crop(box):
    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(0, 256, size=(720, 812, 3), dtype=np.uint8), (5, 5), 0)
    frame[::37] = 255  # some sharp edges
    ours = crop_bgr(frame, np.array(box))
    official = cv2.warpAffine(frame, official_matrix(*box), (224, 224), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
    diff = np.abs(ours.astype(int) - official.astype(int))
    # the two matrices differ only by float32 rounding of the point pairs: at most one grey level
    assert diff.max() <= 1
    assert (diff > 0).mean() < 0.01


def test_crop_samples_the_right_pixels_and_black_outside():
    """A linear ramp image: bilinear sampling of it is exact, so each crop pixel tells where it came from."""
    h, w = 300, 400
    ys, xs = np.mgrid[0:h, 0:w]
    frame = np.zeros((h, w, 3), dtype=np.uint8)
    frame[..., 0] = (xs * 0.5).astype(np.uint8)  # B channel: x / 2
    frame[..., 1] = (ys * 0.5).astype(np.uint8)  # G channel: y / 2
    frame[..., 2] = 255
    box = np.array([200.0, 150.0, 100.0, 100.0])  # crop spans 120 px: x in [140, 260]
    crop = crop_bgr(frame, box)
    px_per_crop = 120.0 / CROP_SIZE
    for j, i in [(112, 112), (0, 0), (223, 223), (50, 170)]:
        x = 200.0 + (j - 112) * px_per_crop
        y = 150.0 + (i - 112) * px_per_crop
        assert abs(int(crop[i, j, 0]) - x * 0.5) <= 1.0
        assert abs(int(crop[i, j, 1]) - y * 0.5) <= 1.0
    # a box hanging over the left edge: the part outside the image is black
    crop = crop_bgr(frame, np.array([10.0, 150.0, 100.0, 100.0]))
    assert np.all(crop[:, :40] == 0)
    assert np.all(crop[:, 120:, 2] == 255)


def test_normalize_is_rgb_imagenet_chw():
    bgr = np.zeros((2, 224, 224, 3), dtype=np.uint8)
    bgr[0, ..., 0] = 255  # pure blue
    bgr[1, ..., 2] = 51  # dark red
    x = normalize(bgr)
    assert x.shape == (2, 3, 224, 224) and x.dtype == np.float32
    expect0 = (np.array([0.0, 0.0, 1.0]) - IMAGENET_MEAN) / IMAGENET_STD  # R, G, B
    expect1 = (np.array([0.2, 0.0, 0.0]) - IMAGENET_MEAN) / IMAGENET_STD
    assert np.allclose(x[0, :, 5, 7], expect0, atol=1e-6)
    assert np.allclose(x[1, :, 100, 3], expect1, atol=1e-6)


def test_normalize_gives_the_formulas_float32_bits_for_every_level():
    """The table look-up equals (x/255 - mean)/std computed in float32 on whole arrays, for all
    256 levels in every channel and for a non-square crop."""
    rng = np.random.default_rng(5)
    bgr = rng.integers(0, 256, size=(3, 224, 224, 3), dtype=np.uint8)
    bgr[0, :16, :16] = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)  # every level, every channel
    odd = rng.integers(0, 256, size=(1, 40, 30, 3), dtype=np.uint8)
    for crops in (bgr, odd):
        rgb = crops[..., ::-1].astype(np.float32) / np.float32(255.0)
        formula = ((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(0, 3, 1, 2)
        got = normalize(crops)
        assert got.shape == formula.shape and got.dtype == np.float32 and got.flags.c_contiguous
        assert np.array_equal(got, formula)


def test_normalize_refuses_what_is_not_uint8_bgr():
    with pytest.raises(ValueError, match="uint8"):
        normalize(np.zeros((1, 224, 224, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="uint8"):
        normalize(np.zeros((224, 224, 3), dtype=np.uint8))


def test_crop_batch_matches_single_crops():
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    boxes = np.array([[50.0, 60.0, 80.0, 80.0], [100.0, 40.0, 30.0, 30.0]])
    batch = crop_batch(frame, boxes)
    assert batch.shape == (2, 3, 224, 224)
    for k in range(2):
        assert np.array_equal(batch[k], normalize(crop_bgr(frame, boxes[k])[None])[0])
