"""Running the loaded network: crops -> features, and one track's features -> SMPL sequence.

Both entry points retry with smaller batches when the device runs out of memory and raise
BackendError(OUT_OF_MEMORY) only when a single item does not fit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

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


def _backbone_batch(models: Models, crops: torch.Tensor) -> torch.Tensor:
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
    except torch.OutOfMemoryError:
        _release(models)
        if crops.shape[0] == 1:
            raise BackendError(Code.OUT_OF_MEMORY, f"not enough {models.device} memory for the ResNet on "
                                                   "a single 224x224 crop", _OOM_HINT) from None
    half = crops.shape[0] // 2
    return torch.cat([_backbone_batch(models, crops[:half]), _backbone_batch(models, crops[half:])])


def extract_features(models: Models, crops: torch.Tensor) -> torch.Tensor:
    """crops (B,3,224,224) float32 ImageNet-normalised -> features (B,2048) float32 on models.device."""
    if models.backbone is None:
        raise RuntimeError("these models were loaded with backbone=False")
    if crops.ndim != 4 or tuple(crops.shape[1:]) != (3, 224, 224):
        raise ValueError(f"crops must be (B,3,224,224), got {tuple(crops.shape)}")
    models.backbone.eval()
    with torch.no_grad(), _tf32(models):
        return _backbone_batch(models, crops)


def _regress_windows(models: Models, feats: torch.Tensor, idx: torch.Tensor,
                     with_verts: bool) -> dict[str, torch.Tensor]:
    """feats (F,2048) and window indices idx (B,16) on the device -> per-window outputs (B, ...).

    CPU: shared first-layer GRU projections (TemporalEncoder.branches_indexed, ~1.3x faster);
    CUDA: the gathered windows through nn.GRU (cuDNN). Both are the same maths.
    """
    if models.device.type == "cpu":
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


def regress_track(models: Models, features: np.ndarray, batch_size: int = 64, with_verts: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """One person's per-frame features (F,2048) -> per-frame SMPL parameters, official windowing.

    Returns float32 numpy arrays: pose (F,72) axis-angle (root first), betas (F,10),
    pred_cam (F,3) weak-perspective crop camera (s,tx,ty), joints3d (F,49,3), rotmat (F,24,3,3),
    scores (F,3) attention weights [past, current, future], branch_rotmat (F,3,24,3,3) the
    regressor on each branch alone (backend.confidence), and verts (F,6890,3) if with_verts.
    `progress(done, total)` is called after each batch of windows.
    """
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] != FEATURE_DIM or features.shape[0] < 1:
        raise ValueError(f"features must be (F>=1, {FEATURE_DIM}), got {features.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    num_frames = features.shape[0]
    windows = torch.from_numpy(window_indices(num_frames))  # (F, T)
    feats = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(models.device)
    chunks: dict[str, list[np.ndarray]] = {}
    start = 0
    with torch.inference_mode(), _tf32(models):
        while start < num_frames:
            idx = windows[start:start + batch_size].to(models.device)  # (B, T)
            try:
                values = _regress_windows(models, feats, idx, with_verts)
            except torch.OutOfMemoryError:
                _release(models)
                if batch_size == 1:
                    raise BackendError(Code.OUT_OF_MEMORY, f"not enough {models.device} memory for TCMR on "
                                                           "a single window", _OOM_HINT) from None
                batch_size = max(1, batch_size // 2)
                continue
            for k, v in values.items():
                chunks.setdefault(k, []).append(v.float().cpu().numpy())
            start += idx.shape[0]
            if progress is not None:
                progress(start, num_frames)
    return {k: np.concatenate(v, axis=0) for k, v in chunks.items()}
