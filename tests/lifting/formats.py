"""Writers of one keypoint track in each supported input format (for the lift tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from backend.lifting.skeleton import BODY25_TO_COCO


def write_npy(track: np.ndarray, path: Path) -> Path:
    np.save(path, track)
    return path


def write_npz(track: np.ndarray, path: Path, width: float, height: float) -> Path:
    np.savez(path, keypoints=track, width=width, height=height)
    return path


def _entries(track: np.ndarray) -> list[dict]:
    """The person (score 0.9) plus a weaker bystander (score 0.3) in every frame, image ids 10, 20, ..."""
    entries = []
    for t, kp in enumerate(track):
        other = kp.copy()
        other[:, :2] += 150.0
        entries.append({"image_id": 10 * (t + 1), "category_id": 1, "keypoints": other.ravel().tolist(),
                        "score": 0.3})
        entries.append({"image_id": 10 * (t + 1), "category_id": 1, "keypoints": kp.ravel().tolist(),
                        "score": 0.9})
    return entries


def write_coco_results(track: np.ndarray, path: Path) -> Path:
    path.write_text(json.dumps(_entries(track)))
    return path


def write_coco_dataset(track: np.ndarray, path: Path, width: float, height: float) -> Path:
    images = [{"id": 10 * (t + 1), "width": int(width), "height": int(height)} for t in range(len(track))]
    path.write_text(json.dumps({"images": images, "annotations": _entries(track)}))
    return path


def write_openpose(track: np.ndarray, folder: Path) -> Path:
    """BODY_25 files: the COCO keypoints put at their BODY_25 slots, neck/mid-hip/feet filled with
    made-up points; a second, less confident person first in the list."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, kp in enumerate(track):
        body = np.zeros((25, 3))
        body[:, :2] = kp[:, :2].mean(axis=0)
        body[:, 2] = 0.5
        body[list(BODY25_TO_COCO)] = kp
        faint = body.copy()
        faint[:, 2] *= 0.3
        people = [{"person_id": [-1], "pose_keypoints_2d": faint.ravel().tolist()},
                  {"person_id": [-1], "pose_keypoints_2d": body.ravel().tolist()}]
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    return folder
