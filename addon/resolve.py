"""The values the add-on works with: the preferences' settings with their defaults filled in.

The one place that turns "empty = default" into a path: the backend interpreter, the managed
environment, the model data folder (explicit > preferences > $TCMR_DATA_DIR > the per-user
default, `core.backend_cmd.default_data_dir`), the results cache, the device and the backbone's
engine and precision (the Speed box). When the add-on runs unregistered (imported as a plain
package by tests and scripts) the defaults apply.
"""

from __future__ import annotations

from pathlib import Path

import bpy

from .core import backend_cmd


def get_prefs(context=None):
    """The add-on's preferences, or None when it runs unregistered as a plain package."""
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


def _abspath(path: str) -> str:
    return bpy.path.abspath(path) if path else ""


def env_dir(prefs) -> Path:
    """Folder of the managed backend environment."""
    if prefs and prefs.env_dir:
        return Path(_abspath(prefs.env_dir))
    return backend_cmd.short_data_root() / "env"


def backend_python(prefs) -> str:
    """The interpreter that runs the backend: the custom one, or the managed environment's."""
    if prefs and prefs.python_mode == "CUSTOM":
        return _abspath(prefs.custom_python)
    return str(backend_cmd.venv_python(env_dir(prefs)))


def data_dir(prefs, explicit: str = "") -> str:
    """The model data folder: `explicit`, else the preferences' folder, else the default."""
    if explicit:
        return _abspath(explicit)
    if prefs and prefs.data_dir:
        return _abspath(prefs.data_dir)
    return str(backend_cmd.default_data_dir())


def results_dir(prefs) -> str:
    """The results cache (finished results kept for re-import, and the jobs' logs)."""
    if prefs and prefs.results_dir:
        return _abspath(prefs.results_dir)
    return str(backend_cmd.short_data_root() / "results")


def device(prefs) -> str:
    return prefs.device if prefs else "auto"


def detector(prefs) -> str | None:
    """The user's YOLO ONNX person detector file, or None for the backend's built-in HOG."""
    return _abspath(prefs.detector_model) if prefs and prefs.detector_model else None


def engine(prefs) -> str:
    """The backbone engine of the Speed box (a `run --engine` choice; the table's default unset)."""
    return prefs.engine if prefs else backend_cmd.RunSettings.engine


def precision(prefs) -> str:
    """The backbone precision of the Speed box (a `run --precision` choice)."""
    return prefs.precision if prefs else backend_cmd.RunSettings.precision
