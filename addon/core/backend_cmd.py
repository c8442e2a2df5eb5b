"""Contract 1 from the add-on's side: argument lists and the environment for `python -m backend`
(docs/contracts.md).

Always an argument list, never a shell string (paths with spaces, quotes or non-ASCII letters
pass through unchanged). The backend package sits next to the add-on (core.layout); the process
runs with that folder as cwd and first PYTHONPATH entry. The run options' flags, choices and
defaults come from the backend's own table (core.run_options).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import run_options

DEVICES = ("auto", "cpu", "cuda", "mps")  # backend.device.DEVICES (pinned equal by a test)
# The run options the add-on sets (RunConfig names); their flags, choices and defaults come from
# the backend's table (core.run_options).
RUN_OPTIONS = ("start", "end", "main_person", "smooth", "bbox", "ground", "foot_lock", "model",
               "detector", "save_features", "engine", "precision")
# Sent to the backend but not part of the result cache key: the engine changes the speed, not the
# result (ONNX Runtime fp32 equals torch fp32 within ~1e-6 relative; docs/addon_architecture.md).
NOT_IN_KEY = ("engine",)


@dataclass(frozen=True)
class RunSettings:
    """Everything that changes what `run` computes (and so the cache key), plus where it writes.
    Field names are the backend's RunConfig names; defaults are the add-on's (core.run_options)."""

    video: str
    out_dir: str
    data_dir: str = ""  # "" = the backend's default folder
    device: str = "auto"
    start: int | None = None  # first source frame (inclusive), None = from the start
    end: int | None = None  # last source frame (exclusive), None = to the end
    main_person: str = run_options.option("main_person").panel_default  # none = every person
    smooth: str = run_options.option("smooth").panel_default  # oneeuro in the add-on, none in the CLI
    bbox: tuple[int, int, int, int] | None = None  # one fixed person box (x, y, w, h) px: no detection
    ground: str = run_options.option("ground").panel_default  # auto: the motion in a world (floor, camera)
    foot_lock: str = run_options.option("foot_lock").panel_default  # auto: planted feet stay planted
    model: str = run_options.option("model").panel_default  # temporal model: tcmr | vibe
    detector: str | None = None  # a YOLO ONNX person detector file; None = the backend's built-in HOG
    save_features: bool = run_options.option("save_features").panel_default  # on: results can be edited
    engine: str = run_options.option("engine").panel_default  # backbone engine: auto | torch | onnxruntime
    precision: str = run_options.option("precision").panel_default  # backbone precision: fp32 | bf16 | int8

    def key_fields(self) -> dict:
        """The settings that change the result (no paths: the video enters by content hash; not
        NOT_IN_KEY, which change only the speed)."""
        return {name: (list(v) if isinstance(v := getattr(self, name), tuple) else v)
                for name in RUN_OPTIONS if name not in NOT_IN_KEY}

    def cache_fields(self) -> dict:
        """key_fields plus the backend's defaults of the result-changing options the add-on does not
        send (not paths, not NOT_IN_KEY): when a backend update changes one of them (e.g. how often
        the detector runs), older cached results stop matching instead of being served as current."""
        table = run_options.options()
        unsent = {name: opt.default for name, opt in sorted(table.items())
                  if name not in RUN_OPTIONS and name not in NOT_IN_KEY and opt.type != "path"}
        return {**self.key_fields(), "backend_defaults": unsent}


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


def base_argv(python: str, command: str, data_dir: str = "", device: str | None = None) -> list[str]:
    argv = [str(python), "-m", "backend", command, "--jsonl"]
    if data_dir:
        argv += ["--data-dir", str(data_dir)]
    if device is not None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
        argv += ["--device", device]
    return argv


def _option_argv(name: str, value) -> list[str]:
    """The flag and value of one run option, [] when the backend's default already says it.
    An option whose panel default differs from the CLI's (`ui_default`) is always sent."""
    opt = run_options.option(name)
    if value is None or (value == opt.default and opt.ui_default is None):
        return []
    if opt.choices is not None and value not in opt.choices:
        raise ValueError(f"{name} must be one of {opt.choices}, not {value!r}")
    if opt.type == "bool":
        return [opt.flag] if bool(value) != bool(opt.default) else []  # a switch away from the default
    if opt.type == "bbox":
        return [opt.flag, ",".join(str(int(v)) for v in value)]
    return [opt.flag, str(int(value)) if opt.type == "int" else str(value)]


def run_argv(python: str, s: RunSettings) -> list[str]:
    """`python -m backend run VIDEO --out DIR ...` as a list."""
    argv = base_argv(python, "run", s.data_dir, s.device)
    argv += [str(s.video), "--out", str(s.out_dir)]
    for name in RUN_OPTIONS:
        argv += _option_argv(name, getattr(s, name))
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


ENV_DATA_DIR = "TCMR_DATA_DIR"  # the backend's override of its default model data folder


def default_data_dir(environ: dict | None = None) -> Path:
    """The model data folder when none is chosen, in the backend's order: $TCMR_DATA_DIR, else
    `<short_data_root>/base_data` (backend/datafiles.py resolves the same way)."""
    environ = os.environ if environ is None else environ
    env = environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    return short_data_root(environ=environ) / "base_data"


def venv_python(env_dir: str | os.PathLike, platform: str | None = None) -> Path:
    import sys

    platform = platform or sys.platform
    env_dir = Path(env_dir)
    return env_dir / "Scripts" / "python.exe" if platform.startswith("win") else env_dir / "bin" / "python"
