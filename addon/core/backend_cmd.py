"""Contract 1 from the add-on's side: argument lists and the environment for `python -m backend`.

Always an argument list, never a shell string (paths with spaces, quotes or non-ASCII letters
pass through unchanged). The backend package sits next to the add-on: inside the installed
extension it is `<addon dir>/backend`; in a source checkout it is `<repo>/backend`, beside
`<repo>/addon`. The process runs with that folder as cwd and first PYTHONPATH entry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PEOPLE = ("all", "longest", "largest")  # every person, or only the one seen longest / largest
SMOOTHING = ("none", "oneeuro", "slerp")  # backend `run --smooth` methods
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class RunSettings:
    """Everything that changes what `run` computes (and so the cache key), plus where it writes."""

    video: str
    out_dir: str
    data_dir: str = ""  # "" = the backend's default folder
    device: str = "auto"
    start: int | None = None  # first source frame (inclusive), None = from the start
    end: int | None = None  # last source frame (exclusive), None = to the end
    people: str = "all"  # "all" tracks, or only the main person: "longest" or "largest" seen
    smoothing: str = "oneeuro"
    bbox: tuple[int, int, int, int] | None = None  # one fixed person box (x, y, w, h) px: no detection
    detector: str = ""  # a YOLO ONNX person detector file; "" = the backend's built-in HOG detector

    def key_fields(self) -> dict:
        """The settings that change the result (no paths: the video enters by content hash)."""
        fields = {"start": self.start, "end": self.end, "people": self.people, "smoothing": self.smoothing,
                  "bbox": list(self.bbox) if self.bbox else None}
        return fields | ({"detector": str(self.detector)} if self.detector else {})


def parse_bbox(text: str) -> tuple[int, int, int, int] | None:
    """'x,y,w,h' (pixels, top-left and size) -> tuple; '' -> None. ValueError names the problem."""
    text = text.strip()
    if not text:
        return None
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    if len(parts) != 4:
        raise ValueError(f"a person box needs 4 numbers x,y,w,h, got '{text}'")
    x, y, w, h = (round(float(p)) for p in parts)
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ValueError(f"the person box '{text}' needs x, y >= 0 and a positive width and height")
    return x, y, w, h


def find_backend_root(addon_dir: str | os.PathLike) -> Path:
    """The folder that holds the `backend` package, for an installed zip or a source checkout."""
    addon_dir = Path(addon_dir).resolve()
    for root in (addon_dir, addon_dir.parent):
        if (root / "backend" / "__main__.py").is_file():
            return root
    raise FileNotFoundError(
        f"the backend package was not found next to the add-on ({addon_dir}); reinstall the add-on zip")


def base_argv(python: str, command: str, data_dir: str = "", device: str | None = None) -> list[str]:
    argv = [str(python), "-m", "backend", command, "--jsonl"]
    if data_dir:
        argv += ["--data-dir", str(data_dir)]
    if device is not None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
        argv += ["--device", device]
    return argv


def run_argv(python: str, s: RunSettings) -> list[str]:
    """`python -m backend run VIDEO --out DIR ...` as a list."""
    if s.people not in PEOPLE:
        raise ValueError(f"people must be one of {PEOPLE}, not {s.people!r}")
    if s.smoothing not in SMOOTHING:
        raise ValueError(f"smoothing must be one of {SMOOTHING}, not {s.smoothing!r}")
    argv = base_argv(python, "run", s.data_dir, s.device)
    argv += [str(s.video), "--out", str(s.out_dir)]
    if s.start is not None:
        argv += ["--start", str(int(s.start))]
    if s.end is not None:
        argv += ["--end", str(int(s.end))]
    if s.people != "all":
        argv += ["--main-person", s.people]
    argv += ["--smooth", s.smoothing]
    if s.bbox is not None:
        argv += ["--bbox", ",".join(str(int(v)) for v in s.bbox)]
    if s.detector:
        argv += ["--detector", str(s.detector)]
    return argv


def check_argv(python: str, data_dir: str = "") -> list[str]:
    return base_argv(python, "check", data_dir)


def selftest_argv(python: str, device: str = "cpu") -> list[str]:
    return base_argv(python, "selftest", "", device)


def backend_env(root: str | os.PathLike, base: dict | None = None) -> dict[str, str]:
    """Environment for the backend: `root` first on PYTHONPATH, UTF-8 and unbuffered stdio.

    PYTHONHOME and Blender's own PYTHONPATH are dropped: they would point the backend's Python
    at Blender's standard library.
    """
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONHOME", None)
    env["PYTHONPATH"] = str(root)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    return env


def short_data_root(platform: str | None = None, environ: dict | None = None,
                    home: str | None = None) -> Path:
    """The per-user data folder, the same path as platformdirs' `user_data_dir("tcmr-mocap",
    appauthor=False)` (which the backend uses), without needing platformdirs inside Blender.

    Short on purpose (Windows MAX_PATH: torch's deepest file needs ~120 characters below
    site-packages): the managed environment lives in `<root>/env` and model data in
    `<root>/base_data`.
    """
    import sys

    platform = platform or sys.platform
    environ = os.environ if environ is None else environ
    home = home or os.path.expanduser("~")
    if platform.startswith("win"):
        base = environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return Path(base) / "tcmr-mocap"
    if platform == "darwin":
        return Path(home) / "Library" / "Application Support" / "tcmr-mocap"
    base = environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    return Path(base) / "tcmr-mocap"


def venv_python(env_dir: str | os.PathLike, platform: str | None = None) -> Path:
    import sys

    platform = platform or sys.platform
    env_dir = Path(env_dir)
    return env_dir / "Scripts" / "python.exe" if platform.startswith("win") else env_dir / "bin" / "python"
