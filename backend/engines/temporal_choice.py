"""Which engine runs the temporal stage (TCMR encoder + regressor), and attaching it to the models.

    models = with_temporal_engine(models, EngineConfig(engine="auto"), reporter)
    backend.models.inference.regress_track(models, ...)   # uses models.temporal when set

The rules (`plan_temporal`, pure): auto on the CPU with onnxruntime, TCMR loaded and at least
AUTO_MIN_FRAMES person-frames to regress -> ONNX Runtime (backend.engines.temporal_onnx); fewer ->
torch, because preparing the engine (~1.8 s: hashing ~330 MB of weights and the file, opening the
session) costs more than it saves (~2.3 ms per frame, 1.23x; docs/performance.md); torch -> the
torch path exactly as before (models.temporal None);
CUDA/MPS -> torch (cuDNN/Metal GRUs); VIBE -> torch (its GRU is small); onnxruntime asked for
without onnxruntime -> BackendError ENGINE_UNAVAILABLE. An export or verification failure under
auto falls back to torch with the warning ONNX_ENGINE_FALLBACK; under onnxruntime it is an error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from backend.engines import EngineConfig, check_choice, refuse_missing_onnxruntime

AUTO_MIN_FRAMES = 800  # break-even measured 2026-12-02 on 2 AVX2 cores: 1.8 s / 2.3 ms per frame


def plan_temporal(engine: str, device_type: str, ort_available: bool, model_name: str,
                  frames: int | None = None) -> str:
    """'onnxruntime' or 'torch' for the temporal stage of `frames` person-frames (None: unknown).
    Raises BackendError (see the module doc)."""
    check_choice(engine, "fp32")
    if engine == "torch" or device_type != "cpu" or model_name != "tcmr":
        return "torch"
    if engine == "auto" and frames is not None and frames < AUTO_MIN_FRAMES:
        return "torch"
    if not ort_available:
        refuse_missing_onnxruntime(engine)
        return "torch"
    return "onnxruntime"


def with_temporal_engine(models, config: EngineConfig | None = None, reporter=None,
                         frames: int | None = None):
    """models with `temporal` set to the planned engine (None: torch) for `frames` person-frames.
    Never changes the numbers by more than the export check's bound (onnx_engine.VERIFY_BOUND)."""
    from backend.engines.onnx_engine import import_onnxruntime, open_or_fall_back

    config = config or EngineConfig()
    plan = plan_temporal(config.engine, models.device.type, import_onnxruntime() is not None,
                         getattr(models, "model_name", "tcmr"), frames)
    if plan == "torch" or models.tcmr is None:
        return dataclasses.replace(models, temporal=None)
    from backend.engines.temporal_onnx import open_temporal_engine

    log = reporter.log if reporter is not None else (lambda _m: None)
    warn = reporter.warning if reporter is not None else (lambda *_a: None)
    folder = Path(config.cache_dir) / "onnx" if config.cache_dir else None
    engine = open_or_fall_back(lambda: open_temporal_engine(models.tcmr, log, folder=folder), config.engine,
                               warn, "temporal engine", "the temporal stage")
    if engine is not None:
        log(f"temporal: {engine.describe()}")
    return dataclasses.replace(models, temporal=engine)
