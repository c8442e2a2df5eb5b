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
    assert bpy.ops.tcmr.install_model_data(filepath=str(zpath), data_dir=str(dest), wait=True) == {"FINISHED"}
    assert all(s.state == datacheck.FOUND for s in datacheck.check_folder(dest))


def test_install_model_data_operator_refuses_invalid_files_and_copies_nothing(bpy_module, tmp_path):
    bpy = bpy_module
    src = _fake_official(tmp_path / "src")
    (src / "tcmr_demo_model.pth.tar").write_bytes(b"<html>404</html>")
    dest = tmp_path / "dest"
    with pytest.raises(RuntimeError, match=r"tcmr_demo_model\.pth\.tar: not a PyTorch checkpoint"):
        bpy.ops.tcmr.install_model_data(directory=str(src), data_dir=str(dest), wait=True)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_backend_buttons_name_the_fix_when_no_environment_exists(bpy_module, tmp_path, monkeypatch):
    from addon import resolve

    monkeypatch.setattr(resolve, "env_dir", lambda prefs: tmp_path / "no env")
    with pytest.raises(RuntimeError, match="Create the environment"):
        bpy_module.ops.tcmr.test_backend()
    with pytest.raises(RuntimeError, match="Create the environment"):
        bpy_module.ops.tcmr.selftest_backend()


def test_create_environment_runs_as_a_polled_job_and_reports_pip_failure(bpy_module, tmp_path):
    """Offline from an empty wheel folder: the job runs without blocking, shows its stages and
    ends with the installer's error and a hint; its log holds pip's output."""
    from pathlib import Path

    from addon import jobs
    from addon.core.backend_cmd import venv_python

    from .conftest import poll_until

    bpy = bpy_module
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    res = bpy.ops.tcmr.create_backend_env(env_dir=str(tmp_path / "env"), wheel_dir=str(wheels))
    assert res == {"FINISHED"}
    job = jobs.active_job("aux")
    assert job is not None and job.kind == "env"
    labels = set()
    wm = bpy.context.window_manager
    poll_until(jobs, job, 240, on_tick=lambda j: labels.add(wm.tcmr_aux.stage_label))
    st = bpy.context.window_manager.tcmr_aux
    assert st.error_code == "INSTALL_FAILED" and "wheel folder" in st.error_hint
    assert any("Installing" in label for label in labels)
    assert venv_python(tmp_path / "env").exists()  # the venv itself was made
    assert "pip" in Path(st.log_path).read_text()


def test_install_model_data_runs_off_the_main_thread_with_progress(bpy_module, tmp_path, monkeypatch):
    """The operator returns at once; the copy runs in the job's thread and the aux status shows
    its progress, then the answer."""
    import threading

    from addon import jobs

    from .conftest import poll_until

    bpy = bpy_module
    src = _fake_official(tmp_path / "src")
    release, threads = threading.Event(), []
    real = datacheck.install_model_data

    def slow_install(source, dest, progress=None):
        threads.append(threading.current_thread())
        assert release.wait(20), "the test never released the install"
        return real(source, dest, progress)

    monkeypatch.setattr(datacheck, "install_model_data", slow_install)
    dest = tmp_path / "dest"
    assert bpy.ops.tcmr.install_model_data(directory=str(src), data_dir=str(dest)) == {"FINISHED"}
    job = jobs.active_job("aux")
    assert job is not None and job.kind == "install" and bpy.context.window_manager.tcmr_aux.running
    factors = []
    wm = bpy.context.window_manager
    release.set()
    poll_until(jobs, job, 60, on_tick=lambda j: factors.append(wm.tcmr_aux.factor))
    assert threads and threads[0] is not threading.main_thread()
    st = wm.tcmr_aux
    assert st.error_code == "" and st.message.startswith(f"Installed {len(datacheck.NAMES)} file(s)")
    assert job.state.counts.get("progress", 0) >= 1 and max(factors) == 1.0
    assert all(s.state == datacheck.FOUND for s in datacheck.check_folder(dest))


def test_install_model_data_failure_shows_code_and_hint(bpy_module, tmp_path):
    bpy = bpy_module
    dest = tmp_path / "a file"
    dest.write_text("x")
    with pytest.raises(RuntimeError, match=r"INSTALL_FAILED.*is a file, not a folder.*Choose a folder"):
        bpy.ops.tcmr.install_model_data(directory=str(_fake_official(tmp_path / "src")), data_dir=str(dest),
                                        wait=True)
