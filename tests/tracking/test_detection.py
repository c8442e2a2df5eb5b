"""Detection helpers: NMS, HOG box calibration, YOLO output decoding, detector errors."""

import numpy as np
import pytest

from backend.detection import (
    HOG_MIN_PERSON_PX,
    DetectorConfig,
    HogDetector,
    OnnxDetector,
    calibrate_hog_boxes,
    decode_yolo,
    hog_scale_for,
    iou_matrix,
    letterbox_params,
    nms,
)
from backend.errors import BackendError, Code


def test_iou_of_hand_computed_boxes():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150, 0.0]])


def test_nms_keeps_the_best_of_overlapping_boxes_and_all_disjoint_ones():
    dets = np.array([[0, 0, 10, 20, 0.6], [1, 1, 11, 21, 0.9], [50, 50, 60, 70, 0.3]], np.float32)
    kept = nms(dets, 0.45)
    np.testing.assert_allclose(kept[:, 4], [0.9, 0.3])


def test_hog_windows_shrink_to_the_person_and_scale_back_to_full_resolution():
    # A 64x128 window at (10, 20) on a frame downscaled by 0.5 -> 128x256 window at full res,
    # centre (84, 168); the person is 50% as wide and 80% as tall, centred.
    boxes = calibrate_hog_boxes(np.array([[10, 20, 64, 128]]), np.array([1.7]), 0.5)
    np.testing.assert_allclose(boxes, [[84 - 32, 168 - 102.4, 84 + 32, 168 + 102.4, 1.7]], rtol=1e-6)


def test_letterbox_parameters():
    scale, pad_x, pad_y = letterbox_params(720, 1280, 640)
    assert scale == pytest.approx(0.5) and pad_x == 0 and pad_y == pytest.approx(140)


def test_yolov5_output_decodes_to_frame_pixels_person_only():
    scale, pad_x, pad_y = 0.5, 0.0, 140.0
    rows = np.zeros((200, 85))  # (N candidates, 5 + 80 classes)
    rows[0, :6] = [320, 300, 100, 200, 0.9, 0.95]  # a person
    rows[1, :5] = [100, 300, 50, 50, 0.9]
    rows[1, 6] = 0.99  # a confident non-person (class 1)
    rows[2, :6] = [500, 300, 40, 80, 0.2, 0.5]  # too weak
    dets = decode_yolo(rows[None], scale, pad_x, pad_y, 0.5, 0.45)
    np.testing.assert_allclose(dets, [[540, 120, 740, 520, 0.855]], rtol=1e-5)


def test_yolov8_output_layout_is_recognised():
    out = np.zeros((84, 200))  # (4 + 80 classes, N candidates)
    out[:5, 2] = [320, 300, 100, 200, 0.8]
    dets = decode_yolo(out[None], 0.5, 0.0, 140.0, 0.5, 0.45)
    np.testing.assert_allclose(dets, [[540, 120, 740, 520, 0.8]], rtol=1e-5)


def test_hog_detector_contract_on_an_empty_frame():
    dets = HogDetector(DetectorConfig())(np.zeros((360, 640, 3), np.uint8))
    assert dets.shape == (0, 5) and dets.dtype == np.float32


def test_missing_or_invalid_onnx_models_are_coded_errors(tmp_path):
    with pytest.raises(BackendError) as info:
        OnnxDetector(DetectorConfig(onnx_path=str(tmp_path / "yolo.onnx")))
    assert info.value.code == Code.INPUT_NOT_FOUND and "--detector" in info.value.hint
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(BackendError) as info:
        OnnxDetector(DetectorConfig(onnx_path=str(bad)))
    assert info.value.code == Code.INPUT_UNREADABLE


@pytest.mark.parametrize(("height", "width"), [(720, 812), (1080, 1920), (1920, 1080), (2160, 3840)])
def test_hog_input_is_scaled_so_the_smallest_wanted_person_fits_the_window(height, width):
    config = DetectorConfig(min_person_height=0.3)
    scale = hog_scale_for(height, width, config)
    assert 0.3 * height * scale == pytest.approx(HOG_MIN_PERSON_PX)  # portrait or landscape alike
    assert max(height, width) * scale <= config.max_side


def test_hog_scale_is_capped_for_cost_and_for_tiny_frames():
    assert hog_scale_for(2160, 3840, DetectorConfig(min_person_height=0.05)) == pytest.approx(960 / 3840)
    assert hog_scale_for(120, 160, DetectorConfig()) == pytest.approx(2.0)
    # the earlier rule, kept reachable: the longer side scaled to max_side, never enlarged
    assert hog_scale_for(1080, 1920, DetectorConfig(min_person_height=None, max_side=400)) == pytest.approx(
        400 / 1920)
    assert hog_scale_for(100, 100, DetectorConfig(min_person_height=None, max_side=400)) == 1.0


def test_hog_boxes_on_a_padded_input_come_back_in_frame_pixels(monkeypatch):
    detector = HogDetector(DetectorConfig(min_person_height=None, max_side=400, pad=0.25))
    seen = {}

    def fake_detect(image, **kwargs):
        seen["shape"] = image.shape
        return np.array([[100 + 100, 50 + 50, 64, 128]]), np.array([1.0])  # padded-input pixels

    monkeypatch.setattr(detector, "hog", type("H", (), {"detectMultiScale": staticmethod(fake_detect)})())
    dets = detector(np.zeros((200, 400, 3), np.uint8))
    assert seen["shape"][:2] == (200 + 2 * 50, 400 + 2 * 100)  # 25 % border on every side
    # window at (100, 50) in the unpadded input -> centre (132, 114); person 32 x 102.4
    np.testing.assert_allclose(dets[0, :4], [132 - 16, 114 - 51.2, 132 + 16, 114 + 51.2], rtol=1e-5)
