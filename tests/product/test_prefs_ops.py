"""Preferences operators in the bpy module: install model data (zip / folder), and the
refusals that name the fix."""

from __future__ import annotations

import zipfile

import pytest

from addon.core import datacheck

from .test_core_cache_datacheck import _fake_official


def test_install_model_data_operator_from_zip_then_checklist_is_complete(bpy_module, tmp_path):
    bpy = bpy_module
    src = _fake_official(tmp_path / "src")
    zpath = tmp_path / "base_data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in src.iterdir():
            zf.write(p, f"base_data/{p.name}")
    dest = tmp_path / "model data"
    assert bpy.ops.tcmr.install_model_data(filepath=str(zpath), data_dir=str(dest)) == {"FINISHED"}
    assert all(s.state == datacheck.FOUND for s in datacheck.check_folder(dest))


def test_install_model_data_operator_refuses_invalid_files_and_copies_nothing(bpy_module, tmp_path):
    bpy = bpy_module
    src = _fake_official(tmp_path / "src")
    (src / "tcmr_demo_model.pth.tar").write_bytes(b"<html>404</html>")
    dest = tmp_path / "dest"
    with pytest.raises(RuntimeError, match=r"tcmr_demo_model\.pth\.tar: not a PyTorch checkpoint"):
        bpy.ops.tcmr.install_model_data(directory=str(src), data_dir=str(dest))
    assert not dest.exists() or list(dest.iterdir()) == []


def test_backend_buttons_name_the_fix_when_no_environment_exists(bpy_module, tmp_path, monkeypatch):
    from addon import preferences

    monkeypatch.setattr(preferences, "env_dir", lambda prefs: tmp_path / "no env")
    with pytest.raises(RuntimeError, match="Create the environment"):
        bpy_module.ops.tcmr.test_backend()
    with pytest.raises(RuntimeError, match="Create the environment"):
        bpy_module.ops.tcmr.selftest_backend()
