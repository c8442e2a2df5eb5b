"""Feature engines: one interface for the ResNet-50 backbone, whatever runs it.

    engine = make_feature_engine(models, EngineConfig(engine="auto", precision="fp32"), reporter)
    features = engine(crops)   # (B,3,224,224) float32 ImageNet-normalised -> (B,2048) float32 numpy
    engine.name, engine.precision, engine.describe()

engine:    auto | torch | onnxruntime
precision: fp32 | bf16 | int8 (fp32 is the default and the reference)

`plan_engine` (pure, no torch) decides what runs from the request, the device and what the
machine offers; every change of plan is a note that `make_feature_engine` reports as a warning
(or a log line). The rules (docs/performance.md explains them):

* auto on CPU: ONNX Runtime fp32 (the cached, torch-verified export) when onnxruntime imports,
  else torch with channels_last (warning ONNXRUNTIME_MISSING); auto on CUDA/MPS: torch,
  channels_last.
* torch: the reference path, exactly as `backend.models.inference.extract_features` runs it.
* onnxruntime without onnxruntime installed: BackendError ENGINE_UNAVAILABLE.
* bf16: torch autocast, only where the CPU has native bf16 (backend.engines.cpu_features) or on
  a CUDA GPU that supports it; otherwise warning BF16_UNAVAILABLE (with the reason) and fp32.
* int8: ONNX Runtime static INT8, calibrated on the clip's first crops and gated against fp32
  (backend.engines.quantize.Int8Gate: feature cosine and the pose the features lead to, warning
  INT8_FALLBACK); CPU only (else INT8_UNAVAILABLE).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ENGINES = ("auto", "torch", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "int8")


@dataclass(frozen=True)
class EngineConfig:
    """What the user asked for; int8_* tune the INT8 gate (crops of the clip, cosine bound, pose
    bound in degrees: the defaults are quantize.COSINE_BOUND and quantize.POSE_BOUND_DEG)."""

    engine: str = "auto"
    precision: str = "fp32"
    int8_calibrate: int = 32
    int8_held_out: int = 16
    int8_bound: float = 0.999
    int8_pose_bound: float = 1.0
    cache_dir: str | None = None  # ONNX export cache; None: $TCMR_CACHE_DIR or the per-user cache


@dataclass(frozen=True)
class Note:
    kind: str  # "warning" | "log"
    code: str
    message: str
    hint: str = ""


@dataclass(frozen=True)
class EnginePlan:
    """engine: torch | onnxruntime; channels_last None: the models' own setting (today's path)."""

    engine: str
    precision: str
    channels_last: bool | None = None
    notes: tuple[Note, ...] = field(default_factory=tuple)


def check_choice(engine: str, precision: str) -> None:
    from backend.errors import BackendError, Code

    if engine not in ENGINES:
        raise BackendError(Code.BAD_ARGUMENT, f"unknown --engine '{engine}'",
                           f"Use one of {', '.join(ENGINES)}.")
    if precision not in PRECISIONS:
        raise BackendError(Code.BAD_ARGUMENT, f"unknown --precision '{precision}'",
                           f"Use one of {', '.join(PRECISIONS)}.")


def refuse_missing_onnxruntime(engine: str) -> None:
    """ENGINE_UNAVAILABLE when --engine onnxruntime was asked for (and onnxruntime is missing)."""
    from backend.errors import BackendError, Code

    if engine == "onnxruntime":
        raise BackendError(Code.ENGINE_UNAVAILABLE, "--engine onnxruntime was asked for, but onnxruntime is "
                                                    "not installed in the backend environment",
                           "pip install onnxruntime onnx (the add-on's environment setup installs them), "
                           "or use --engine torch.")


def plan_engine(engine: str, precision: str, device_type: str, ort_available: bool, cpu_bf16: bool,
                bf16_reason: str = "", gpu_bf16: bool = True) -> EnginePlan:
    """The engine that runs for a request (see the module docstring). Raises BackendError."""
    check_choice(engine, precision)
    notes: list[Note] = []
    gpu = device_type in ("cuda", "mps")
    if precision == "int8" and (gpu or engine == "torch" or not ort_available):
        why = ("INT8 is a CPU option (ONNX Runtime)" if gpu else
               "INT8 runs on ONNX Runtime, not with --engine torch" if engine == "torch" else
               "INT8 needs onnxruntime, which is not installed")
        notes.append(Note("warning", "INT8_UNAVAILABLE", f"{why}: running fp32",
                          "Use --precision fp32, or --engine auto with onnxruntime installed."))
        precision = "fp32"
    if precision == "bf16" and not (gpu_bf16 if gpu else cpu_bf16):
        why = bf16_reason if not gpu else f"this {device_type} device has no bf16 support"
        notes.append(Note("warning", "BF16_UNAVAILABLE", f"bf16 is not offered: {why}; running fp32",
                          "Use --precision fp32 (or int8 on CPU)."))
        precision = "fp32"
    if precision == "bf16":  # torch autocast: ONNX Runtime's CPU kernels have no fast bf16 path
        if engine == "onnxruntime":
            notes.append(Note("log", "", "bf16 runs on the torch engine (autocast), not ONNX Runtime"))
        return EnginePlan("torch", "bf16", True, tuple(notes))
    if engine == "torch":
        return EnginePlan("torch", "fp32", None, tuple(notes))
    if not ort_available:
        refuse_missing_onnxruntime(engine)
        if not gpu:
            notes.append(Note("warning", "ONNXRUNTIME_MISSING", "onnxruntime is not installed: the backbone "
                                                                "runs on torch (about 2x slower on CPU)",
                              "pip install onnxruntime onnx into the backend environment."))
        return EnginePlan("torch", "fp32", True, tuple(notes))
    if gpu and engine == "auto":
        return EnginePlan("torch", "fp32", True, tuple(notes))
    return EnginePlan("onnxruntime", precision, None, tuple(notes))


def make_feature_engine(models, config: EngineConfig | None = None, reporter=None):
    """The engine for `models` (backbone loaded) -> callable crops -> features; see the module doc."""
    from backend.engines.factory import build

    return build(models, config or EngineConfig(), reporter)
