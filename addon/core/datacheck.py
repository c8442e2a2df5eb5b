"""Light, pure check of a model data folder, and installing model data into it.

The add-on cannot import the backend (different Python), so the file table repeats
`backend.datafiles` (a test keeps both in step). The checks here are cheap and look at names
and basic formats only (file magic, array shapes, a few pickle keys); the backend's `check`
command loads everything for real.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AddonError

SMPL_SITE = "smplify.is.tue.mpg.de (basicModel_neutral_lbs_10_207_0_v1.0.0.pkl, renamed)"
TCMR_RELEASE = "TCMR release base_data.zip (hongsukchoi/TCMR_RELEASE, scripts/get_base_data.sh)"
SYNTHETIC_MARKER = "SYNTHETIC_MODEL_DATA.txt"


@dataclass(frozen=True)
class Required:
    name: str
    purpose: str
    source: str
    needed_for_run: bool


FILES = (
    Required("SMPL_NEUTRAL.pkl", "SMPL neutral body model", SMPL_SITE, True),
    Required("J_regressor_extra.npy", "extra joint regressor (49 joints)", TCMR_RELEASE, True),
    Required("J_regressor_h36m.npy", "Human3.6M joint regressor (evaluation only)", TCMR_RELEASE, False),
    Required("smpl_mean_params.npz", "mean SMPL parameters", TCMR_RELEASE, True),
    Required("spin_model_checkpoint.pth.tar", "SPIN ResNet-50 backbone weights", TCMR_RELEASE, True),
    Required("tcmr_demo_model.pth.tar", "TCMR network weights", TCMR_RELEASE, True),
)
NAMES = tuple(f.name for f in FILES)

FOUND, MISSING, INVALID = "found", "missing", "invalid"


@dataclass(frozen=True)
class FileStatus:
    name: str
    state: str  # FOUND / MISSING / INVALID
    detail: str  # why invalid, or the size when found
    source: str


def _scan_for(path: Path, needles: tuple[bytes, ...], chunk: int = 1 << 22) -> set[bytes]:
    """Which of the byte strings occur in the file (streamed, overlap-safe)."""
    found, tail = set(), b""
    overlap = max(len(n) for n in needles)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            buf = tail + block
            found |= {n for n in needles if n in buf}
            if len(found) == len(needles):
                break
            tail = buf[-overlap:]
    return found


def check_file(path: str | os.PathLike) -> str | None:
    """None when the file looks right for its name, else what is wrong (one sentence)."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size == 0:
            return "the file is empty"
        with open(path, "rb") as f:
            head = f.read(16)
        if name.endswith(".pkl"):
            if not (head[:1] == b"\x80" or head[:1] in (b"(", b"}")):
                return "not a Python pickle"
            keys = (b"v_template", b"weights", b"shapedirs", b"posedirs", b"J_regressor", b"f")
            missing = [k.decode() for k in keys if k not in _scan_for(path, keys)]
            if missing:
                return f"not an SMPL model (no {', '.join(missing)})"
        elif name.endswith(".npy"):
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            rows = {"J_regressor_extra.npy": 9, "J_regressor_h36m.npy": 17}.get(name)
            if arr.ndim != 2 or arr.shape[1] != 6890 or (rows and arr.shape[0] != rows):
                return f"wrong shape {tuple(arr.shape)} (expected ({rows}, 6890))"
        elif name.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                want = {"pose": (144,), "shape": (10,), "cam": (3,)}
                for key, shape in want.items():
                    if key not in z.files:
                        return f"no '{key}' array"
                    if z[key].shape != shape:
                        return f"'{key}' has shape {z[key].shape}, expected {shape}"
        elif name.endswith(".pth.tar"):
            is_zip = head[:4] == b"PK\x03\x04"
            is_legacy = head[:2] == b"\x80\x02" and head[2:3] == b"\x8a"  # torch's pre-1.6 magic number
            if not (is_zip or is_legacy):
                return "not a PyTorch checkpoint"
            if is_zip and not zipfile.is_zipfile(path):
                return "the checkpoint archive is truncated"
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        return f"unreadable ({exc})"
    return None


def check_folder(folder: str | os.PathLike) -> list[FileStatus]:
    folder = Path(folder) if folder else Path()
    out = []
    for req in FILES:
        path = folder / req.name
        if not folder or not path.is_file():
            out.append(FileStatus(req.name, MISSING, "", req.source))
            continue
        problem = check_file(path)
        if problem:
            out.append(FileStatus(req.name, INVALID, problem, req.source))
        else:
            out.append(FileStatus(req.name, FOUND, f"{path.stat().st_size / 1e6:.1f} MB", req.source))
    return out


def ready_for_run(statuses: list[FileStatus]) -> bool:
    needed = {f.name for f in FILES if f.needed_for_run}
    return all(s.state == FOUND for s in statuses if s.name in needed)


def is_synthetic(folder: str | os.PathLike) -> bool:
    return bool(folder) and (Path(folder) / SYNTHETIC_MARKER).is_file()


def _collect_from_zip(src: Path, workdir: Path) -> dict[str, Path]:
    """Extract only the known file names (any folder depth) into workdir; no other paths."""
    found: dict[str, Path] = {}
    try:
        with zipfile.ZipFile(src) as zf:
            for info in zf.infolist():
                base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
                if info.is_dir() or base not in NAMES or base in found:
                    continue
                target = workdir / base
                with zf.open(info) as fin, open(target, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
                found[base] = target
    except zipfile.BadZipFile as exc:
        raise AddonError(f"{src.name} is not a readable zip file ({exc})") from exc
    return found


def _collect_from_folder(src: Path) -> dict[str, Path]:
    """Known names in the folder itself, else in its `base_data` or `data/base_data` subfolder."""
    for candidate in (src, src / "base_data", src / "data" / "base_data"):
        found = {n: candidate / n for n in NAMES if (candidate / n).is_file()}
        if found:
            return found
    return {}


def _source_is_synthetic(src: Path, found: dict[str, Path]) -> bool:
    if src.is_file():
        with zipfile.ZipFile(src) as zf:
            return any(n.replace("\\", "/").rsplit("/", 1)[-1] == SYNTHETIC_MARKER for n in zf.namelist())
    return (next(iter(found.values())).parent / SYNTHETIC_MARKER).is_file()


def install_model_data(src: str | os.PathLike, dest: str | os.PathLike) -> list[str]:
    """Copy the model files found in `src` (a folder or a zip in the official base_data layout)
    into `dest` after validating each. All-or-nothing: if any found file is invalid, nothing is
    copied. Returns the names installed. Raises AddonError with the reason."""
    src, dest = Path(src), Path(dest)
    if not src.exists():
        raise AddonError(f"{src} does not exist")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tcmr-install-", dir=dest) as tmp:
        tmp = Path(tmp)
        found = _collect_from_zip(src, tmp) if src.is_file() else _collect_from_folder(src)
        if not found:
            raise AddonError(
                f"no model data files in {src} (looked for {', '.join(NAMES)}); "
                "choose the official base_data folder or base_data.zip")
        bad = {n: check_file(p) for n, p in found.items()}
        bad = {n: why for n, why in bad.items() if why}
        if bad:
            raise AddonError("not installed, invalid files: "
                               + "; ".join(f"{n}: {why}" for n, why in sorted(bad.items())))
        staged = {}
        for name, path in found.items():
            part = tmp / (name + ".part")
            if path.parent == tmp:
                os.replace(path, part)
            else:
                shutil.copyfile(path, part)
            staged[name] = part
        for name, part in staged.items():
            os.replace(part, dest / name)
        marker = dest / SYNTHETIC_MARKER
        if _source_is_synthetic(src, found):
            marker.write_text("SYNTHETIC model data (installed from a synthetic source): "
                              "output made from it is meaningless.\n")
        elif marker.exists():
            marker.unlink()  # real files replaced synthetic ones
    return sorted(found)
