"""Running the loaded network: crops -> features, and one track's features -> SMPL sequence.

The product's one out-of-memory layer: both entry points retry with smaller batches when the
device (or, on CPU, the host) runs out of memory and raise BackendError(OUT_OF_MEMORY) only
when a single item does not fit. Given a `Batching` (one per run), the smaller size is kept for
the rest of the run (later calls start from it) and each halving is reported through
`Batching.on_shrink(stage, new_size)`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from backend.errors import BackendError, Code
from backend.models.geometry import rotmat_to_axis_angle
from backend.models.loading import Models
from backend.windowing import window_indices

FEATURE_DIM = 2048
_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
_OOM_HINT = "Close other programs using the GPU, or run with --device cpu."


@contextlib.contextmanager
def _tf32(models: Models) -> Iterator[None]:
    """Apply config.allow_tf32 on CUDA for the duration of a call, then restore."""
    if models.device.type != "cuda":
        yield
        return
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = models.config.allow_tf32
    torch.backends.cudnn.allow_tf32 = models.config.allow_tf32
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _release(models: Models) -> None:
    if models.device.type == "cuda":
        torch.cuda.empty_cache()


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, Python's MemoryError, or the CPU allocator's RuntimeError."""
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


@dataclass
class Batching:
    """The batch sizes of one run: halved on out-of-memory and kept for the rest of the run.

    features: crops per backbone call; regress: windows per TCMR call.
    on_shrink(stage, new_size): called after each halving, stage "features" | "regress".
    """

    features: int = 32
    regress: int = 64
    on_shrink: Callable[[str, int], None] | None = None

    def shrink(self, stage: str, failed: int) -> int:
        """A batch of `failed` items did not fit: remember half of it (at least 1) and report."""
        size = max(1, failed // 2)
        if size < getattr(self, stage):
            setattr(self, stage, size)
            if self.on_shrink is not None:
                self.on_shrink(stage, size)
        return size


def _backbone_batch(models: Models, crops: torch.Tensor, batching: Batching) -> torch.Tensor:
    """(B,3,224,224) -> (B,2048) float32; splits the batch in halves on out-of-memory."""
    cfg = models.config
    try:
        x = crops.to(models.device, dtype=torch.float32, non_blocking=True)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        precision = _AUTOCAST.get(cfg.backbone_precision)
        autocast = (torch.autocast(models.device.type, dtype=precision) if precision is not None
                    else contextlib.nullcontext())
        with autocast:
            return models.backbone(x).float()
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        _release(models)
        if crops.shape[0] == 1:
            raise BackendError(Code.OUT_OF_MEMORY, f"not enough {models.device} memory for the ResNet on "
                                                   "a single 224x224 crop", _OOM_HINT) from None
    batching.shrink("features", crops.shape[0])
    return _backbone_chunks(models, crops, batching)


def _backbone_chunks(models: Models, crops: torch.Tensor, batching: Batching) -> torch.Tensor:
    """crops in pieces of batching.features, read again before each piece (it may have shrunk)."""
    out = []
    start = 0
    while start < crops.shape[0]:
        size = batching.features
        out.append(_backbone_batch(models, crops[start:start + size], batching))
        start += size
    return out[0] if len(out) == 1 else torch.cat(out)


def extract_features(models: Models, crops: torch.Tensor, batching: Batching | None = None) -> torch.Tensor:
    """crops (B,3,224,224) float32 ImageNet-normalised -> features (B,2048) float32 on models.device.

    With `batching`, crops go through the backbone in pieces of batching.features (kept smaller
    after an out-of-memory); without, the whole batch is tried first.
    """
    if models.backbone is None:
        raise RuntimeError("these models were loaded with backbone=False")
    if crops.ndim != 4 or tuple(crops.shape[1:]) != (3, 224, 224):
        raise ValueError(f"crops must be (B,3,224,224), got {tuple(crops.shape)}")
    batching = batching if batching is not None else Batching(features=max(1, crops.shape[0]))
    models.backbone.eval()
    with torch.no_grad(), _tf32(models):
        return _backbone_chunks(models, crops, batching)


def _regress_windows(models: Models, feats: torch.Tensor, idx: torch.Tensor,
                     with_verts: bool) -> dict[str, torch.Tensor]:
    """feats (F,2048) and window indices idx (B,16) on the device -> per-window outputs (B, ...).

    CPU: shared first-layer GRU projections (TemporalEncoder.branches_indexed, ~1.3x faster),
    through models.temporal when an engine is attached (backend.engines.temporal_choice);
    CUDA: the gathered windows through nn.GRU (cuDNN). All are the same maths.
    """
    if models.device.type == "cpu" and getattr(models, "temporal", None) is not None:
        out = models.temporal(feats, idx)
    elif models.device.type == "cpu":
        out = models.tcmr.forward_indexed(feats, idx)
    else:
        out = models.tcmr(feats[idx])  # feats[idx]: (B, T, 2048)
    rotmat = out["rotmat"]  # (B, 24, 3, 3)
    verts, joints = models.smpl(rotmat, out["betas"])
    b = rotmat.shape[0]
    pose = rotmat_to_axis_angle(rotmat.reshape(-1, 3, 3)).reshape(b, 72)
    values = {"pose": pose, "betas": out["betas"], "pred_cam": out["cam"], "joints3d": joints,
              "rotmat": rotmat, "scores": out["scores"]}
    if "branch_rotmat" in out:  # (B,3,24,3,3) per-branch predictions: backend/confidence.py
        values["branch_rotmat"] = out["branch_rotmat"]
    if with_verts:
        values["verts"] = verts
    return values


def regress_track(models: Models, features: np.ndarray, batch_size: int = 128, with_verts: bool = False,
                  progress: Callable[[int, int], None] | None = None,
                  batching: Batching | None = None, stride: int = 1) -> dict[str, np.ndarray]:
    """One person's per-frame features (F,2048) -> per-frame SMPL parameters, official windowing
    (stride > 1: window frames `stride` apart, for high frame rates; backend.frame_rate).

    Returns float32 numpy arrays: pose (F,72) axis-angle (root first), betas (F,10),
    pred_cam (F,3) weak-perspective crop camera (s,tx,ty), joints3d (F,49,3), rotmat (F,24,3,3),
    scores (F,3) attention weights [past, current, future], branch_rotmat (F,3,24,3,3) the
    regressor on each branch alone (backend.confidence), and verts (F,6890,3) if with_verts.
    `progress(done, total)` is called after each batch of windows. With `batching`, its
    `regress` size replaces `batch_size` and stays halved after an out-of-memory.
    With VIBE loaded (models.vibe) this is `vibe_inference.regress_track_vibe` (no `scores`).
    """
    if getattr(models, "vibe", None) is not None:
        from backend.models.vibe_inference import regress_track_vibe

        size = batching.regress if batching is not None else batch_size
        return regress_track_vibe(models, features, size, with_verts, progress)
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] != FEATURE_DIM or features.shape[0] < 1:
        raise ValueError(f"features must be (F>=1, {FEATURE_DIM}), got {features.shape}")
    batching = batching if batching is not None else Batching(regress=batch_size)
    if batching.regress < 1:
        raise ValueError(f"batch_size must be >= 1, got {batching.regress}")
    num_frames = features.shape[0]
    windows = torch.from_numpy(window_indices(num_frames, stride=stride))  # (F, T)
    feats = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(models.device)
    chunks: dict[str, list[np.ndarray]] = {}
    start = 0
    with torch.inference_mode(), _tf32(models):
        while start < num_frames:
            idx = windows[start:start + batching.regress].to(models.device)  # (B, T)
            try:
                values = _regress_windows(models, feats, idx, with_verts)
            except (RuntimeError, MemoryError) as exc:
                if not is_out_of_memory(exc):
                    raise
                _release(models)
                if idx.shape[0] == 1:
                    raise BackendError(Code.OUT_OF_MEMORY, f"not enough {models.device} memory for TCMR on "
                                                           "a single window", _OOM_HINT) from None
                batching.shrink("regress", idx.shape[0])
                continue
            for k, v in values.items():
                chunks.setdefault(k, []).append(v.float().cpu().numpy())
            start += idx.shape[0]
            if progress is not None:
                progress(start, num_frames)
    return {k: np.concatenate(v, axis=0) for k, v in chunks.items()}
