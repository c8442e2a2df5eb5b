"""Reads a backend result directory (Contract 3 of docs/contracts.md, format_version 1). Pure numpy.

Layout: `result.json` (written last by the backend) plus one `track_<id>.npz` per person, read
with `allow_pickle=False`. Everything is validated before the add-on builds anything, so a bad
result never leaves half a scene behind. Shapes: T rows of a track (one per source frame).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AddonError

FORMAT_VERSION = 1
RESULT_FILE = "result.json"
NUM_BODY_JOINTS = 23

_RERUN_HINT = "Run the video again (Process video) to write a complete result directory."


def _bad(message: str, hint: str = _RERUN_HINT) -> AddonError:
    """An unreadable result directory: `message` says what, `hint` names the fix (default: run again)."""
    return AddonError(message, hint)


@dataclass(frozen=True)
class VideoInfo:
    path: str  # may be empty or point to a file that no longer exists
    fps: float
    frame_count: int
    width: int
    height: int


@dataclass(frozen=True)
class CameraInfo:
    focal_length_px: float
    principal_point_px: tuple[float, float]


@dataclass(frozen=True)
class WorldInfo:
    """result.json "world" (docs/world.md): camera_to_world (4,4) float64 maps OpenCV camera
    coordinates (metres) to the world (Z up, floor z = 0); ground_found False: no floor was found
    and the world is the camera frame turned to Z up."""

    camera_to_world: np.ndarray
    ground_found: bool


@dataclass(frozen=True)
class TrackEntry:
    id: int
    file: str
    num_frames: int


@dataclass(frozen=True)
class ResultInfo:
    """result.json, validated. `name` is the directory's name (used in collection names)."""

    directory: Path
    name: str
    format_version: int
    video: VideoInfo
    camera: CameraInfo
    tracks: tuple[TrackEntry, ...]
    synthetic_model_data: bool = False
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    world: WorldInfo | None = None  # present when the result was grounded


@dataclass(frozen=True)
class Track:
    """One person's motion (Contract 3 keys used by the add-on), float64 arrays.

    frame_index (T,) int64 strictly increasing | global_orient (T,3) | body_pose (T,23,3)
    betas (10,) | transl (T,3) | joints_rest (24,3) or None
    world_global_orient (T,3) | world_body_pose (T,23,3) | world_transl (T,3): only in a grounded
    result (ResultInfo.world), else None (smplx: world vertices = SMPL(world_*) + world_transl)
    contact (T,4) in [0,1] for SMPL joints 7, 8, 10, 11 (ankles, feet): optional, else None
    """

    id: int
    frame_index: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    joints_rest: np.ndarray | None
    world_global_orient: np.ndarray | None = None
    world_body_pose: np.ndarray | None = None
    world_transl: np.ndarray | None = None
    contact: np.ndarray | None = None
    confidence: np.ndarray | None = None  # (T,24) in [0,1], optional key (docs/confidence_and_editing.md)


def _world(meta: dict, name: str) -> WorldInfo | None:
    """The optional "world" block; a malformed one is an error (not silently the camera frame)."""
    world = meta.get("world")
    if world is None:
        return None
    try:
        c2w = np.asarray(world["camera_to_world"], dtype=np.float64)
        found = world["ground_found"]
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"{name}: 'world' needs camera_to_world (4x4) and ground_found ({exc})") from None
    rot = c2w[:3, :3] if c2w.shape == (4, 4) else None
    if rot is None or not np.all(np.isfinite(c2w)) or not np.allclose(c2w[3], [0, 0, 0, 1]) \
            or not np.allclose(rot.T @ rot, np.eye(3), atol=1e-4) or np.linalg.det(rot) < 0:
        raise _bad(f"{name}: world.camera_to_world is not a 4x4 rigid transform")
    return WorldInfo(c2w, bool(found))


def _number(value, what: str, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"result.json: {what} is {value!r}, not a number")
    if positive and value <= 0:
        raise _bad(f"result.json: {what} must be positive, got {value!r}")
    return float(value)


def read_result(directory: str | Path) -> ResultInfo:
    """Parse and validate result.json; raises AddonError with a hint naming the fix."""
    directory = Path(directory)
    if directory.is_file() and directory.name == RESULT_FILE:
        directory = directory.parent
    if not directory.is_dir():
        raise _bad(f"result directory not found: {directory}",
                          "Choose the folder the backend wrote (it holds result.json and track_*.npz).")
    path = directory / RESULT_FILE
    if not path.is_file():
        raise _bad(f"{directory} has no {RESULT_FILE}: not a finished result directory "
                          "(the backend writes it last, so the run may have failed or been cancelled)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise _bad(f"{path} does not hold a JSON object")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _bad(f"{path}: format_version is {version!r}, not an integer")
    if version > FORMAT_VERSION:
        raise _bad(
            f"{path.name} has format_version {version}, but this add-on reads up to {FORMAT_VERSION}",
            "Update the add-on (TCMR Mocap) to a version that matches the backend that wrote this result.")
    if version < 1:
        raise _bad(f"{path}: unknown format_version {version}")
    try:
        video = meta["video"]
        camera = meta["camera"]
        tracks = meta["tracks"]
    except KeyError as exc:
        raise _bad(f"{path.name} has no {exc} entry") from exc
    if not isinstance(video, dict) or not isinstance(camera, dict) or not isinstance(tracks, list):
        raise _bad(f"{path.name}: 'video'/'camera' must be objects and 'tracks' a list")
    try:
        info_video = VideoInfo(
            path=str(video.get("path") or ""),
            fps=_number(video["fps"], "video.fps"),
            frame_count=int(_number(video["frame_count"], "video.frame_count")),
            width=int(_number(video["width"], "video.width")),
            height=int(_number(video["height"], "video.height")),
        )
        focal = _number(camera["focal_length_px"], "camera.focal_length_px")
        pp = camera.get("principal_point_px") or [info_video.width / 2.0, info_video.height / 2.0]
        if not isinstance(pp, list | tuple) or len(pp) != 2:
            raise _bad(f"{path.name}: camera.principal_point_px must be [cx, cy]")
        info_camera = CameraInfo(focal, (_number(pp[0], "cx", False), _number(pp[1], "cy", False)))
    except KeyError as exc:
        raise _bad(f"{path.name} has no {exc} entry") from exc
    entries = []
    for i, entry in enumerate(tracks):
        if not isinstance(entry, dict) or "id" not in entry or "file" not in entry:
            raise _bad(f"{path.name}: tracks[{i}] needs 'id' and 'file'")
        file = str(entry["file"])
        if Path(file).name != file:  # no paths outside the directory
            raise _bad(f"{path.name}: tracks[{i}].file must be a plain file name, got {file!r}")
        entries.append(TrackEntry(int(entry["id"]), file, int(entry.get("num_frames", 0))))
    if len({e.id for e in entries}) != len(entries):
        raise _bad(f"{path.name}: duplicate track ids")
    producer = meta.get("producer") if isinstance(meta.get("producer"), dict) else {}
    return ResultInfo(directory=directory, name=directory.name, format_version=version, video=info_video,
                      camera=info_camera, tracks=tuple(entries),
                      synthetic_model_data=bool(producer.get("synthetic_model_data", False)), raw=meta,
                      world=_world(meta, path.name))


def _array(npz, key: str, shape: tuple, name: str) -> np.ndarray:
    if key not in npz.files:
        raise _bad(f"{name} has no '{key}' array")
    arr = np.asarray(npz[key])
    if arr.ndim != len(shape) or any(want not in (-1, got) for want, got in zip(shape, arr.shape)):
        raise _bad(f"{name}: '{key}' has shape {arr.shape}, expected {shape} (-1 = frames)")
    if arr.dtype.kind not in "fiu":
        raise _bad(f"{name}: '{key}' has dtype {arr.dtype}, expected numbers")
    if not np.all(np.isfinite(arr)):
        raise _bad(f"{name}: '{key}' contains NaN or infinity")
    return arr


def load_track(info: ResultInfo, entry: TrackEntry) -> Track:
    """Load and validate one track file; raises AddonError naming the file and problem."""
    path = info.directory / entry.file
    if not path.is_file():
        raise _bad(f"track file missing: {path} (listed in {RESULT_FILE})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            frame_index = _array(npz, "frame_index", (-1,), entry.file)
            t = len(frame_index)
            arrays = {
                "global_orient": _array(npz, "global_orient", (t, 3), entry.file),
                "body_pose": _array(npz, "body_pose", (t, NUM_BODY_JOINTS, 3), entry.file),
                "betas": _array(npz, "betas", (10,), entry.file),
                "transl": _array(npz, "transl", (t, 3), entry.file),
            }
            joints_rest = (_array(npz, "joints_rest", (24, 3), entry.file).astype(np.float64)
                           if "joints_rest" in npz.files else None)
            if info.world is not None:
                arrays["world_global_orient"] = _array(npz, "world_global_orient", (t, 3), entry.file)
                arrays["world_body_pose"] = _array(npz, "world_body_pose", (t, NUM_BODY_JOINTS, 3),
                                                   entry.file)
                arrays["world_transl"] = _array(npz, "world_transl", (t, 3), entry.file)
            if "contact" in npz.files:
                arrays["contact"] = _array(npz, "contact", (t, 4), entry.file)
            if "confidence" in npz.files:
                arrays["confidence"] = np.clip(_array(npz, "confidence", (t, 24), entry.file), 0, 1)
    except AddonError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise _bad(f"cannot read {path}: {exc}") from exc
    if t == 0:
        raise _bad(f"{entry.file} has no frames")
    if frame_index.dtype.kind not in "iu" or np.any(np.diff(frame_index) <= 0) or frame_index[0] < 0:
        raise _bad(f"{entry.file}: frame_index must be non-negative integers, strictly increasing")
    return Track(id=entry.id, frame_index=frame_index.astype(np.int64),
                 global_orient=arrays["global_orient"].astype(np.float64),
                 body_pose=arrays["body_pose"].astype(np.float64),
                 betas=arrays["betas"].astype(np.float64),
                 transl=arrays["transl"].astype(np.float64), joints_rest=joints_rest,
                 **{k: arrays[k].astype(np.float64) for k in
                    ("world_global_orient", "world_body_pose", "world_transl", "contact", "confidence")
                    if k in arrays})


def load_all_tracks(info: ResultInfo) -> list[Track]:
    """Every track of the result, validated (all before any is used)."""
    if not info.tracks:
        raise _bad(f"{info.directory / RESULT_FILE} lists no tracks (no person was found)",
                          "Check the video shows a person, or give a person box (--bbox) when processing.")
    return [load_track(info, entry) for entry in info.tracks]
