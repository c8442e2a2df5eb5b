"""2D keypoint files -> one (T, 17) COCO-order track in pixels, with confidences and flags.

Formats (docs/lifting.md):
* `.npy`: a (T, 17, 2) or (T, 17, 3) array (x, y[, confidence]) in pixels, COCO order.
* `.npz`: the same array under `keypoints` (or the file's only array), optional scalar
  `width` / `height` (pixels).
* COCO keypoint JSON: a results list `[{"image_id", "keypoints": [51 numbers], "score"}...]`, or a
  dict with `annotations` (same entries) and `images` (`id`, `width`, `height`: the size comes
  from there). Frames are the distinct image ids in ascending order; in each frame the entry with
  the highest `score` (else the highest summed keypoint confidence) is the person.
* OpenPose folder: per-frame `*_keypoints.json` sorted by name, BODY_25 `pose_keypoints_2d`
  (75 numbers) mapped to COCO-17 (skeleton.BODY25_TO_COCO); in each frame the person with the
  highest summed confidence over those 17 keypoints is taken; a frame without people is missing.

Missing keypoints (non-finite, or confidence below `min_confidence`) are filled by linear
interpolation over time per keypoint (held constant before the first / after the last valid
frame) and flagged in `missing`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import BackendError, Code
from backend.lifting.skeleton import BODY25_TO_COCO, COCO_NAMES, NUM_KEYPOINTS

FORMAT_HINT = ("Give a (T,17,2|3) COCO-order array (.npy/.npz), a COCO keypoint JSON or an OpenPose "
               "folder of BODY_25 *_keypoints.json files (docs/lifting.md).")


def bad(message: str, hint: str = FORMAT_HINT) -> BackendError:
    return BackendError(Code.KEYPOINTS_INVALID, message, hint)


@dataclass
class Keypoints2D:
    """xy (T,17,2) px (missing filled), confidence (T,17) (NaN when the file has none),
    missing (T,17) bool, image size from the file when it carries one, the format name."""

    xy: np.ndarray
    confidence: np.ndarray
    missing: np.ndarray
    width: float | None
    height: float | None
    source_format: str


def _check_array(arr, where: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fiu" or arr.ndim != 3 or arr.shape[2] not in (2, 3):
        raise bad(f"{where}: expected a (T, 17, 2) or (T, 17, 3) number array, got {arr.dtype} {arr.shape}")
    if arr.shape[1] != NUM_KEYPOINTS:
        raise bad(f"{where}: {arr.shape[1]} keypoints per frame, expected the 17 COCO keypoints",
                  "Map your keypoints to COCO-17 order (nose, eyes, ears, shoulders, elbows, wrists, hips, "
                  "knees, ankles) first.")
    if arr.shape[0] == 0:
        raise bad(f"{where}: no frames")
    return arr.astype(np.float64)


def _split(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    conf = arr[..., 2] if arr.shape[2] == 3 else np.full(arr.shape[:2], np.nan)
    return arr[..., :2], conf


def _read_array(path: Path) -> tuple[np.ndarray, float | None, float | None]:
    try:
        if path.suffix == ".npy":
            return _check_array(np.load(path, allow_pickle=False), str(path)), None, None
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            key = "keypoints" if "keypoints" in names else None
            candidates = [n for n in names if n not in ("width", "height")]
            if key is None and len(candidates) == 1:
                key = candidates[0]
            if key is None:
                raise bad(f"{path}: no 'keypoints' array (arrays: {names})")
            arr = _check_array(data[key], f"{path}['{key}']")
            size = [float(data[k]) if k in names and np.size(data[k]) == 1 else None
                    for k in ("width", "height")]
            return arr, size[0], size[1]
    except BackendError:
        raise
    except (OSError, ValueError) as exc:
        raise BackendError(Code.INPUT_UNREADABLE, f"cannot read {path}: {exc}", FORMAT_HINT) from None


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackendError(Code.INPUT_UNREADABLE, f"cannot read {path}: {exc}", FORMAT_HINT) from None


def _person(flat, count: int, where: str) -> np.ndarray:
    values = np.asarray(flat, dtype=np.float64) if isinstance(flat, list) else None
    if values is None or values.shape != (count * 3,):
        n = len(flat) if isinstance(flat, list) else "no"
        raise bad(f"{where}: keypoints with {n} numbers, expected {count * 3} ({count} x (x, y, c))")
    return values.reshape(count, 3)


def _read_coco(path: Path) -> tuple[np.ndarray, float | None, float | None]:
    doc = _json(path)
    width = height = None
    if isinstance(doc, dict) and isinstance(doc.get("annotations"), list):
        images = {im.get("id"): im for im in doc.get("images", []) if isinstance(im, dict)}
        sizes = {(im.get("width"), im.get("height")) for im in images.values()}
        if len(sizes) == 1:
            width, height = (float(v) if isinstance(v, int | float) else None for v in sizes.pop())
        doc = doc["annotations"]
    if not isinstance(doc, list):
        raise bad(f"{path}: not a COCO keypoint results list")
    best: dict = {}
    for n, entry in enumerate(doc):
        if not isinstance(entry, dict) or "image_id" not in entry:
            raise bad(f"{path}: entry {n} has no image_id")
        kp = _person(entry.get("keypoints"), NUM_KEYPOINTS, f"{path} entry {n}")
        score = entry.get("score")
        rank = float(score) if isinstance(score, int | float) else float(np.nansum(kp[:, 2]))
        key = entry["image_id"]
        if key not in best or rank > best[key][0]:
            best[key] = (rank, kp)
    if not best:
        raise bad(f"{path}: no frames (no keypoint entries)")
    try:
        order = sorted(best)
    except TypeError:
        raise bad(f"{path}: image ids of mixed types cannot be ordered") from None
    return np.stack([best[k][1] for k in order]), width, height


def _read_openpose(folder: Path) -> np.ndarray:
    files = sorted(folder.glob("*_keypoints.json")) or sorted(folder.glob("*.json"))
    if not files:
        raise bad(f"{folder}: no OpenPose *_keypoints.json files (no frames)")
    frames = []
    for file in files:
        doc = _json(file)
        people = doc.get("people", []) if isinstance(doc, dict) else None
        if not isinstance(people, list):
            raise bad(f"{file}: not an OpenPose keypoint file (no 'people' list)")
        best, best_rank = np.full((NUM_KEYPOINTS, 3), np.nan), -np.inf
        for person in people:
            body = _person(person.get("pose_keypoints_2d") if isinstance(person, dict) else None, 25,
                           f"{file} (BODY_25)")[list(BODY25_TO_COCO)]
            rank = float(np.nansum(body[:, 2]))
            if rank > best_rank:
                best, best_rank = body, rank
        frames.append(best)
    return np.stack(frames)


def fill_missing(xy: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Linear interpolation over time per keypoint; edges held. Every keypoint needs one valid frame."""
    out = xy.copy()
    t = np.arange(xy.shape[0])
    for j in range(xy.shape[1]):
        ok = ~missing[:, j]
        if not ok.any():
            raise bad(f"keypoint '{COCO_NAMES[j]}' is missing in every frame; nothing to interpolate from",
                      "Check the detector output (confidences, joint order) or lower --min-confidence.")
        if ok.all():
            continue
        for axis in range(2):
            out[~ok, j, axis] = np.interp(t[~ok], t[ok], xy[ok, j, axis])
    return out


def read_keypoints(path: str | Path, min_confidence: float = 0.1) -> Keypoints2D:
    """Any supported keypoint file or folder -> Keypoints2D (missing keypoints filled, flagged)."""
    path = Path(path).expanduser()
    width = height = None
    if path.is_dir():
        arr, fmt = _read_openpose(path), "openpose"
    elif not path.is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"keypoints not found: {path}", FORMAT_HINT)
    elif path.suffix in (".npy", ".npz"):
        (arr, width, height), fmt = _read_array(path), path.suffix[1:]
    elif path.suffix == ".json":
        (arr, width, height), fmt = _read_coco(path), "coco"
    else:
        raise bad(f"{path}: unknown keypoint format '{path.suffix}'")
    xy, conf = _split(arr)
    missing = ~np.isfinite(xy).all(axis=-1)
    missing |= np.isfinite(conf) & (conf < min_confidence)
    missing |= ~np.isfinite(conf) & (arr.shape[2] == 3)
    if missing.all():
        raise bad(f"{path}: no valid keypoint in any frame (all missing, NaN or below confidence "
                  f"{min_confidence})", "Check the file; it holds no usable detections.")
    filled = fill_missing(np.where(missing[..., None], np.nan, xy), missing)
    return Keypoints2D(filled, conf, missing, width, height, fmt)
