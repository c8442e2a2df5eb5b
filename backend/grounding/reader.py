"""Read a Contract 3 result directory for `ground`, with the checks grounding needs.

Every problem is one BackendError: RESULT_INVALID (no result.json, bad JSON, missing camera or
boxes, wrong shapes, NaN/inf), RESULT_TOO_NEW (format_version newer than this backend),
INPUT_NOT_FOUND (no such folder). Track files are read whole (np.load, allow_pickle=False) so
the output can carry every array on unchanged.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import BackendError, Code
from backend.grounding.ground import View
from backend.result import FORMAT_VERSION, RESULT_FILE

_RERUN = "Run `python -m backend run VIDEO --out DIR` again to make a complete result."
# key -> shape (-1 = the track's frame count)
NEEDED = {"frame_index": (-1,), "global_orient": (-1, 3), "body_pose": (-1, 23, 3), "betas": (10,),
          "transl": (-1, 3), "bbox_xywh": (-1, 4)}


@dataclass
class LoadedResult:
    directory: Path
    meta: dict
    entries: list[dict]  # result.json "tracks" entries, in order
    arrays: list[dict[str, np.ndarray]]  # every array of each track file, plus "track_id"
    view: View
    fps: float


def _invalid(message: str, hint: str = _RERUN) -> BackendError:
    return BackendError(Code.RESULT_INVALID, message, hint)


def _positive(value, what: str) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise _invalid(f"{RESULT_FILE}: {what} is {value!r}, not a positive number")
    return float(value)


def _meta(directory: Path) -> dict:
    if not directory.is_dir():
        raise BackendError(Code.INPUT_NOT_FOUND, f"result directory not found: {directory}",
                           "Give the folder that `run` wrote (it holds result.json and track_*.npz).")
    path = directory / RESULT_FILE
    if not path.is_file():
        raise _invalid(f"{directory} has no {RESULT_FILE}: not a finished result")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _invalid(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise _invalid(f"{path} does not hold a JSON object")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _invalid(f"{path}: format_version is {version!r}, not a known version")
    if version > FORMAT_VERSION:
        raise BackendError(Code.RESULT_TOO_NEW,
                           f"{path.name} has format_version {version}; this backend reads up to "
                           f"{FORMAT_VERSION}",
                           "Update the backend to the version that wrote this result.")
    for key, kind in (("video", dict), ("camera", dict), ("tracks", list)):
        if not isinstance(meta.get(key), kind):
            raise _invalid(f"{path.name} has no valid '{key}' entry")
    return meta


def _view(meta: dict, focal: float | None) -> View:
    video, camera = meta["video"], meta["camera"]
    width = int(_positive(video.get("width"), "video.width"))
    height = int(_positive(video.get("height"), "video.height"))
    if focal is None:
        if camera.get("focal_length_px") is None:
            raise _invalid(f"{RESULT_FILE} has no camera.focal_length_px",
                           "Give the camera's focal length with --focal PX (e.g. the image diagonal in "
                           "pixels).")
        focal = _positive(camera.get("focal_length_px"), "camera.focal_length_px")
    pp = camera.get("principal_point_px") or [width / 2.0, height / 2.0]
    if not isinstance(pp, list | tuple) or len(pp) != 2 or not all(
            isinstance(v, int | float) and math.isfinite(v) for v in pp):
        raise _invalid(f"{RESULT_FILE}: camera.principal_point_px must be [cx, cy]")
    return View(float(focal), (float(pp[0]), float(pp[1])), width, height)


def _track(directory: Path, entry, index: int) -> dict[str, np.ndarray]:
    if not isinstance(entry, dict) or "id" not in entry or "file" not in entry:
        raise _invalid(f"{RESULT_FILE}: tracks[{index}] needs 'id' and 'file'")
    name = str(entry["file"])
    if Path(name).name != name or not (directory / name).is_file():
        raise _invalid(f"track file {name!r} listed in {RESULT_FILE} is missing")
    try:
        with np.load(directory / name, allow_pickle=False) as npz:
            arrays = {key: np.asarray(npz[key]) for key in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise _invalid(f"cannot read {name}: {exc}") from None
    frames = len(arrays.get("frame_index", ()))
    for key, shape in NEEDED.items():
        if key not in arrays:
            what = "person boxes ('bbox_xywh')" if key == "bbox_xywh" else f"'{key}'"
            raise _invalid(f"{name} has no {what}: grounding needs it",
                           "Results from `run` hold it; re-run the video with this backend version.")
        arr = arrays[key]
        want = tuple(frames if s == -1 else s for s in shape)
        if arr.shape != want or arr.dtype.kind not in "fiu":
            raise _invalid(f"{name}: '{key}' has shape {arr.shape} ({arr.dtype}), expected {want} numbers")
        if not np.all(np.isfinite(arr)):
            raise _invalid(f"{name}: '{key}' contains NaN or infinity", _RERUN)
    if frames == 0 or np.any(np.diff(arrays["frame_index"]) <= 0):
        raise _invalid(f"{name}: frame_index must be non-empty and strictly increasing")
    arrays["track_id"] = np.asarray(int(entry["id"]))
    return arrays


def read_result(directory: str | Path, focal: float | None = None) -> LoadedResult:
    """Validate and load a whole result. `focal` (px) overrides the result's focal length."""
    directory = Path(directory).expanduser().resolve()
    meta = _meta(directory)
    view = _view(meta, focal)
    fps = _positive(meta["video"].get("fps"), "video.fps")
    if not meta["tracks"]:
        raise _invalid(f"{RESULT_FILE} lists no tracks: nothing to ground")
    arrays = [_track(directory, entry, i) for i, entry in enumerate(meta["tracks"])]
    return LoadedResult(directory, meta, list(meta["tracks"]), arrays, view, fps)
