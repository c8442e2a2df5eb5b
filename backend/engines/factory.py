"""make_feature_engine's body: plan, report the plan's notes, build the engine, fall back safely."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

from backend.engines import EngineConfig, EnginePlan, plan_engine
from backend.engines.cpu_features import detect
from backend.engines.malloc_tuning import tune_malloc
from backend.engines.onnx_engine import (
    OnnxFeatureEngine,
    import_onnxruntime,
    open_onnx_engine,
    open_or_fall_back,
)
from backend.engines.quantize import Int8Gate, choose_settings, quantize_model
from backend.engines.torch_engine import TorchFeatureEngine


class _NullReporter:
    def warning(self, code: str, message: str, hint: str = "") -> None:
        pass

    def log(self, message: str) -> None:
        pass


def _gpu_bf16(device_type: str) -> bool:
    import torch

    if device_type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return device_type == "mps"


def _plan(models, config: EngineConfig) -> EnginePlan:
    device_type = models.device.type
    cpu = detect()
    return plan_engine(config.engine, config.precision, device_type, import_onnxruntime() is not None,
                       cpu.bf16, cpu.bf16_reason(), _gpu_bf16(device_type) if device_type != "cpu" else False)


def pose_function(models):
    """The INT8 gate's `pose_of`: features (N,2048) -> rotation matrices (N,24,3,3) through the loaded
    temporal model + regressor (backend.models.inference.regress_track, the pipeline's call, TCMR or
    VIBE), the N held-out crops taken as one pseudo-track. None without a temporal model."""
    if getattr(models, "tcmr", None) is None and getattr(models, "vibe", None) is None:
        return None
    from backend.models.inference import regress_track

    def pose_of(features):
        return regress_track(models, features)["rotmat"]

    return pose_of


def _int8(models, fp32: OnnxFeatureEngine, config: EngineConfig, reporter) -> Int8Gate:
    settings = choose_settings(detect())
    workdir = Path(tempfile.mkdtemp(prefix="tcmr-int8-"))

    def build_int8(calibration):
        path = quantize_model(fp32.path, calibration, workdir / "trunk_int8.onnx", settings)
        return OnnxFeatureEngine(path, precision="int8", device=models.device.type)

    gate = Int8Gate(fp32, build_int8, reporter.warning, reporter.log, calibrate=config.int8_calibrate,
                    held_out=config.int8_held_out, bound=config.int8_bound, pose_of=pose_function(models),
                    pose_bound=config.int8_pose_bound)
    weakref.finalize(gate, shutil.rmtree, workdir, True)
    reporter.log(f"INT8: {settings.describe()}, calibrated on this clip's first crops, then gated")
    return gate


def build(models, config: EngineConfig, reporter=None):
    """See backend.engines.make_feature_engine."""
    reporter = reporter or _NullReporter()
    if models.backbone is None:
        raise RuntimeError("these models were loaded with backbone=False")
    if models.device.type == "cpu":
        reporter.log(tune_malloc()[1])
    plan = _plan(models, config)
    for note in plan.notes:
        if note.kind == "warning":
            reporter.warning(note.code, note.message, note.hint)
        else:
            reporter.log(note.message)
    engine = None
    if plan.engine == "onnxruntime":
        folder = Path(config.cache_dir) / "onnx" if config.cache_dir else None
        engine = open_or_fall_back(lambda: open_onnx_engine(models, reporter.log, device=models.device.type,
                                                            folder=folder),
                                   config.engine, reporter.warning, "engine", "the backbone")
        if engine is None:
            plan = EnginePlan("torch", "fp32", True)
        elif plan.precision == "int8":
            engine = _int8(models, engine, config, reporter)
    if engine is None:
        engine = TorchFeatureEngine(models, plan.precision, plan.channels_last)
    reporter.log(f"features: {engine.describe()}")
    return engine
