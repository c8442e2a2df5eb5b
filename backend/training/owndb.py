"""A training database from your own clips: `run --save-features` result directories (+ 2D keypoints).

Rows: every frame of every track (a track with a gap in `frame_index` becomes several videos,
since a training window is 16 consecutive frames). Per row: `vid_name` "<result>_t<id>[_<part>]",
`frame_id`, `features` (2048), `bbox` [cx, cy, w, h] = the track's crop box before the x1.2
margin, `joints2D` (49, 3) in image pixels with a confidence (0 where no keypoint is known),
and with `smpl_labels` also `pose` (72), `shape` (10) and `joints3D` (49) taken from the result
itself (pseudo labels: they hold the network to its own output). `db_kind` = "custom".

Keypoint JSON (one file per result directory; `keypoints_2d.json` inside it is used by default):

    {"joints": "coco17" | "body25" | "spin49",
     "tracks": [{"track": 1, "frames": [0, 1, ...], "keypoints": [[[x, y, conf], ...], ...]}]}

`frames` are the video frame numbers of the result's `frame_index`; x, y in image pixels.
Written as a plain pickle of numpy arrays, readable by this backend's safe reader and by joblib.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from backend.errors import BackendError, Code
from backend.fileio import write_atomic
from backend.training import joints

COCO17 = ("nose", "leye", "reye", "lear", "rear", "lshoulder", "rshoulder", "lelbow", "relbow", "lwrist",
          "rwrist", "lhip", "rhip", "lknee", "rknee", "lankle", "rankle")
ORDERS = {"coco17": COCO17, "body25": joints.SPIN49[:25], "spin49": joints.SPIN49}
KEYPOINTS_FILE = "keypoints_2d.json"


def _bad(path: Path, problem: str, hint: str) -> BackendError:
    return BackendError(Code.INPUT_UNREADABLE, f"{path}: {problem}", hint)


def read_keypoints(path: Path) -> dict[int, dict[int, np.ndarray]]:
    """-> {track id: {frame: (49, 3) pixels + confidence}}."""
    hint = "See docs/training.md for the keypoint JSON layout ({'joints': ..., 'tracks': [...]})."
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _bad(path, f"not a readable JSON file ({exc})", hint) from None
    order = ORDERS.get(doc.get("joints")) if isinstance(doc, dict) else None
    if order is None or not isinstance(doc.get("tracks"), list):
        raise _bad(path, f"needs 'joints' (one of {', '.join(ORDERS)}) and a 'tracks' list", hint)
    out: dict[int, dict[int, np.ndarray]] = {}
    for entry in doc["tracks"]:
        try:
            frames = [int(f) for f in entry["frames"]]
            kp = np.asarray(entry["keypoints"], dtype=np.float64)
            track = int(entry["track"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(path, f"a track entry is malformed ({exc})", hint) from None
        if kp.shape != (len(frames), len(order), 3) or not np.isfinite(kp).all():
            raise _bad(path, f"track {track}: keypoints have shape {kp.shape}, expected "
                             f"({len(frames)}, {len(order)}, 3) finite values", hint)
        spin = np.zeros((len(frames), 49, 3))
        for j, name in enumerate(order):
            spin[:, joints.SPIN49.index(name)] = kp[:, j]
        out[track] = dict(zip(frames, spin, strict=True))
    return out


def _tracks(result_dir: Path) -> list[tuple[int, dict[str, np.ndarray]]]:
    hint = "Make the result with `python -m backend run VIDEO --out DIR --save-features`."
    meta_path = result_dir / "result.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        entries = meta["tracks"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackendError(Code.RESULT_INVALID, f"{result_dir} is not a result directory ({exc})",
                           hint) from None
    out = []
    for entry in entries:
        path = result_dir / entry["file"]
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise BackendError(Code.RESULT_INVALID, f"{path}: not readable ({exc})", hint) from None
        if "features" not in arrays:
            raise BackendError(Code.RESULT_INVALID, f"{path} has no features", hint)
        out.append((int(entry["id"]), arrays))
    return out


def track_rows(name: str, arrays: dict[str, np.ndarray], kps: dict[int, np.ndarray] | None,
               smpl_labels: bool) -> dict[str, np.ndarray]:
    frames = np.asarray(arrays["frame_index"], dtype=np.int64)
    n = len(frames)
    part = np.concatenate([[0], np.cumsum(np.diff(frames) != 1)])  # new video after each gap
    xywh = np.asarray(arrays["bbox_xywh"], dtype=np.float64)
    centre = xywh[:, :2] + xywh[:, 2:] / 2
    rows = {"vid_name": np.array([f"{name}_{p}" if part[-1] else name for p in part]),
            "frame_id": frames, "features": np.asarray(arrays["features"], dtype=np.float32),
            "bbox": np.concatenate([centre, xywh[:, 2:]], axis=1),
            "joints2D": np.stack([kps.get(int(f), np.zeros((49, 3))) for f in frames]) if kps
            else np.zeros((n, 49, 3))}
    if smpl_labels:
        pose = [arrays["global_orient"].reshape(n, 3), arrays["body_pose"].reshape(n, 69)]
        rows["pose"] = np.concatenate(pose, axis=1).astype(np.float64)
        rows["shape"] = np.asarray(arrays["betas_per_frame"], dtype=np.float64)
        rows["joints3D"] = np.asarray(arrays["joints3d"], dtype=np.float64)
    return rows


def build(result_dirs: list[Path], keypoint_files: list[Path | None], smpl_labels: bool) -> dict:
    cols: dict[str, list[np.ndarray]] = {}
    any_kp = False
    for result_dir, kp_file in zip(result_dirs, keypoint_files, strict=True):
        if kp_file is None and (result_dir / KEYPOINTS_FILE).is_file():
            kp_file = result_dir / KEYPOINTS_FILE
        kps = read_keypoints(kp_file) if kp_file is not None else {}
        for track_id, arrays in _tracks(result_dir):
            track_kps = kps.get(track_id)
            any_kp |= bool(track_kps)
            rows = track_rows(f"{result_dir.name}_t{track_id}", arrays, track_kps, smpl_labels)
            for k, v in rows.items():
                cols.setdefault(k, []).append(v)
    if not cols:
        raise BackendError(Code.RESULT_INVALID, "the result directories hold no tracks",
                           "Pass result directories of `run --save-features` with at least one person.")
    if not any_kp and not smpl_labels:
        raise BackendError(Code.BAD_ARGUMENT, "no labels: no keypoint file matched a track and --smpl-labels "
                                              "is off", f"Give --keypoints files (or {KEYPOINTS_FILE} in the "
                                                        "result folders), or pass --smpl-labels.")
    db = {k: np.concatenate(v) for k, v in cols.items()}
    db["db_kind"] = np.array("custom")
    return db


def write(path: Path, db: dict) -> None:
    write_atomic(path, lambda tmp: tmp.write_bytes(pickle.dumps(db, protocol=4)))
