"""The INT8 gate: calibrate on the first crops, compare with fp32 on held-out ones (feature cosine
and the pose the features lead to, in degrees), fall back."""

from __future__ import annotations

import numpy as np
import pytest

from backend.engines.quantize import POSE_BOUND_DEG, Int8Gate, cosines, pose_degrees

W = np.random.default_rng(0).normal(size=(3 * 4 * 4, 16)).astype(np.float32)


def fp32(crops, batching=None):  # a stand-in network (the engine interface): crops (B,3,4,4) -> (B,16)
    return np.maximum(crops.reshape(len(crops), -1) @ W, 0) + 0.1


def noisy(scale):
    def build(calibration):
        build.calibrated = len(calibration)

        def int8(crops):
            rng = np.random.default_rng(len(crops))
            out = fp32(crops)
            return out + scale * np.abs(out).mean() * rng.normal(size=out.shape).astype(np.float32)
        return int8
    return build


def _crops(n, seed):
    return np.random.default_rng(seed).normal(size=(n, 3, 4, 4)).astype(np.float32)


def _gate(build, warnings, **kw):
    return Int8Gate(fp32, build, lambda *w: warnings.append(w), calibrate=8, held_out=4, bound=0.999, **kw)


def _rz(angle_rad):
    """(..., ) angles -> (..., 3, 3) rotations about z."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    out = np.zeros((*np.shape(angle_rad), 3, 3))
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 0], out[..., 1, 1], out[..., 2, 2] = c, -s, s, c, 1.0
    return out


GAIN_DEG = 100.0  # the fake pose: joint j turns about z by GAIN_DEG * feature j degrees


def fake_pose(features):  # features (N,16) -> (N,16,3,3): a pose that moves a lot for small feature changes
    return _rz(np.radians(GAIN_DEG * features.astype(np.float64)))


def shifted(delta):
    """An 'INT8' engine off by `delta` in feature 0 only: cosine stays near 1, joint 0 turns by
    GAIN_DEG * delta degrees in every crop (truth by construction)."""
    def build(calibration):
        def int8(crops):
            out = fp32(crops).copy()
            out[:, 0] += delta
            return out
        return int8
    return build


def test_a_failing_gate_stays_fp32_and_warns_with_the_measured_cosine():
    warnings = []
    build = noisy(0.5)
    gate = _gate(build, warnings)
    first = _crops(12, 1)
    assert np.array_equal(gate(first), fp32(first))  # fp32 while collecting
    assert gate.result is not None and not gate.result.passed and build.calibrated == 8
    later = _crops(5, 2)
    assert np.array_equal(gate(later), fp32(later)) and gate.precision == "fp32"
    [(code, message, hint)] = warnings
    assert code == "INT8_FALLBACK" and f"{gate.result.min_cosine:.5f}" in message and hint
    assert gate.result.min_cosine < 0.999


def test_a_passing_gate_switches_to_int8():
    warnings = []
    gate = _gate(noisy(1e-4), warnings)
    gate(_crops(6, 1))
    assert gate.result is None  # not enough crops yet
    gate(_crops(6, 3))
    assert gate.result.passed and gate.precision == "int8" and warnings == []
    later = _crops(5, 2)
    out = gate(later)
    assert not np.array_equal(out, fp32(later)) and cosines(out, fp32(later)).min() > 0.999


def test_a_quantizer_failure_is_a_fallback_not_a_crash():
    warnings = []

    def broken(calibration):
        raise RuntimeError("no quantization kernels")

    gate = _gate(broken, warnings)
    crops = _crops(12, 1)
    assert np.array_equal(gate(crops), fp32(crops))
    assert warnings[0][0] == "INT8_FALLBACK" and "no quantization kernels" in warnings[0][1]


def test_real_static_quantization_of_a_small_network(tmp_path):
    """quantize_model on a small conv net exported like the trunk: INT8 close to fp32 (cosine)."""
    pytest.importorskip("onnxruntime")
    import torch

    from backend.engines.cpu_features import detect
    from backend.engines.export_cache import export_trunk
    from backend.engines.onnx_engine import OnnxFeatureEngine
    from backend.engines.quantize import choose_settings, quantize_model

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 7, stride=4), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                              torch.nn.Conv2d(16, 32, 3, stride=2), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    export_trunk(net, tmp_path / "net.onnx")
    crops = np.random.default_rng(0).uniform(-2, 2.5, size=(24, 3, 224, 224)).astype(np.float32)
    ref = OnnxFeatureEngine(tmp_path / "net.onnx")(crops[16:])
    int8 = OnnxFeatureEngine(quantize_model(tmp_path / "net.onnx", crops[:16], tmp_path / "q.onnx",
                                            choose_settings(detect())), precision="int8")
    got = int8(crops[16:])
    assert got.shape == (8, 32) and not np.array_equal(got, ref)
    assert cosines(got, ref).min() > 0.99
    with torch.no_grad():
        assert np.allclose(ref, net(torch.from_numpy(crops[16:])).numpy(), rtol=1e-4, atol=1e-5)


def test_pose_degrees_is_the_rotation_angle_of_the_worst_joint():
    a = _rz(np.radians(np.array([[10.0, 20.0, 30.0], [0.0, 0.0, 0.0]])))
    b = _rz(np.radians(np.array([[10.5, 20.0, 27.0], [0.0, 179.0, 0.0]])))
    assert np.allclose(pose_degrees(a, b), [3.0, 179.0])
    tiny = _rz(np.radians(np.array([[1e-3]])))
    assert np.allclose(pose_degrees(_rz(np.zeros((1, 1))), tiny), [1e-3], rtol=1e-6)  # accurate when small
    with pytest.raises(ValueError):
        pose_degrees(a, b[:, :2])


def test_a_gate_whose_pose_moves_falls_back_with_the_degrees_in_the_message():
    warnings = []
    gate = _gate(shifted(0.03), warnings, pose_of=fake_pose)  # 3 degrees on joint 0
    crops = _crops(12, 1)
    assert np.array_equal(gate(crops), fp32(crops))
    r = gate.result
    assert r.min_cosine > 0.999  # the cosine alone would have passed
    assert not r.passed and gate.precision == "fp32"
    assert np.isclose(r.mean_degrees, 3.0, atol=1e-3) and np.isclose(r.max_degrees, 3.0, atol=1e-3)
    [(code, message, _hint)] = warnings
    assert code == "INT8_FALLBACK" and "3.000 degrees" in message and f"{POSE_BOUND_DEG}" in message
    assert "cosine to fp32" not in message  # only the criterion that failed is named
    assert "3.000 deg" in gate.describe()


def test_a_gate_whose_pose_stays_within_the_bound_goes_int8():
    warnings = []
    gate = _gate(shifted(0.003), warnings, pose_of=fake_pose)  # 0.3 degrees
    gate(_crops(12, 1))
    r = gate.result
    assert r.passed and gate.precision == "int8" and warnings == []
    assert np.isclose(r.mean_degrees, 0.3, atol=1e-3) and r.held_out == 4
    later = _crops(3, 2)
    assert np.allclose(gate(later)[:, 0], fp32(later)[:, 0] + 0.003)


def test_the_pose_bound_is_the_gates_and_the_configs():
    from backend.engines import EngineConfig
    from backend.engines.quantize import COSINE_BOUND

    config = EngineConfig()
    assert (config.int8_bound, config.int8_pose_bound) == (COSINE_BOUND, POSE_BOUND_DEG)
    warnings = []
    gate = _gate(shifted(0.003), warnings, pose_of=fake_pose, pose_bound=0.2)  # a stricter bound
    gate(_crops(12, 1))
    assert not gate.result.passed and "0.300 degrees" in warnings[0][1]


def test_a_broken_pose_check_is_a_fallback():
    warnings = []

    def broken(features):
        raise RuntimeError("regressor exploded")

    gate = _gate(shifted(0.0), warnings, pose_of=broken)
    gate(_crops(12, 1))
    assert gate.precision == "fp32" and "regressor exploded" in warnings[0][1]
