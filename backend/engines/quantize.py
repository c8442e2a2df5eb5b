"""INT8 static quantization of the exported trunk, calibrated on the clip's own crops, with a gate.

Format by CPU (backend.engines.cpu_features): ONNX Runtime's x86 kernels multiply unsigned 8-bit
activations by signed 8-bit weights (U8S8). With VNNI (avx512_vnni / avx_vnni / AMX, or arm64
dot-product) that is a single fused instruction; without it (AVX2 only) the instruction used
(vpmaddubsw) can saturate, so weights are kept to 7 bits (`reduce_range`). Weights are
quantized per output channel, activations per tensor (MinMax calibration), in QDQ form (ONNX
Runtime fuses each DequantizeLinear -> Conv -> QuantizeLinear into an integer convolution).

The gate (`Int8Gate`) compares INT8 features with fp32 features on held-out crops of the same
clip: the smallest per-crop cosine similarity must reach the bound, else the run stays fp32.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.engines.cpu_features import CpuFeatures
from backend.engines.export_cache import EXPORT_SETTINGS

COSINE_BOUND = 0.999
CALIBRATION_BATCH = 8


@dataclass(frozen=True)
class QuantSettings:
    """quant_format: "QDQ" | "QOperator"; activation/weight: "uint8" | "int8"."""

    quant_format: str = "QDQ"
    activation: str = "uint8"
    weight: str = "int8"
    reduce_range: bool = False
    per_channel: bool = True

    def describe(self) -> str:
        bits = "7-bit weights" if self.reduce_range else "8-bit weights"
        return f"{self.quant_format} {self.activation}x{self.weight} per-channel, {bits}"


def choose_settings(cpu: CpuFeatures) -> QuantSettings:
    """U8S8 QDQ per-channel; reduce_range on CPUs without VNNI (see module docstring)."""
    return QuantSettings(reduce_range=not cpu.vnni)


def quantize_model(fp32_path: Path, calibration: np.ndarray, out_path: Path, settings: QuantSettings) -> Path:
    """Static INT8 model of fp32_path calibrated on `calibration` (N,3,224,224) float32 -> out_path."""
    from onnxruntime import quantization as q

    class _Reader(q.CalibrationDataReader):  # batches of CALIBRATION_BATCH: fewer, larger runs
        def __init__(self) -> None:
            self._starts = iter(range(0, len(calibration), CALIBRATION_BATCH))

        def get_next(self):
            i = next(self._starts, None)
            return None if i is None else {EXPORT_SETTINGS["input"]: calibration[i:i + CALIBRATION_BATCH]}

    types = {"uint8": q.QuantType.QUInt8, "int8": q.QuantType.QInt8}
    q.quantize_static(str(fp32_path), str(out_path), _Reader(),
                      quant_format=getattr(q.QuantFormat, settings.quant_format),
                      per_channel=settings.per_channel, reduce_range=settings.reduce_range,
                      activation_type=types[settings.activation], weight_type=types[settings.weight],
                      calibrate_method=q.CalibrationMethod.MinMax)
    return out_path


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row cosine similarity of (N,D) arrays -> (N,) float64."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    denom = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return (a64 * b64).sum(axis=1) / np.maximum(denom, 1e-30)


@dataclass
class GateResult:
    passed: bool
    min_cosine: float
    mean_cosine: float
    held_out: int
    reason: str = ""


class Int8Gate:
    """Collects the first crops of a run (computed in fp32 meanwhile), then quantizes and gates.

    __call__(crops) -> features: fp32 until `calibrate + held_out` crops were seen; then the INT8
    model is built from every crop but each third (those are held out), compared with the fp32
    features already computed for the held-out crops, and used for the rest of the run when the
    smallest cosine reaches `bound`. `warn(code, message, hint)` gets INT8_FALLBACK otherwise.
    """

    name = "onnxruntime"

    def __init__(self, fp32_engine, build_int8: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]],
                 warn: Callable[[str, str, str], None], log: Callable[[str], None] = lambda _m: None,
                 calibrate: int = 32, held_out: int = 16, bound: float = COSINE_BOUND) -> None:
        self.fp32 = fp32_engine
        self.build_int8 = build_int8
        self.warn, self.log = warn, log
        self.needed = calibrate + held_out
        self.bound = bound
        self.int8: Callable[[np.ndarray], np.ndarray] | None = None
        self.result: GateResult | None = None
        self._crops: list[np.ndarray] = []
        self._feats: list[np.ndarray] = []

    @property
    def precision(self) -> str:
        return "int8" if self.int8 is not None else "fp32"

    def __call__(self, crops: np.ndarray, batching=None) -> np.ndarray:
        if self.int8 is not None:
            return self.int8(crops)
        feats = self.fp32(crops, batching)
        if self.result is None:
            self._crops.append(np.array(crops, dtype=np.float32, copy=True))
            self._feats.append(feats)
            if sum(len(c) for c in self._crops) >= self.needed:
                self._decide()
        return feats

    def _decide(self) -> None:
        crops, feats = np.concatenate(self._crops), np.concatenate(self._feats)
        self._crops, self._feats = [], []
        held = np.arange(len(crops)) % 3 == 2
        t0 = time.perf_counter()
        try:
            int8 = self.build_int8(crops[~held])
            got = np.concatenate([int8(crops[held][i:i + 8]) for i in range(0, int(held.sum()), 8)])
        except Exception as exc:  # quantization tooling failed: the run goes on in fp32
            self.result = GateResult(False, float("nan"), float("nan"), int(held.sum()),
                                     f"quantization failed ({type(exc).__name__}: {exc})")
        else:
            cos = cosines(got, feats[held])
            self.result = GateResult(bool(cos.min() >= self.bound), float(cos.min()), float(cos.mean()),
                                     int(held.sum()))
            if self.result.passed:
                self.int8 = int8
        r = self.result
        if r.passed:
            self.log(f"INT8 gate passed in {time.perf_counter() - t0:.1f} s: cosine to fp32 on {r.held_out} "
                     f"held-out crops min {r.min_cosine:.5f}, mean {r.mean_cosine:.5f} (bound {self.bound})")
            return
        detail = r.reason or (f"cosine to fp32 on {r.held_out} held-out crops of this clip is "
                              f"{r.min_cosine:.5f} (mean {r.mean_cosine:.5f}), below the bound {self.bound}")
        self.warn("INT8_FALLBACK", f"INT8 features were not accurate enough: {detail}; continuing in fp32",
                  "Nothing to do: fp32 gives the reference result. --precision fp32 skips the INT8 attempt.")

    def finish(self) -> None:
        """End of the run: when too few crops were seen to decide, say so in the log."""
        if self.result is None:
            self.log(f"INT8 not tried: the run had fewer than {self.needed} crops to calibrate and check on")

    def describe(self) -> str:
        r = self.result
        gate = ("undecided" if r is None else f"{'passed' if r.passed else 'failed'}, min cosine "
                f"{r.min_cosine:.5f} on {r.held_out} held-out crops")
        return f"onnxruntime {self.precision} (INT8 gate: {gate})"
