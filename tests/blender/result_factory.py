"""Writes Contract 3 result directories for the Blender tests (the format the backend writes:
Contract 3 of docs/contracts.md + docs/INTERNALS.md), from random poses and shapes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)


def random_track(rng: np.random.Generator, frames: np.ndarray, pose_scale: float = 0.5) -> dict:
    """Arrays of one track (T = len(frames)): random but smooth-ish motion in front of the camera."""
    t = len(frames)
    base_pose = rng.normal(0.0, pose_scale, size=(23, 3))
    drift = rng.normal(0.0, 0.05, size=(t, 23, 3)).cumsum(0)
    body_pose = base_pose + drift
    global_orient = np.array([np.pi, 0.0, 0.0]) + rng.normal(0.0, 0.4, size=(t, 3))
    transl = np.array([0.2, 0.3, 4.0]) + rng.normal(0.0, 0.1, size=(t, 3)).cumsum(0) * 0.2
    betas_pf = rng.normal(0.0, 1.2, size=(t, 10))
    return {
        "frame_index": np.asarray(frames, dtype=np.int64),
        "global_orient": global_orient.astype(np.float32),
        "body_pose": body_pose.astype(np.float32),
        "betas_per_frame": betas_pf.astype(np.float32),
        "betas": betas_pf.mean(0).astype(np.float32),
        "transl": transl.astype(np.float32),
        "cam_weak": np.tile([1.0, 0.0, 0.0], (t, 1)).astype(np.float32),
        "bbox_xywh": np.tile([100.0, 100.0, 200.0, 400.0], (t, 1)).astype(np.float32),
        "joints3d": np.zeros((t, 49, 3), np.float32),
        "parents": np.array(PARENTS),
    }


def write_result(folder: Path, tracks: dict[int, dict], *, fps: float = 30.0, frame_count: int = 40,
                 width: int = 640, height: int = 480, focal: float = 900.0, video_path: str = "",
                 joints_rest=None, format_version: int = 1, principal=None) -> Path:
    """result.json + track_<id>.npz; `joints_rest(betas)` fills each track's joints_rest."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for tid, arrays in tracks.items():
        arrays = dict(arrays)
        if joints_rest is not None:
            arrays["joints_rest"] = joints_rest(arrays["betas"].astype(np.float64))
        np.savez(folder / f"track_{tid}.npz", **arrays)
        fi = arrays["frame_index"]
        entries.append({"id": tid, "file": f"track_{tid}.npz", "num_frames": len(fi),
                        "first_frame": int(fi[0]), "last_frame": int(fi[-1])})
    meta = {
        "format_version": format_version,
        "producer": {"name": "test", "version": "0", "synthetic_model_data": True},
        "config": {},
        "video": {"path": video_path, "fps": fps, "frame_count": frame_count, "width": width,
                  "height": height},
        "camera": {"model": "pinhole", "focal_length_px": focal,
                   "principal_point_px": list(principal or [width / 2.0, height / 2.0]),
                   "focal_source": "default"},
        "conventions": {"rotation": "axis-angle", "camera_frame": "opencv: x right, y down, z forward",
                        "units": "metres", "transl": "posed SMPL vertices + transl (smplx convention)"},
        "tracks": entries,
    }
    (folder / "result.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return folder
