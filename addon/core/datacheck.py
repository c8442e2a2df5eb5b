"""Light, pure check of a model data folder, and installing model data into it.

The add-on cannot import the backend (different Python), so the file table repeats
`backend.datafiles` (a test keeps both in step). The checks here are cheap and look at names
and basic formats only (file magic, array shapes, a few pickle keys); the backend's `check`
command loads everything for real.
"""

from __future__ import annotations

import errno
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AddonError

SMPL_SITE = "smplify.is.tue.mpg.de (basicModel_neutral_lbs_10_207_0_v1.0.0.pkl, renamed)"
TCMR_RELEASE = "TCMR release base_data.zip (hongsukchoi/TCMR_RELEASE, scripts/get_base_data.sh)"
SYNTHETIC_MARKER = "SYNTHETIC_MODEL_DATA.txt"


MB = 1 << 20


@dataclass(frozen=True)
class Required:
    name: str
    purpose: str
    source: str
    needed_for_run: bool
    max_bytes: int  # an install refuses a larger file (several times the official file's size)


# Official sizes: SMPL_NEUTRAL.pkl about 39 MB (posedirs 6890x3x207 float64 = 34 MB; a
# 300-beta model about 85 MB); J_regressor_extra (9, 6890) and J_regressor_h36m (17, 6890)
# float64 0.5 and 0.9 MB; smpl_mean_params.npz about 2 KB; the checkpoints a few hundred MB
# each (the TCMR one about 340 MB without optimizer state, more with it).
FILES = (
    Required("SMPL_NEUTRAL.pkl", "SMPL neutral body model", SMPL_SITE, True, 256 * MB),
    Required("J_regressor_extra.npy", "extra joint regressor (49 joints)", TCMR_RELEASE, True, 4 * MB),
    Required("J_regressor_h36m.npy", "Human3.6M joint regressor (evaluation only)", TCMR_RELEASE, False,
             4 * MB),
    Required("smpl_mean_params.npz", "mean SMPL parameters", TCMR_RELEASE, True, 1 * MB),
    Required("spin_model_checkpoint.pth.tar", "SPIN ResNet-50 backbone weights", TCMR_RELEASE, True,
             2048 * MB),
    Required("tcmr_demo_model.pth.tar", "TCMR network weights", TCMR_RELEASE, True, 3072 * MB),
)
MAX_BYTES = {f.name: f.max_bytes for f in FILES}
# A zip entry may not unpack to more than this many times its compressed size (weights barely
# compress; a "zip bomb" does by a factor of 1000), beyond a floor for small, sparse arrays.
MAX_RATIO = 50
RATIO_FLOOR_BYTES = 16 * MB
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


Progress = Callable[[int, int], None]  # (bytes copied so far, bytes to copy); may raise to stop


def _open_target(path: Path):
    return open(path, "wb")


def _copy_capped(fin, path: Path, limit: int, name: str, progress) -> None:
    """Stream `fin` into `path`, refusing (AddonError) once more than `limit` bytes came."""
    written = 0
    with _open_target(path) as fout:
        while block := fin.read(1 << 20):
            written += len(block)
            if written > limit:
                raise AddonError(f"not installed: {name} unpacks to more than {limit / MB:.0f} MB, far "
                                 "larger than the official file", "Use the official base_data.zip or files.")
            fout.write(block)
            progress(len(block))


def _zip_members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The first entry (any folder depth) of each known file name."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if not info.is_dir() and base in NAMES and base not in members:
            members[base] = info
    return members


def _entry_limit(info: zipfile.ZipInfo, name: str) -> int:
    """Most bytes entry `info` may unpack to; refuses one whose declared size is too large."""
    limit = min(MAX_BYTES[name], max(RATIO_FLOOR_BYTES, MAX_RATIO * info.compress_size))
    if info.file_size > limit:
        raise AddonError(f"not installed: {name} in the zip claims {info.file_size / MB:.0f} MB, more than "
                         f"the {limit / MB:.0f} MB a real one can be", "Use the official base_data.zip.")
    return limit


def _collect_from_zip(src: Path, workdir: Path, progress: Progress) -> dict[str, Path]:
    """Extract only the known file names (any folder depth) into workdir; no other paths.
    Each entry is capped (MAX_BYTES, MAX_RATIO) while it is written, whatever the zip claims."""
    found: dict[str, Path] = {}
    try:
        with zipfile.ZipFile(src) as zf:
            members = _zip_members(zf)
            limits = {name: _entry_limit(info, name) for name, info in members.items()}
            total, done = sum(info.file_size for info in members.values()), [0]

            def tick(n: int) -> None:
                done[0] += n
                progress(done[0], max(total, done[0]))

            for name, info in members.items():
                with zf.open(info) as fin:
                    _copy_capped(fin, workdir / name, limits[name], name, tick)
                found[name] = workdir / name
    except zipfile.BadZipFile as exc:
        raise AddonError(f"{src.name} is not a readable zip file ({exc})",
                         "Download base_data.zip again, or choose the unpacked base_data folder.") from exc
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


def _check_folder_sources(found: dict[str, Path]) -> None:
    for name, path in found.items():
        if path.stat().st_size > MAX_BYTES[name]:
            raise AddonError(f"not installed: {name} is {path.stat().st_size / MB:.0f} MB, far larger than "
                             f"the official file (at most {MAX_BYTES[name] / MB:.0f} MB)",
                             "Use the official base_data files.")


def _disk_error(exc: OSError, dest: Path) -> AddonError:
    if exc.errno == errno.ENOSPC:
        return AddonError(f"not installed: the disk of {dest} is full ({exc.strerror})",
                          "Free some space on that disk, or choose a model data folder on another disk.")
    return AddonError(f"not installed: cannot write into {dest} ({exc})",
                      "Choose a model data folder you can write to (add-on preferences).")


def _make_dest(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise AddonError(f"not installed: {dest} is a file, not a folder",
                         "Choose a folder as the model data folder (add-on preferences).")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _disk_error(exc, dest) from exc


def _stage_and_place(found: dict[str, Path], tmp: Path, dest: Path, progress: Progress) -> None:
    """Copy (folder source) or move (extracted) each file next to dest, then rename it in."""
    total, done = sum(p.stat().st_size for p in found.values()), [0]

    def tick(n: int) -> None:
        done[0] += n
        progress(done[0], max(total, done[0]))

    staged = {}
    for name, path in found.items():
        part = tmp / (name + ".part")
        if path.parent == tmp:
            os.replace(path, part)
        else:
            with open(path, "rb") as fin:
                _copy_capped(fin, part, MAX_BYTES[name], name, tick)
        staged[name] = part
    for name, part in staged.items():
        os.replace(part, dest / name)


def install_model_data(src: str | os.PathLike, dest: str | os.PathLike,
                       progress: Progress | None = None) -> list[str]:
    """Copy the model files found in `src` (a folder or a zip in the official base_data layout)
    into `dest` after validating each. All-or-nothing: if any found file is invalid or too large,
    nothing is copied. `progress(done, total)` (bytes) is called while copying. Returns the names
    installed. Raises AddonError with the reason and a hint (disk full, not a folder...)."""
    src, dest = Path(src), Path(dest)
    progress = progress or (lambda done, total: None)
    if not src.exists():
        raise AddonError(f"{src} does not exist", "Choose the official base_data folder or base_data.zip.")
    _make_dest(dest)
    try:
        with tempfile.TemporaryDirectory(prefix=".tcmr-install-", dir=dest) as tmp:
            return _install_via(src, dest, Path(tmp), progress)
    except OSError as exc:
        raise _disk_error(exc, dest) from exc


def _install_via(src: Path, dest: Path, tmp: Path, progress: Progress) -> list[str]:
    found = _collect_from_zip(src, tmp, progress) if src.is_file() else _collect_from_folder(src)
    if not found:
        raise AddonError(
            f"no model data files in {src} (looked for {', '.join(NAMES)})",
            "Choose the official base_data folder or base_data.zip.")
    if not src.is_file():
        _check_folder_sources(found)
    bad = {n: check_file(p) for n, p in found.items()}
    bad = {n: why for n, why in bad.items() if why}
    if bad:
        raise AddonError("not installed, invalid files: "
                         + "; ".join(f"{n}: {why}" for n, why in sorted(bad.items())),
                         "Get these files again from their official source (listed in the checklist).")
    _stage_and_place(found, tmp, dest, progress)
    marker = dest / SYNTHETIC_MARKER
    if _source_is_synthetic(src, found):
        marker.write_text("SYNTHETIC model data (installed from a synthetic source): "
                          "output made from it is meaningless.\n")
    elif marker.exists():
        marker.unlink()  # real files replaced synthetic ones
    return sorted(found)
