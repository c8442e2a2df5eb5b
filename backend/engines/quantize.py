"""INT8 static quantization of the exported trunk, calibrated on the clip's own crops, with a gate.

Format by CPU (backend.engines.cpu_features): ONNX Runtime's x86 kernels multiply unsigned 8-bit
activations by signed 8-bit weights (U8S8). With VNNI (avx512_vnni / avx_vnni / AMX, or arm64
dot-product) that is a single fused instruction; without it (AVX2 only) the instruction used
(vpmaddubsw) can saturate, so weights are kept to 7 bits (`reduce_range`). Weights are
quantized per output channel, activations per tensor (MinMax calibration), in QDQ form (ONNX
Runtime fuses each DequantizeLinear -> Conv -> QuantizeLinear into an integer convolution).

The gate (`Int8Gate`) compares INT8 features with fp32 features on held-out crops of the same
clip, twice: the smallest per-crop cosine similarity must reach COSINE_BOUND, and, when the caller
passes `pose_of` (the loaded temporal model + regressor, backend.engines.factory), the pose the
INT8 features lead to must stay within POSE_BOUND_DEG of the fp32 pose (`pose_degrees`: per crop
the worst joint's geodesic rotation angle, averaged over the held-out crops). Else the run stays
fp32. The held-out crops are every third crop of the run's first ones, not consecutive frames:
`pose_of` sees them as one short pseudo-track, so the temporal model mixes neighbouring crops the
same way for both precisions and the difference measures how the feature error propagates to the
rotations, not the pose of any real frame (docs/performance.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from backend.engines.cpu_features import CpuFeatures
from backend.engines.export_cache import EXPORT_SETTINGS

COSINE_BOUND = 0.999
POSE_BOUND_DEG = 1.0  # mean over held-out crops of the worst joint's rotation difference, degrees
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


def pose_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame worst-joint rotation difference of rotation matrices a, b (N,J,3,3) -> (N,) degrees.

    The geodesic angle of a^T b per joint, as 2 asin(|a - b|_F / (2 sqrt 2)) (equal to
    acos((trace(a^T b) - 1) / 2) for rotations, and accurate for small angles), then the max over J.
    """
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a64.shape != b64.shape or a64.ndim != 4 or a64.shape[-2:] != (3, 3):
        raise ValueError(f"rotation matrices must both be (N,J,3,3), got {a64.shape} and {b64.shape}")
    frob = np.linalg.norm((a64 - b64).reshape(*a64.shape[:2], 9), axis=-1)  # (N,J)
    angle = 2.0 * np.arcsin(np.clip(frob / (2.0 * np.sqrt(2.0)), 0.0, 1.0))
    return np.degrees(angle).max(axis=1)


@dataclass(frozen=True)
class GateResult:
    """The gate's measurements on the held-out crops (degrees: nan when the pose was not checked)."""

    passed: bool
    min_cosine: float
    mean_cosine: float
    held_out: int
    reason: str = ""
    max_degrees: float = float("nan")  # worst held-out crop's worst joint
    mean_degrees: float = float("nan")  # worst joint per crop, mean over the held-out crops

    def summary(self) -> str:
        """The measured differences in words (for the log, the warning and describe())."""
        text = f"cosine to fp32 min {self.min_cosine:.5f}, mean {self.mean_cosine:.5f}"
        if self.mean_degrees == self.mean_degrees:  # not nan
            text += f"; pose {self.mean_degrees:.3f} deg (worst joint, mean), max {self.max_degrees:.3f} deg"
        return f"{text} on {self.held_out} held-out crops"


class Int8Gate:
    """Collects the first crops of a run (computed in fp32 meanwhile), then quantizes and gates.

    __call__(crops) -> features: fp32 until `calibrate + held_out` crops were seen; then the INT8
    model is built from every crop but each third (those are held out), compared with the fp32
    features already computed for the held-out crops, and used for the rest of the run when the
    smallest cosine reaches `bound` and, with `pose_of` (features (N,2048) -> rotation matrices
    (N,J,3,3), the held-out crops as one pseudo-track), `pose_degrees` averaged over the held-out
    crops stays within `pose_bound` degrees. `warn(code, message, hint)` gets INT8_FALLBACK otherwise.
    """

    name = "onnxruntime"

    def __init__(self, fp32_engine, build_int8: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]],
                 warn: Callable[[str, str, str], None], log: Callable[[str], None] = lambda _m: None,
                 calibrate: int = 32, held_out: int = 16, bound: float = COSINE_BOUND,
                 pose_of: Callable[[np.ndarray], np.ndarray] | None = None,
                 pose_bound: float = POSE_BOUND_DEG) -> None:
        self.fp32 = fp32_engine
        self.build_int8 = build_int8
        self.warn, self.log = warn, log
        self.needed = calibrate + held_out
        self.bound = bound
        self.pose_of, self.pose_bound = pose_of, pose_bound
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
            self.result = self.measure(got, feats[held])
            if self.result.passed:
                self.int8 = int8
        r = self.result
        if r.passed:
            self.log(f"INT8 gate passed in {time.perf_counter() - t0:.1f} s: {r.summary()} (bounds: cosine "
                     f">= {self.bound}, pose <= {self.pose_bound} deg)")
            return
        self.warn("INT8_FALLBACK", f"INT8 features were not accurate enough: {r.reason}; continuing in fp32",
                  "Nothing to do: fp32 gives the reference result. --precision fp32 skips the INT8 attempt.")

    def measure(self, int8_feats: np.ndarray, fp32_feats: np.ndarray) -> GateResult:
        """Both criteria on the held-out crops' features (N,2048) -> GateResult (reason: what failed)."""
        cos = cosines(int8_feats, fp32_feats)
        n = len(fp32_feats)
        failed = []
        if not cos.min() >= self.bound:
            failed.append(f"cosine to fp32 on {n} held-out crops of this clip is {cos.min():.5f} "
                          f"(mean {cos.mean():.5f}), below the bound {self.bound}")
        result = GateResult(True, float(cos.min()), float(cos.mean()), n)
        if self.pose_of is not None:
            try:
                deg = pose_degrees(self.pose_of(fp32_feats), self.pose_of(int8_feats))
            except Exception as exc:  # the pose check itself broke: do not trust INT8
                failed.append(f"the pose check failed ({type(exc).__name__}: {exc})")
            else:
                result = replace(result, max_degrees=float(deg.max()), mean_degrees=float(deg.mean()))
                if not deg.mean() <= self.pose_bound:
                    failed.append(f"the pose it leads to differs from fp32 by {deg.mean():.3f} degrees "
                                  f"(worst joint, mean over {n} held-out crops; max {deg.max():.3f}), above "
                                  f"the bound {self.pose_bound} degrees")
        return replace(result, passed=not failed, reason="; ".join(failed))

    def finish(self) -> None:
        """End of the run: when too few crops were seen to decide, say so in the log."""
        if self.result is None:
            self.log(f"INT8 not tried: the run had fewer than {self.needed} crops to calibrate and check on")

    def describe(self) -> str:
        r = self.result
        gate = "undecided" if r is None else f"{'passed' if r.passed else 'failed'}, {r.summary()}"
        return f"onnxruntime {self.precision} (INT8 gate: {gate})"
