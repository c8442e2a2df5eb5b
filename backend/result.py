"""Contract 3 (docs/contracts.md) writer: track files + `result.json`, committed atomically; the meta builder.

A result is `result.json` plus the track files its "tracks"[i]["file"] names; readers open
tracks only through that field. The commit (docs/promises.md has the whole story):

1. `ResultWriter(out)` takes the folder's lock file `.tcmr-lock` (the owner's pid inside; a lock
   whose pid is gone is taken over; a live one -> OUTPUT_BUSY), then cleans what a killed run
   left: each `.staging-<token>/` folder and the track files its `commit.json` names that the
   current `result.json` does not reference.
2. Tracks are written (np.savez, fsync) into `.staging-<token>/`. Their names are
   `track_<id>.npz`, or `track_<id>-<token>.npz` when the older result (or any other file) holds
   that name, so nothing the older result needs is ever overwritten.
3. `commit`: the new result.json and `commit.json` (new and superseded file names) are written in
   the staging folder; the tracks are renamed into --out; then ONE rename of the staged
   result.json over --out/result.json switches from the old result to the new one. Only after
   that are the older result's track files removed, then the staging folder and the lock (a
   track file that cannot be removed yet, e.g. open in a viewer on Windows, stays listed in the
   kept staging folder's commit.json and the next run removes it).
   SIGINT/SIGTERM are held back meanwhile; a SIGKILL or power cut at any moment leaves either
   the old result or the new one complete, and the next run cleans the rest.

A failed or cancelled run deletes its staging folder, so an older result stays byte-identical,
and a fresh --out folder is removed again if the run created it. Files in --out that no result
names (notes, other programs' files) are never deleted or overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import time
import uuid
from pathlib import Path

import numpy as np

from backend import __version__
from backend.camera import FOCAL_RULE
from backend.crops import BOX_SCALE
from backend.errors import BackendError, Code
from backend.fileio import json_text
from backend.smpl_file import SMPL_PARENTS

FORMAT_VERSION = 1
RESULT_FILE = "result.json"
LOCK_FILE = ".tcmr-lock"
STAGING_PREFIX = ".staging-"
MANIFEST = "commit.json"
KILL_HOOK_ENV = "TCMR_TEST_KILL_AT"  # test-only: SIGKILL this process at the named commit step
_TRACK_NAME = re.compile(r"track_\d+(-[0-9a-f]{8})?\.npz")
TRACK_KEYS = ("frame_index", "global_orient", "body_pose", "betas_per_frame", "betas", "transl", "cam_weak",
              "bbox_xywh", "joints3d", "joints_rest", "parents")  # + "features" with --save-features

_OUT_HINT = "Choose an --out folder you can write to, on a disk with free space."


def track_file_name(track_id: int, token: str | None = None) -> str:
    return f"track_{int(track_id)}.npz" if token is None else f"track_{int(track_id)}-{token}.npz"


def track_arrays(frame_index: np.ndarray, pose: np.ndarray, betas_per_frame: np.ndarray, transl: np.ndarray,
                 cam_weak: np.ndarray, boxes: np.ndarray, joints3d: np.ndarray, joints_rest: np.ndarray,
                 features: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-track arrays in the Contract 3 layout (T rows).

    pose (T,72) axis-angle root first; boxes (T,4) [cx,cy,w,h] before the x1.2 margin (converted
    to top-left + size); joints3d (T,49,3); joints_rest (24,3); features (T,2048) or None.
    """
    t = len(frame_index)
    pose = np.asarray(pose, dtype=np.float32).reshape(t, 24, 3)
    betas_per_frame = np.asarray(betas_per_frame, dtype=np.float32).reshape(t, 10)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(t, 4)
    xywh = np.stack([boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2,
                     boxes[:, 2], boxes[:, 3]], axis=1)
    arrays = {
        "frame_index": np.asarray(frame_index, dtype=np.int64).reshape(t),
        "global_orient": np.ascontiguousarray(pose[:, 0]),
        "body_pose": np.ascontiguousarray(pose[:, 1:]),
        "betas_per_frame": betas_per_frame,
        "betas": betas_per_frame.astype(np.float64).mean(axis=0).astype(np.float32),
        "transl": np.asarray(transl, dtype=np.float32).reshape(t, 3),
        "cam_weak": np.asarray(cam_weak, dtype=np.float32).reshape(t, 3),
        "bbox_xywh": xywh.astype(np.float32),
        "joints3d": np.asarray(joints3d, dtype=np.float32).reshape(t, 49, 3),
        "joints_rest": np.asarray(joints_rest, dtype=np.float32).reshape(24, 3),
        "parents": np.array(SMPL_PARENTS, dtype=np.int64),
    }
    if features is not None:
        arrays["features"] = np.asarray(features, dtype=np.float32).reshape(t, 2048)
    return arrays


CONVENTIONS = {
    "rotation": "axis-angle", "camera_frame": "opencv: x right, y down, z forward", "units": "metres",
    "transl": "posed SMPL vertices + transl (smplx convention)",
    "bbox_xywh": f"top-left x, y and size of the square person box before the x{BOX_SCALE} crop margin, "
                 "pixels",
}


def track_entry(track_id: int, file: str, frames: np.ndarray, interpolated: np.ndarray) -> dict:
    """result.json "tracks"[i]: frames (T,) source frame numbers, interpolated (T,) bool."""
    return {"id": int(track_id), "file": file, "num_frames": len(frames), "first_frame": int(frames[0]),
            "last_frame": int(frames[-1]), "interpolated_frames": int(np.count_nonzero(interpolated))}


def result_meta(config: dict, video, processed: tuple[int, int], frame_count: int, counted: bool,
                focal: float, focal_from_user: bool, synthetic: bool, tracks: list[dict],
                producer_extra: dict | None = None) -> dict:
    """The whole result.json (Contract 3, format_version 1; docs/INTERNALS.md lists the fields).

    config: the run's frozen config as a dict; video: backend.video.SourceInfo (path, kind, fps,
    width, height); processed: [first, end) source frames decoded; frame_count: the clip's frame
    count, `counted` when it is the decoded count (else the container's); focal: pixels;
    producer_extra: more "producer" fields (the temporal model and checkpoint that made it).
    """
    return {
        "format_version": FORMAT_VERSION,
        "producer": {"name": "tcmr-mocap-backend", "version": __version__,
                     "synthetic_model_data": bool(synthetic), **(producer_extra or {})},
        "config": config,
        "video": {"path": video.path, "kind": video.kind, "fps": video.fps, "frame_count": int(frame_count),
                  "frame_count_source": "decoded" if counted else "container",
                  "width": video.width, "height": video.height, "processed_frames": list(processed)},
        "camera": {"model": "pinhole", "focal_length_px": float(focal),
                   "principal_point_px": [video.width / 2.0, video.height / 2.0],
                   "focal_source": "user" if focal_from_user else "default",
                   "focal_rule": "--focal" if focal_from_user else FOCAL_RULE,
                   "crop_box_scale": BOX_SCALE},
        "conventions": dict(CONVENTIONS),
        "tracks": tracks,
    }


@contextlib.contextmanager
def _signals_held():
    """Defer SIGINT/SIGTERM (POSIX) while the result is swapped in; delivered right after."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = mask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


def _kill_point(name: str) -> None:
    """Test-only hook (tests/pipeline/test_kill_sweep.py): die here as a power cut would."""
    if os.environ.get(KILL_HOOK_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync(path: Path) -> None:
    """Flush a file (or, on POSIX, a folder's entries) to the disk."""
    if path.is_dir():
        if os.name == "nt":
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_is_stale(path: Path) -> bool:
    """A lock whose owner process is gone (an unreadable one only when older than a minute)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return True
    if text.isdigit():
        return not _pid_alive(int(text))
    return age > 60  # being written right now by its owner, or garbage left long ago


def acquire_lock(out_dir: Path) -> Path:
    """Create --out/.tcmr-lock holding our pid; take over a stale one; OUTPUT_BUSY if live."""
    path = out_dir / LOCK_FILE
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _lock_is_stale(path):
                owner = path.read_text(encoding="utf-8", errors="replace").strip() or "?"
                raise BackendError(Code.OUTPUT_BUSY, f"another run (pid {owner}) is writing into {out_dir}",
                                   "Wait for it to finish, or choose another --out folder. If no such run "
                                   f"exists, delete {path}.") from None
            path.unlink(missing_ok=True)  # its owner died: take the lock over
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
        return path
    raise BackendError(Code.OUTPUT_BUSY, f"could not take the lock {path}", "Run again.")


def referenced_files(out_dir: Path) -> set[str]:
    """Plain file names the current result.json lists in "tracks"[i]["file"] (empty if none)."""
    try:
        meta = json.loads((out_dir / RESULT_FILE).read_text(encoding="utf-8"))
        tracks = meta.get("tracks", []) if isinstance(meta, dict) else []
        return {str(t["file"]) for t in tracks if isinstance(t, dict) and Path(str(t.get("file"))).name
                == str(t.get("file"))}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return set()


def clean_leftovers(out_dir: Path) -> None:
    """Remove what killed runs left (call with the lock held): staging folders, and the track files
    their manifests name that the current result does not reference. Nothing else is touched."""
    keep = referenced_files(out_dir)
    for staging in out_dir.glob(STAGING_PREFIX + "*"):
        if not staging.is_dir():
            continue
        try:
            manifest = json.loads((staging / MANIFEST).read_text(encoding="utf-8"))
            names = [*manifest.get("new", []), *manifest.get("old", [])]
        except (OSError, ValueError, AttributeError):
            names = []
        for name in names:
            if isinstance(name, str) and _TRACK_NAME.fullmatch(name) and name not in keep:
                (out_dir / name).unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)


class ResultWriter:
    """Staged, locked, atomic writer of one result directory. Use as a context manager."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.out_dir = Path(out_dir).expanduser().resolve()
        self._created_out = not self.out_dir.exists()
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise BackendError(Code.OUTPUT_UNWRITABLE, f"--out {self.out_dir} is a file, not a folder",
                               _OUT_HINT)
        self.token = uuid.uuid4().hex[:8]
        self.files: list[str] = []
        self.committed = False
        self._lock: Path | None = None
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._lock = acquire_lock(self.out_dir)
            _kill_point("locked")
            clean_leftovers(self.out_dir)
            _kill_point("cleaned")
            self.staging = self.out_dir / f"{STAGING_PREFIX}{self.token}"
            self.staging.mkdir()
        except BackendError:
            self._release()
            raise
        except OSError as exc:
            self._release()
            raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot write into {self.out_dir}: {exc}",
                               _OUT_HINT) from None
        self.superseded = referenced_files(self.out_dir)  # the older result's track files

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            self.abort()

    def _name_for(self, track_id: int) -> str:
        name = track_file_name(track_id)
        if name in self.superseded or (self.out_dir / name).exists() or name in self.files:
            name = track_file_name(track_id, self.token)
        return name

    def write_track(self, track_id: int, arrays: dict[str, np.ndarray]) -> str:
        """np.savez (no pickle) into the staging folder; returns the name result.json must list."""
        name = self._name_for(track_id)
        try:
            np.savez(self.staging / name, **arrays)
            _fsync(self.staging / name)
        except OSError as exc:
            raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot write {name} into {self.out_dir}: {exc}",
                               _OUT_HINT) from None
        self.files.append(name)
        _kill_point(f"staged_{len(self.files)}")
        return name

    def commit(self, meta: dict) -> Path:
        """Make the staged tracks + `meta` (as result.json) the folder's result in one rename."""
        text = json_text(meta, indent=2)
        with _signals_held():
            self._switch(text)
            self.committed = True
            _kill_point("switched")
            with contextlib.suppress(OSError):
                _fsync(self.out_dir)
            left = False
            for name in sorted(self.superseded - set(self.files)):  # the older result's tracks
                try:
                    (self.out_dir / name).unlink(missing_ok=True)
                except OSError:  # e.g. held open by another program: the next run removes it
                    left = True
                _kill_point("old_removed_one")
            _kill_point("old_removed")
            if not left:  # else the staging folder keeps commit.json, which names what to remove
                shutil.rmtree(self.staging, ignore_errors=True)
            _kill_point("staging_removed")
            self._release()
        return self.out_dir

    def _switch(self, text: str) -> None:
        """Stage result.json + manifest, move the tracks in, rename result.json over the old one."""
        moved: list[Path] = []
        try:
            staged_json = self.staging / RESULT_FILE
            staged_json.write_text(text, encoding="utf-8")
            _fsync(staged_json)
            manifest = {"new": self.files, "old": sorted(self.superseded - set(self.files))}
            (self.staging / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            _fsync(self.staging / MANIFEST)
            _kill_point("manifest_written")
            for name in self.files:
                os.replace(self.staging / name, self.out_dir / name)
                moved.append(self.out_dir / name)
                _kill_point(f"moved_{len(moved)}")
            _fsync(self.out_dir)
            _kill_point("before_switch")
            os.replace(staged_json, self.out_dir / RESULT_FILE)  # the one switch
        except OSError as exc:
            for path in moved:
                path.unlink(missing_ok=True)
            self.abort()
            raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot write the result into {self.out_dir}: {exc}",
                               _OUT_HINT) from None

    def abort(self) -> None:
        """Delete everything this run wrote; an older result in --out is left as it was."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.files = []
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.unlink()
            self._lock = None
        if self._created_out:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()  # only when empty: never removes anything else
