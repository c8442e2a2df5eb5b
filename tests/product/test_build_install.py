"""build.py makes a zip Blender's own validator accepts; installing it into an isolated user
folder with the bpy module registers the add-on, whose operators then run the backend that
was shipped inside the zip."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(REPO / "build.py"), "--out", str(out)], capture_output=True,
                          text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def test_zip_layout_has_addon_backend_and_manifest_but_no_weights(built_zip):
    assert built_zip.name == "tcmr_mocap-0.1.0.zip"
    names = zipfile.ZipFile(built_zip).namelist()
    for needed in ("blender_manifest.toml", "__init__.py", "ops_process.py", "jobs.py", "core/protocol.py",
                   "backend/run_options.json",
                   "core/envsetup.py", "backend/__main__.py", "backend/cli.py", "backend/commands/run.py"):
        assert needed in names
    heavy = [n for n in names if n.endswith((".pth", ".tar", ".pt", ".onnx", ".pkl", ".npz", ".npy", ".whl"))]
    assert heavy == []
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)
    assert built_zip.stat().st_size < 2_000_000


def test_blender_validator_rejects_a_bad_manifest(tmp_path):
    """The validator build.py relies on really checks the rules (so a passing build means something)."""
    import build

    cli = build.blender_ext_cli()
    src = build.stage(tmp_path / "pkg")
    manifest = (src / "blender_manifest.toml").read_text()
    (src / "blender_manifest.toml").write_text(manifest.replace('id = "tcmr_mocap"', 'id = "tcmr-mocap"'))
    proc = subprocess.run([sys.executable, str(cli), "validate", str(src)], capture_output=True, text=True)
    assert proc.returncode != 0 and "id" in (proc.stdout + proc.stderr)


_INSTALL_SCRIPT = r"""
import json, sys, time
import bpy
zip_path, python, data_dir, report_path = sys.argv[1:5]
res = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
import importlib
mod = importlib.import_module("bl_ext.user_default.tcmr_mocap")
jobs = importlib.import_module("bl_ext.user_default.tcmr_mocap.jobs")
prefs = bpy.context.preferences.addons["bl_ext.user_default.tcmr_mocap"].preferences
prefs.python_mode = "CUSTOM"
prefs.custom_python = python
prefs.data_dir = data_dir
prefs_mod = importlib.import_module("bl_ext.user_default.tcmr_mocap.resolve")
out = {"install": sorted(res), "module_file": mod.__file__, "panel": hasattr(bpy.types, "TCMR_PT_main"),
       "python_resolved": prefs_mod.backend_python(prefs)}
bpy.ops.tcmr.test_backend()
job = jobs._JOBS["aux"]
deadline = time.monotonic() + 120
while not job.done and time.monotonic() < deadline:
    jobs.poll_jobs()
    time.sleep(0.05)
st = bpy.context.window_manager.tcmr_aux
out.update(done=job.done, backend_version=job.state.backend_version, cwd=str(job.process.argv),
           error=[st.error_code, st.error_message, st.error_hint], message=st.message,
           log=open(st.log_path).read())
json.dump(out, open(report_path, "w"))
"""


def test_install_zip_in_isolated_blender_and_run_the_shipped_backend(built_zip, tmp_path, model_data_dir):
    user = tmp_path / "blender user"
    script = tmp_path / "install.py"
    script.write_text(_INSTALL_SCRIPT)
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["BLENDER_USER_RESOURCES"] = str(user)
    workdir = tmp_path / "elsewhere"  # neither cwd nor sys.path holds the repository
    workdir.mkdir()
    proc = subprocess.run([sys.executable, str(script), str(built_zip), sys.executable, str(model_data_dir),
                           str(report)], cwd=workdir, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(report.read_text())
    assert out["install"] == ["FINISHED"]
    assert str(user) in out["module_file"]  # the installed copy, not the repository
    assert out["panel"] is True
    assert out["python_resolved"] == sys.executable
    assert out["done"] is True
    assert out["backend_version"] == "0.1.0"  # the backend inside the zip answered the protocol
    installed = Path(out["module_file"]).parent
    assert (installed / "backend" / "__main__.py").is_file()
    # `check` on the complete synthetic folder: an answer, not an error
    assert out["error"][0] == "", out["error"]
    assert "check" in out["message"]
