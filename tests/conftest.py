"""Shared fixtures. Area-specific fixtures live in each test folder's own conftest.py.

`model_data_dir` is a complete *synthetic* model data folder in the official formats
(backend.synthetic): random weights and a made-up body, written once per test session.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_data_dir(tmp_path_factory):
    """Synthetic base_data folder. Set TCMR_TEST_DATA_CACHE=/some/dir locally to reuse one
    between runs (CI never sets it, so CI always writes a fresh one)."""
    from backend.synthetic import SYNTHETIC_MARKER, write_model_data

    cache = os.environ.get("TCMR_TEST_DATA_CACHE")
    if cache:
        folder = Path(cache)
        if not (folder / SYNTHETIC_MARKER).exists() or not (folder / "tcmr_demo_model.pth.tar").exists():
            write_model_data(folder, seed=0)
        return folder
    return write_model_data(tmp_path_factory.mktemp("base_data"), seed=0)


@pytest.fixture(scope="session")
def vibe_data_dir(model_data_dir, tmp_path_factory):
    """`model_data_dir` (as symlinks) plus a synthetic vibe_model_wo_3dpw.pth.tar (official VIBE layout)."""
    from backend.synthetic import write_vibe_checkpoint

    folder = tmp_path_factory.mktemp("vibe_data")
    for f in model_data_dir.iterdir():
        if not f.name.startswith("vibe_model"):
            os.symlink(f, folder / f.name)
    write_vibe_checkpoint(folder, seed=0)
    return folder


@pytest.fixture(scope="session")
def smpl_data(model_data_dir):
    from backend.smpl_file import load_smpl

    return load_smpl(model_data_dir / "SMPL_NEUTRAL.pkl")


@pytest.fixture
def bpy_module():
    """Blender as a module with factory settings and the add-on registered (bpy tests only)."""
    import bpy  # installed by scripts/setup.sh: bpy tests are never skipped

    import addon

    bpy.ops.wm.read_factory_settings(use_empty=True)
    with contextlib.suppress(ValueError):  # already registered in this process
        addon.register()
    yield bpy
