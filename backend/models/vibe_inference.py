"""Running VIBE on one track's features, the way the official demo does (backend.models.vibe).

`backend.models.inference.regress_track` hands over to `regress_track_vibe` when the loaded
model is VIBE, so run, regress and evaluate call one function for both models.

The track is cut into consecutive GRU sequences of `chunk` frames (official: 450, the last one
shorter), each starting from a zero hidden state; the regressor and the SMPL layer then run on
the encoded frames in batches of `batch_size` frames (only a memory knob: per-frame maths).
On device out-of-memory the frame batch is halved; a single chunk's encoder or a single frame
that does not fit raises BackendError(OUT_OF_MEMORY).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from backend.errors import BackendError, Code
from backend.models.geometry import rotmat_to_axis_angle
from backend.models.vibe import CHUNK, FEATURE_DIM, chunk_bounds

_OOM_HINT = "Close other programs using the GPU, or run with --device cpu."


def _frames(models, feature: torch.Tensor, with_verts: bool) -> dict[str, torch.Tensor]:
    """Encoded per-frame features (B,2048) -> regressor + SMPL outputs (B, ...)."""
    out = models.vibe.regressor(feature)
    rotmat = out["rotmat"]  # (B, 24, 3, 3)
    verts, joints = models.smpl(rotmat, out["betas"])
    b = rotmat.shape[0]
    pose = rotmat_to_axis_angle(rotmat.reshape(-1, 3, 3)).reshape(b, 72)
    values = {"pose": pose, "betas": out["betas"], "pred_cam": out["cam"], "joints3d": joints,
              "rotmat": rotmat}
    if with_verts:
        values["verts"] = verts
    return values


def _encode(models, chunk_feats: torch.Tensor) -> torch.Tensor:
    """One GRU sequence (L,2048) -> encoded features (L,2048)."""
    try:
        return models.vibe.encoder(chunk_feats[None])[0]
    except torch.OutOfMemoryError:
        if models.device.type == "cuda":
            torch.cuda.empty_cache()
        raise BackendError(Code.OUT_OF_MEMORY, f"not enough {models.device} memory for VIBE's GRU on "
                                               f"one sequence of {chunk_feats.shape[0]} frames",
                           _OOM_HINT) from None


def regress_track_vibe(models, features: np.ndarray, batch_size: int = 64, with_verts: bool = False,
                       progress: Callable[[int, int], None] | None = None,
                       chunk: int = CHUNK) -> dict[str, np.ndarray]:
    """One person's per-frame features (F,2048) -> per-frame SMPL parameters (VIBE demo chunks).

    Returns float32 numpy arrays: pose (F,72) axis-angle (root first), betas (F,10), pred_cam (F,3)
    weak-perspective crop camera (s,tx,ty), joints3d (F,49,3), rotmat (F,24,3,3), and verts
    (F,6890,3) if with_verts. VIBE has no attention, so there is no `scores` entry.
    `progress(done, total)` is called after each frame batch.
    """
    from backend.models.inference import _tf32

    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] != FEATURE_DIM or features.shape[0] < 1:
        raise ValueError(f"features must be (F>=1, {FEATURE_DIM}), got {features.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    num_frames = features.shape[0]
    feats = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(models.device)
    parts: dict[str, list[np.ndarray]] = {}
    with torch.inference_mode(), _tf32(models):
        for start, end in chunk_bounds(num_frames, chunk):
            encoded = _encode(models, feats[start:end])  # (L, 2048)
            done = 0
            while done < end - start:
                try:
                    values = _frames(models, encoded[done:done + batch_size], with_verts)
                except torch.OutOfMemoryError:
                    if models.device.type == "cuda":
                        torch.cuda.empty_cache()
                    if batch_size == 1:
                        raise BackendError(Code.OUT_OF_MEMORY, f"not enough {models.device} memory for "
                                                               "VIBE's regressor on a single frame",
                                           _OOM_HINT) from None
                    batch_size = max(1, batch_size // 2)
                    continue
                for k, v in values.items():
                    parts.setdefault(k, []).append(v.float().cpu().numpy())
                done += values["pose"].shape[0]
                if progress is not None:
                    progress(start + done, num_frames)
    return {k: np.concatenate(v, axis=0) for k, v in parts.items()}
