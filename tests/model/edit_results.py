"""Build small result directories for the track-editor tests, with the real (synthetic-weight)
network: each track's rows are what `run` would write for its features (no smoothing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.camera import crop_cam_to_transl
from backend.confidence import confidence_arrays
from backend.models.inference import regress_track
from backend.models.smpl import rest_joints
from backend.result import FORMAT_VERSION, ResultWriter, track_arrays

WIDTH, HEIGHT, FOCAL = 640, 480, 800.0


def smooth_features(num_frames: int, seed: int) -> np.ndarray:
    """(F,2048) non-negative features drifting slowly, like one person's."""
    rng = np.random.default_rng(seed)
    base, drift = rng.uniform(0, 1, (2, 2048))
    t = np.linspace(0, 1, num_frames)[:, None]
    return np.clip(base + 0.3 * t * (drift - 0.5) + 0.02 * rng.standard_normal((num_frames, 2048)),
                   0, None).astype(np.float32)


def track_from_features(models, frames: np.ndarray, feats: np.ndarray, box_x: float,
                        save_features: bool = True) -> dict[str, np.ndarray]:
    out = regress_track(models, feats)
    n = len(frames)
    boxes = np.tile([box_x, 240.0, 200.0, 200.0], (n, 1))  # [cx, cy, w, h]
    transl = crop_cam_to_transl(out["pred_cam"], boxes, WIDTH, HEIGHT, FOCAL)
    betas = out["betas"].astype(np.float64).mean(axis=0)
    arrays = track_arrays(frames, out["pose"], out["betas"], transl, out["pred_cam"], boxes, out["joints3d"],
                          rest_joints(models.smpl_data, betas), feats if save_features else None)
    arrays.update(confidence_arrays(out, arrays, np.zeros(n, bool), (WIDTH, HEIGHT)))
    return arrays


def write_result(out: Path, tracks: dict[int, dict]) -> Path:
    entries = [{"id": i, "file": f"track_{i}.npz", "num_frames": len(t["frame_index"]),
                "first_frame": int(t["frame_index"][0]), "last_frame": int(t["frame_index"][-1]),
                "interpolated_frames": 0} for i, t in tracks.items()]
    last = max(e["last_frame"] for e in entries)
    meta = {"format_version": FORMAT_VERSION,
            "producer": {"name": "tcmr-mocap-backend", "version": "test", "synthetic_model_data": True},
            "config": {"smooth": "none"},
            "video": {"path": "clip.mp4", "kind": "video", "fps": 25.0, "frame_count": last + 1,
                      "width": WIDTH, "height": HEIGHT},
            "camera": {"model": "pinhole", "focal_length_px": FOCAL,
                       "principal_point_px": [WIDTH / 2, HEIGHT / 2], "focal_source": "default"},
            "conventions": {}, "tracks": entries}
    with ResultWriter(out) as writer:
        for i, t in tracks.items():
            writer.write_track(i, t)
        return writer.commit(meta)
