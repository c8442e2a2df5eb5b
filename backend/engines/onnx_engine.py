"""ONNX Runtime feature engine: the cached export of the loaded trunk, checked against torch.

`open_onnx_engine(models, log)` exports (or reuses) the trunk (backend.engines.export_cache),
opens it with ONNX Runtime and, before first use, compares its features with the torch fp32
reference on VERIFY_CROPS fixed crops: max |onnx - torch| / max |torch| must be <= VERIFY_BOUND.
A cached file that fails this is rebuilt once; an export that still fails raises. A passed check
is recorded next to the file and not repeated while the file and onnxruntime are unchanged.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from backend.engines.export_cache import EXPORT_SETTINGS, cached_export, record_verified, verified_record

VERIFY_BOUND = 1e-4
VERIFY_CROPS = 2


class ExportMismatch(RuntimeError):
    """The ONNX export's features differ from torch's by more than VERIFY_BOUND."""


def import_onnxruntime():
    """The onnxruntime module, or None when it is not installed (or broken)."""
    try:
        import onnxruntime
    except Exception:  # ImportError, or a binary that does not load on this machine
        return None
    return onnxruntime


def session_options(ort, threads: int | None = None):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or _threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return opts


def _threads() -> int:
    """The torch thread count (honours OMP_NUM_THREADS / torch.set_num_threads), else the CPU count."""
    try:
        import torch

        return max(1, torch.get_num_threads())
    except ImportError:
        return max(1, os.cpu_count() or 1)


def run_session(session, outputs, feed: dict) -> list:
    """session.run, with ONNX Runtime's allocation failures raised as MemoryError (the pipeline's
    out-of-memory handling shrinks the batch on those)."""
    try:
        return session.run(outputs, feed)
    except Exception as exc:  # onnxruntime's own exception types
        if "alloc" in str(exc).lower():
            raise MemoryError(f"onnxruntime: {exc}") from exc
        raise


def open_verified(export: Callable[[bool], Path], load: Callable[[Path], object],
                  difference: Callable[[object], tuple[float, str]], what: str,
                  log: Callable[[str], None]):
    """An engine from an export that matches torch within VERIFY_BOUND: export(rebuild) -> path,
    load(path) -> engine, difference(engine) -> (relative difference, where). An unloadable or
    differing file is rebuilt once; still differing raises ExportMismatch. A passed check is
    recorded with the file (export_cache.record_verified) and not repeated while the file and
    onnxruntime stay the same. `what` names the check's inputs in the log ("2 crops")."""
    for attempt in range(2):
        path = export(attempt > 0)
        try:
            engine = load(path)
            record = verified_record(path)
            err, where = (record["difference"], "") if record else difference(engine)
        except MemoryError:
            raise
        except Exception as exc:  # an unloadable file: rebuild it once
            log(f"ONNX export: {path.name} does not load ({type(exc).__name__}: {exc})")
            if attempt:
                raise
            continue
        if record:
            log(f"ONNX export verified against torch on {what} when first used: relative difference "
                f"{err:.1e}; file and onnxruntime unchanged since")
            return engine
        if err <= VERIFY_BOUND:
            log(f"ONNX export verified against torch on {what}: relative difference {err:.1e} "
                f"(bound {VERIFY_BOUND:.0e})")
            record_verified(path, err, what)
            return engine
        log(f"ONNX export: {path.name} differs from torch by {err:.1e} relative{where} "
            f"(bound {VERIFY_BOUND:.0e})")
    raise ExportMismatch(f"the ONNX export differs from torch by {err:.1e} relative{where} even after a "
                         "rebuild")


def open_or_fall_back(open_engine: Callable[[], object], asked: str, warn: Callable[[str, str, str], None],
                      what: str, stage: str):
    """open_engine() -> the engine; when that fails (export, loading, the check against torch):
    with --engine onnxruntime (`asked`) BackendError ENGINE_UNAVAILABLE, under auto the warning
    ONNX_ENGINE_FALLBACK through warn(code, message, hint) and None (the caller runs torch).
    what: "engine" / "temporal engine"; stage: what runs on torch instead ("the backbone")."""
    from backend.errors import BackendError, Code

    try:
        return open_engine()
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # export or runtime failure: torch is always there
        why = f"the ONNX Runtime {what} could not be prepared ({type(exc).__name__}: {exc})"
        if asked == "onnxruntime":
            raise BackendError(Code.ENGINE_UNAVAILABLE, why,
                               "Use --engine torch (or auto, which falls back by itself).") from exc
        warn("ONNX_ENGINE_FALLBACK", f"{why}: {stage} runs on torch",
             "Nothing to do; the result is the same, only slower.")
        return None


class OnnxFeatureEngine:
    """crops (B,3,224,224) float32 ImageNet-normalised -> features (B,2048) float32 (numpy)."""

    name = "onnxruntime"

    def __init__(self, path: Path, precision: str = "fp32", device: str = "cpu", threads: int | None = None):
        ort = import_onnxruntime()
        if ort is None:
            raise ImportError("onnxruntime is not installed")
        providers = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")  # untested here (no GPU on the dev machine)
        self.path = Path(path)
        self.precision = precision
        self.providers = providers
        self.session = ort.InferenceSession(str(path), sess_options=session_options(ort, threads),
                                            providers=providers)
        self._input = EXPORT_SETTINGS["input"]

    def __call__(self, crops: np.ndarray, batching=None) -> np.ndarray:
        """batching is accepted for the engine interface and not used: ONNX Runtime on the CPU runs
        the batch from its own memory arena; an allocation failure is raised as MemoryError."""
        x = np.ascontiguousarray(crops, dtype=np.float32)
        return run_session(self.session, None, {self._input: x})[0]

    def describe(self) -> str:
        return f"onnxruntime {self.precision} ({', '.join(self.providers)}) {self.path.name}"


def verification_crops(n: int = VERIFY_CROPS, seed: int = 0) -> np.ndarray:
    """Fixed pseudo-random crops (n,3,224,224) in the range of ImageNet-normalised pixels."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-2.0, 2.5, size=(n, 3, 224, 224)).astype(np.float32)


def relative_error(got: np.ndarray, ref: np.ndarray) -> float:
    """max |got - ref| / max |ref| over the whole batch."""
    return float(np.abs(got - ref).max() / max(float(np.abs(ref).max()), 1e-12))


def torch_reference(models, crops: np.ndarray) -> np.ndarray:
    """The torch fp32 features of crops (today's path with the models' memory format, no autocast)."""
    import torch

    from backend.models.inference import extract_features

    fp32 = dataclasses.replace(models.config, backbone_precision="fp32")
    ref_models = dataclasses.replace(models, config=fp32)
    return extract_features(ref_models, torch.from_numpy(crops)).cpu().numpy()


def open_onnx_engine(models, log: Callable[[str], None] = lambda _m: None, device: str = "cpu",
                     folder: Path | None = None) -> OnnxFeatureEngine:
    """Export/reuse, open and verify -> an engine whose features match torch within VERIFY_BOUND."""
    crops = verification_crops()
    return open_verified(lambda rebuild: cached_export(models.backbone, log, rebuild=rebuild, folder=folder),
                         lambda path: OnnxFeatureEngine(path, device=device),
                         lambda engine: (relative_error(engine(crops), torch_reference(models, crops)), ""),
                         f"{len(crops)} crops", log)
