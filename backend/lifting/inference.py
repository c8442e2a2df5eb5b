"""VideoPose3D's in-the-wild inference (run.py --render with UnchunkedGenerator), one sequence.

1. Screen normalisation (common/camera.py normalize_screen_coordinates): one scale for both
   axes, x_n = x / w * 2 - 1 and y_n = y / w * 2 - h / w, so [0, w] maps to [-1, 1] and the
   aspect ratio is kept.
2. Edge padding: pad = (receptive_field - 1) / 2 copies of the first and last frames on each side,
   so T frames in give T frames out (any T >= 1).
3. Test-time flip (on unless disabled): a second copy with x_n negated and the COCO left/right
   keypoints swapped; on its prediction x is negated back and the H36M left/right joints are
   swapped back; the two are averaged. The trajectory model's flipped copy is un-flipped by
   negating x only (a single root joint: nothing to swap), as in the official evaluate().
4. joints3d = pose + trajectory when the checkpoint has a trajectory model, else pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from backend.lifting.skeleton import COCO_LEFT, COCO_RIGHT, H36M_LEFT, H36M_RIGHT


def normalize_screen(xy: np.ndarray, width: float, height: float) -> np.ndarray:
    """(..., 2) pixels -> VideoPose3D screen coordinates (one scale 2/w for both axes)."""
    return xy / width * 2.0 - np.array([1.0, height / width])


def edge_pad(seq: np.ndarray, pad: int) -> np.ndarray:
    """(T, ...) -> (T + 2*pad, ...) repeating the first and last frames."""
    widths = [(pad, pad)] + [(0, 0)] * (seq.ndim - 1)
    return np.pad(seq, widths, mode="edge")


def flip_batch(padded: np.ndarray) -> np.ndarray:
    """(T', 17, 2) -> (2, T', 17, 2): the sequence and its mirror (x negated, COCO L/R swapped)."""
    flipped = padded.copy()
    flipped[..., 0] *= -1
    flipped[:, list(COCO_LEFT + COCO_RIGHT)] = flipped[:, list(COCO_RIGHT + COCO_LEFT)]
    return np.stack([padded, flipped])


def unflip(pred: np.ndarray, swap: bool) -> np.ndarray:
    """(2, T, J, 3) -> (T, J, 3): undo the mirror of the second prediction, average the two."""
    back = pred[1].copy()
    back[..., 0] *= -1
    if swap:
        back[:, list(H36M_LEFT + H36M_RIGHT)] = back[:, list(H36M_RIGHT + H36M_LEFT)]
    return (pred[0] + back) / 2.0


@dataclass
class Lifted:
    """Root-relative `pose` (T,17,3) m, `trajectory` (T,3) m or None, `joints3d` (T,17,3) camera m."""

    pose: np.ndarray
    trajectory: np.ndarray | None
    joints3d: np.ndarray


# Output frames per forward pass: bounds memory on long clips (activations are
# 2 x 1024 x (chunk + 242) per layer). Valid convolutions make chunking exact: output frame t
# depends only on padded input frames t .. t + 2*pad, so chunks overlap by 2*pad input frames.
CHUNK_FRAMES = 8192


def _predict(model: torch.nn.Module, batch: np.ndarray, device, dtype,
             chunk: int = CHUNK_FRAMES) -> np.ndarray:
    """(B, T + 2*pad, 17, 2) -> (B, T, J, 3) float64, `chunk` output frames at a time."""
    context = model.config.receptive_field - 1
    frames = batch.shape[1] - context
    out = []
    with torch.inference_mode():
        for start in range(0, frames, chunk):
            x = torch.as_tensor(batch[:, start:start + chunk + context], device=device, dtype=dtype)
            out.append(model(x).double().cpu().numpy())
    return np.concatenate(out, axis=1)


def lift(keypoints_px: np.ndarray, width: float, height: float, pos_model, traj_model=None,
         flip: bool = True, device="cpu", dtype=torch.float32, chunk: int = CHUNK_FRAMES) -> Lifted:
    """(T, 17, 2) COCO pixel keypoints -> Lifted, exactly as the official in-the-wild inference."""
    frames = keypoints_px.shape[0]
    pad = (pos_model.config.receptive_field - 1) // 2
    padded = edge_pad(normalize_screen(np.asarray(keypoints_px, dtype=np.float64), width, height), pad)
    batch = flip_batch(padded) if flip else padded[None]
    pose = _predict(pos_model, batch, device, dtype, chunk)
    pose = unflip(pose, swap=True) if flip else pose[0]
    trajectory = None
    joints3d = pose
    if traj_model is not None:
        traj = _predict(traj_model, batch, device, dtype, chunk)
        traj = unflip(traj, swap=False) if flip else traj[0]
        trajectory = traj[:, 0, :]
        joints3d = pose + traj
    assert pose.shape[0] == frames
    return Lifted(pose, trajectory, joints3d)
