"""Official preprocessed training databases -> per-row training labels (docs/training.md).

A database is a dict of per-row arrays (joblib/pickle, read by `backend.evaldb.read_db` without
running pickled code; InstaVariety's `insta_train_db.h5` through h5py when it is installed).
Its kind comes from an explicit `KIND=PATH`, else from the official file name
(`3dpw_train_occ_db.pt`, `h36m_train_25fps_db.pt`, `mpii3d_train_scale12_db.pt`,
`posetrack_train_db.pt`, `pennaction_train_db.pt`, `insta_train_db.h5`), else from the
`db_kind` entry `make-db` writes.

Labels per row, as the official data sets build them (`lib/dataset/*.py`):

| kind       | stream | joints2D (pixels)       | joints3D (m) | SMPL pose/shape          |
|------------|--------|-------------------------|--------------|--------------------------|
| 3dpw       | 3D     | 14 common -> 49         | 49 (or 14)   | yes                      |
| h36m       | 3D     | 49                      | 49           | when `pose` is present   |
| mpii3d     | 3D     | 49                      | 49           | no (w_smpl = 0)          |
| posetrack  | 2D     | 49                      | -            | -                        |
| pennaction | 2D     | 13 -> 49                | -            | -                        |
| insta      | 2D     | 25 -> 49, already crop  | -            | -                        |
| custom     | 2D, 3D when joints3D is there (make-db)  | 49 | 49 | when `pose` is present |

2D keypoints are mapped into the 224 crop of the row's box (centre c, side w*1.2, as
`transfrom_keypoints` does without augmentation) and normalised to [-1, 1]:
u = (x - c_x) / (0.6 w), v = (y - c_y) / (0.6 h); the third column (confidence) is kept.
As in the official code the labels pass through float16 (`np.float16` label tensors).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend import evaldb
from backend.errors import BackendError, Code
from backend.training import joints, windows

FEATURE_DIM = 2048
KINDS_3D = ("3dpw", "h36m", "mpii3d")
KINDS_2D = ("posetrack", "pennaction", "insta")
KINDS = KINDS_3D + KINDS_2D + ("custom",)
CROP_SCALE = 1.2  # box side x 1.2 = the crop (official transfrom_keypoints without augmentation)
# joints2D layout per kind: source joint order and whether the box maps pixels into the crop
_J2D = {"3dpw": ("common", True), "h36m": ("spin", True), "mpii3d": ("spin", True),
        "posetrack": ("spin", True), "pennaction": ("pennaction", True), "insta": ("insta", False),
        "custom": ("spin", True)}
HINT = ("Use an official preprocessed training database (TCMR_RELEASE data/preprocessed_data, e.g. "
        "3dpw_train_db.pt) or one written by `python -m backend make-db`; see docs/training.md.")


@dataclass
class TrainDb:
    """One database's rows as training labels (N rows) and its window start rows (W,)."""

    name: str
    kind: str
    is_3d: bool  # True: the 3D stream (3D joints and/or SMPL labels), else the 2D stream
    features: np.ndarray  # (N, 2048) float32 (an h5py dataset, read per window, for HDF5 files)
    kp_2d: np.ndarray  # (N, 49, 3) float32: crop-normalised x, y in [-1, 1], confidence
    kp_3d: np.ndarray  # (N, 49, 3) float32 metres (zeros where w_3d = 0)
    pose: np.ndarray  # (N, 72) float32 axis-angle (zeros where w_smpl = 0)
    shape: np.ndarray  # (N, 10) float32
    w_3d: np.ndarray  # (N,) float32 0/1: 3D keypoint label present
    w_smpl: np.ndarray  # (N,) float32 0/1: SMPL label present
    windows: np.ndarray  # (W,) int64 start rows of the 16-frame training windows

    @property
    def num_rows(self) -> int:
        return len(self.features)


def _error(path: Path, problem: str, hint: str = HINT) -> BackendError:
    return BackendError(Code.DB_INVALID, f"{path.name}: {problem}", hint)


def split_spec(spec: str) -> tuple[str | None, Path]:
    """'KIND=PATH' or 'PATH' -> (kind or None, path)."""
    head, sep, tail = spec.partition("=")
    if sep and head.lower() in KINDS:
        return head.lower(), Path(tail).expanduser()
    return None, Path(spec).expanduser()


def detect_kind(path: Path, db: dict[str, np.ndarray]) -> str:
    name = path.name.lower()
    for kind in KINDS:
        if kind in name:
            return kind
    if "db_kind" in db:
        kind = str(np.asarray(db["db_kind"]).reshape(-1)[0])
        if kind in KINDS:
            return kind
    raise BackendError(Code.BAD_ARGUMENT, f"cannot tell which kind of training database {path.name} is",
                       f"Name it as the official files are (e.g. 3dpw_train_db.pt) or pass --db KIND={path} "
                       f"with KIND one of {', '.join(KINDS)}.")


def read_any(path: Path) -> dict[str, np.ndarray]:
    """joblib/pickle database (safe reader), or an HDF5 one (InstaVariety) through h5py."""
    if not path.is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"training database not found: {path}",
                           "Pass the path of a preprocessed database with --db.")
    with path.open("rb") as f:
        head = f.read(4)
    if head != b"\x89HDF":
        return evaldb.read_db(path)
    try:
        import h5py
    except ImportError:
        raise BackendError(Code.DB_INVALID, f"{path.name} is an HDF5 file and h5py is not installed",
                           "Install h5py into the backend's Python (`pip install h5py`) to read "
                           "insta_train_db.h5.") from None
    h5 = h5py.File(path, "r")  # stays open: `features` (InstaVariety: ~2M x 2048) is read per batch
    return {k: (h5[k] if k == "features" else np.asarray(h5[k])) for k in h5}


def _decode_names(names: np.ndarray) -> np.ndarray:
    names = np.asarray(names)
    if names.dtype.kind == "S":
        names = np.char.decode(names, "latin1")
    return names.astype(str)


def _required(kind: str, db: dict) -> list[str]:
    need = ["vid_name", "features", "joints2D"]
    if _J2D[kind][1]:
        need.append("bbox")
    if kind in KINDS_3D:
        need.append("joints3D")
    if kind == "3dpw":
        need += ["pose", "shape"]
    return need


def _check_layout(path: Path, kind: str, db: dict) -> int:
    """Keys present, one length for every per-row array, finite numbers -> N."""
    need = _required(kind, db)
    missing = [k for k in need if k not in db]
    if "features" in missing:
        raise _error(path, f"has no 'features' (keys: {', '.join(sorted(db))}); training needs the "
                           "precomputed SPIN features of every row",
                     "Use the official preprocessed file (it holds 'features'), or build a database from "
                     "`run --save-features` results with `python -m backend make-db`.")
    if missing:
        raise _error(path, f"has no key(s) {', '.join(missing)} needed for a {kind} training database "
                           f"(keys: {', '.join(sorted(db))})")
    n = len(db["vid_name"])
    rows = {k: len(db[k]) for k in ("features", "joints2D", "joints3D", "bbox", "pose", "shape") if k in db}
    bad = {k: v for k, v in rows.items() if v != n}
    if bad:
        detail = ", ".join(f"{k} {v}" for k, v in bad.items())
        raise _error(path, f"mismatched lengths: vid_name has {n} rows but {detail}",
                     "Every per-row array of a database must have one row per frame; rebuild the file.")
    if n == 0:
        raise _error(path, "has no rows")
    shape = tuple(db["features"].shape)
    if len(shape) != 2 or shape[1] != FEATURE_DIM:
        raise _error(path, f"'features' has shape {shape}, expected ({n}, {FEATURE_DIM})")
    for key in ("features", "joints2D", "joints3D", "bbox", "pose", "shape"):
        value = db.get(key)
        if isinstance(value, np.ndarray) and not np.isfinite(value.astype(np.float64)).all():
            raise _error(path, f"'{key}' holds NaN or infinite values")
    return n


def _shape_check(path: Path, key: str, value: np.ndarray, shape: tuple) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if value.ndim != len(shape) or any(s is not None and v != s for v, s in zip(value.shape, shape,
                                                                                 strict=True)):
        raise _error(path, f"'{key}' has shape {value.shape}, expected {shape} (None: any)")
    return value


def crop_keypoints(kp: np.ndarray, bbox: np.ndarray | None) -> np.ndarray:
    """(N,49,3) pixels + (N,4) boxes [cx, cy, w, h] -> crop-normalised (N,49,3); None: already in a
    224 crop (InstaVariety) -> 2x/224 - 1."""
    out = np.array(kp, dtype=np.float64)
    if bbox is None:
        out[..., :2] = 2.0 * out[..., :2] / 224.0 - 1.0
        return out
    half = 0.5 * CROP_SCALE * bbox[:, None, 2:4]  # (N, 1, 2): half crop side in pixels
    out[..., :2] = (out[..., :2] - bbox[:, None, 0:2]) / half
    return out


def _f16(a: np.ndarray) -> np.ndarray:
    """The official label tensors are float16."""
    return np.asarray(a).astype(np.float16).astype(np.float32)


def labels_from_db(path: Path, kind: str, db: dict, stride: int) -> TrainDb:
    n = _check_layout(path, kind, db)
    src, boxed = _J2D[kind]
    j2d = _shape_check(path, "joints2D", db["joints2D"], (n, len(joints.ORDERS[src]), None))[..., :3]
    if j2d.shape[2] < 3:
        raise _error(path, "'joints2D' needs x, y and a confidence column")
    bbox = _shape_check(path, "bbox", db["bbox"], (n, 4)) if boxed else None
    if bbox is not None and (bbox[:, 2:4] <= 0).any():
        raise _error(path, "'bbox' has a width or height <= 0")
    kp_2d = crop_keypoints(joints.to_spin49(j2d, src), bbox)
    kp_3d, w_3d = np.zeros((n, 49, 3)), np.zeros(n)
    if "joints3D" in db and (kind in KINDS_3D or kind == "custom"):
        j3d = _shape_check(path, "joints3D", db["joints3D"], (n, None, None))
        if j3d.shape[1] not in (14, 49) or j3d.shape[2] < 3:
            raise _error(path, f"'joints3D' has shape {j3d.shape}, expected ({n}, 49 or 14, 3)")
        kp_3d = j3d[..., :3] if j3d.shape[1] == 49 else joints.to_spin49(j3d[..., :3], "common")
        w_3d = np.ones(n)
    pose, shape, w_smpl = np.zeros((n, 72)), np.zeros((n, 10)), np.zeros(n)
    if "pose" in db and kind in ("3dpw", "h36m", "custom"):
        pose = _shape_check(path, "pose", db["pose"], (n, 72))
        shape = _shape_check(path, "shape", db.get("shape", np.zeros((n, 10))), (n, 10))
        w_smpl = np.ones(n)
    try:
        starts = windows.train_windows(_decode_names(db["vid_name"]), stride)
    except ValueError as exc:
        raise _error(path, f"'vid_name': {exc}",
                     "Keep each video's rows together and in frame order.") from None
    return TrainDb(name=path.name, kind=kind, is_3d=bool(w_3d.any() or w_smpl.any()),
                   features=(np.ascontiguousarray(db["features"], dtype=np.float32)
                             if isinstance(db["features"], np.ndarray) else db["features"]),
                   kp_2d=_f16(kp_2d), kp_3d=_f16(kp_3d), pose=_f16(pose), shape=_f16(shape),
                   w_3d=w_3d.astype(np.float32), w_smpl=w_smpl.astype(np.float32), windows=starts)


def load_train_db(spec: str, stride: int) -> TrainDb:
    """`--db` value ('KIND=PATH' or 'PATH') -> TrainDb. Raises BackendError (DB_INVALID, ...)."""
    kind, path = split_spec(spec)
    db = read_any(path)
    kind = kind or detect_kind(path, db)
    out = labels_from_db(path, kind, db, stride)
    if len(out.windows) == 0:
        raise _error(path, f"no video has {windows.SEQLEN} or more rows: no training window",
                     "Training windows are 16 consecutive frames of one video; add longer clips.")
    return out
