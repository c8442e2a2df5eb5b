"""The INT8 gate: calibrate on the first crops, compare with fp32 on held-out ones, fall back."""

from __future__ import annotations

import numpy as np
import pytest

from backend.engines.quantize import Int8Gate, cosines

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


def _gate(build, warnings):
    return Int8Gate(fp32, build, lambda *w: warnings.append(w), calibrate=8, held_out=4, bound=0.999)


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
