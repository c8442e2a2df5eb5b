"""Contract 3 (docs/contracts.md) writer: `track_<id>.npz` files + `result.json` (written last, atomically).

All-or-nothing: track files are written into a hidden staging folder inside --out; `commit`
removes an older result's `result.json` first (so a reader never sees a mix), swaps the new
track files in and writes `result.json` last (tmp + os.replace), with SIGINT/SIGTERM held back
for those few milliseconds. A failed or cancelled run (`abort`, or leaving the `with` block by
an exception) deletes its staging folder, so an older result in --out stays intact and a fresh
--out folder is removed again if the run created it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import uuid
from pathlib import Path

import numpy as np

from backend.errors import BackendError, Code
from backend.fileio import json_text, write_atomic

FORMAT_VERSION = 1
RESULT_FILE = "result.json"
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
TRACK_KEYS = ("frame_index", "global_orient", "body_pose", "betas_per_frame", "betas", "transl", "cam_weak",
              "bbox_xywh", "joints3d", "joints_rest", "parents")  # + "features" with --save-features

_OUT_HINT = "Choose an --out folder you can write to, on a disk with free space."


def track_file_name(track_id: int) -> str:
    return f"track_{int(track_id)}.npz"


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


class ResultWriter:
    """Staged, all-or-nothing writer of one result directory. Use as a context manager."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.out_dir = Path(out_dir).expanduser().resolve()
        self._created_out = not self.out_dir.exists()
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise BackendError(Code.OUTPUT_UNWRITABLE, f"--out {self.out_dir} is a file, not a folder",
                               _OUT_HINT)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.staging = self.out_dir / f".staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self.staging.mkdir()
        except OSError as exc:
            self._remove_created_out()
            raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot write into {self.out_dir}: {exc}",
                               _OUT_HINT) from None
        self.files: list[str] = []
        self.committed = False

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            self.abort()

    def write_track(self, track_id: int, arrays: dict[str, np.ndarray]) -> str:
        """np.savez (no pickle) into the staging folder; returns the file name."""
        name = track_file_name(track_id)
        try:
            np.savez(self.staging / name, **arrays)
        except OSError as exc:
            raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot write {name} into {self.out_dir}: {exc}",
                               _OUT_HINT) from None
        self.files.append(name)
        return name

    def commit(self, meta: dict) -> Path:
        """Replace any older result with the staged tracks + `meta` as result.json (written last)."""
        text = json_text(meta, indent=2)
        moved: list[Path] = []
        with _signals_held():
            try:
                (self.out_dir / RESULT_FILE).unlink(missing_ok=True)  # an older result is invalid from here
                for old in self.out_dir.glob("track_*.npz"):
                    old.unlink()
                for name in self.files:
                    os.replace(self.staging / name, self.out_dir / name)
                    moved.append(self.out_dir / name)
                write_atomic(self.out_dir / RESULT_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
            except (OSError, BackendError) as exc:
                for path in moved:
                    path.unlink(missing_ok=True)
                self.abort()
                reason = exc.message if isinstance(exc, BackendError) else exc
                raise BackendError(Code.OUTPUT_UNWRITABLE,
                                   f"cannot write the result into {self.out_dir}: {reason}",
                                   _OUT_HINT) from None
            self.committed = True
            shutil.rmtree(self.staging, ignore_errors=True)
        return self.out_dir

    def abort(self) -> None:
        """Delete everything this run wrote; an older result in --out is left as it was."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.files = []
        self._remove_created_out()

    def _remove_created_out(self) -> None:
        if self._created_out:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()  # only when empty: never removes anything else
