"""Preferences jobs: create the managed backend environment, test the backend, run its
selftest, install model data. All run as child processes through ops_process' job machinery
(status in `wm.tcmr_aux`), so Blender stays responsive while pip downloads torch."""

import sys
import time
from pathlib import Path

import bpy
from bpy.props import StringProperty

from .core import backend_cmd, datacheck


def _prefs_mod():
    from . import preferences

    return preferences


def _ops():
    from . import ops_process

    return ops_process


def _log_path(name: str) -> Path:
    prefs = _prefs_mod()
    root = Path(prefs.results_dir(prefs.get_prefs())) / "logs"
    return root / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"


def _start(operator, kind: str, argv: list[str], on_finish=None, cwd=None):
    ops = _ops()
    try:
        ops.start_job(kind, argv, _log_path(kind), on_finish=on_finish, cwd=cwd)
    except (OSError, RuntimeError) as exc:
        operator.report({"ERROR"}, f"Could not start: {exc}")
        return {"CANCELLED"}
    return {"FINISHED"}


class TCMR_OT_create_backend_env(bpy.types.Operator):
    """Create the backend's own Python environment (a venv from Blender's Python) and install
    torch and the backend's packages into it"""

    bl_idname = "tcmr.create_backend_env"
    bl_label = "Create Environment"
    bl_options = {"REGISTER"}

    env_dir: StringProperty(name="Environment Folder", subtype="DIR_PATH", description="Empty = preferences")
    wheel_dir: StringProperty(name="Offline Wheels", subtype="DIR_PATH", description="Empty = preferences")

    def execute(self, context):
        prefs_mod = _prefs_mod()
        prefs = prefs_mod.get_prefs(context)
        env = Path(bpy.path.abspath(self.env_dir)) if self.env_dir else prefs_mod.env_dir(prefs)
        wheels = bpy.path.abspath(self.wheel_dir or (prefs.wheel_dir if prefs else ""))
        if not wheels and not bpy.app.online_access:
            self.report({"ERROR"}, "Online access is off. Allow it in Preferences > System > Network, "
                                   "or choose an offline wheel folder")
            return {"CANCELLED"}
        script = Path(__file__).resolve().parent / "core" / "envsetup.py"
        argv = [sys.executable, str(script), "--env", str(env), "--variant",
                prefs.torch_variant if prefs else "cpu"]
        if wheels:
            argv += ["--wheels", wheels]
        return _start(self, "env", argv, on_finish=_env_done, cwd=str(script.parent))


def _env_done(job):
    st = _ops().status_of(job.kind)
    if not job.state.error:
        st.message = f"Environment ready: torch {job.result_fields.get('torch', '?')}"


def _backend_python(operator, context):
    """(interpreter path, prefs) of the configured backend; (None, prefs) after reporting when it
    does not exist yet."""
    prefs_mod = _prefs_mod()
    prefs = prefs_mod.get_prefs(context)
    python = prefs_mod.backend_python(prefs)
    if not Path(python).is_file():
        operator.report({"ERROR"}, f"Backend Python not found: {python}. Create the environment first")
        return None, prefs
    return python, prefs


class TCMR_OT_test_backend(bpy.types.Operator):
    """Run `python -m backend check` with the chosen Python and model data folder and show the answer"""

    bl_idname = "tcmr.test_backend"
    bl_label = "Test Backend"
    bl_options = {"REGISTER"}

    def execute(self, context):
        python, prefs = _backend_python(self, context)
        if python is None:
            return {"CANCELLED"}
        argv = backend_cmd.check_argv(python, _prefs_mod().data_dir(prefs))
        return _start(self, "check", argv, on_finish=_answer_done)


class TCMR_OT_selftest_backend(bpy.types.Operator):
    """Run the backend's selftest on SYNTHETIC model files: tells a broken install from missing data"""

    bl_idname = "tcmr.selftest_backend"
    bl_label = "Selftest"
    bl_options = {"REGISTER"}

    def execute(self, context):
        python, _ = _backend_python(self, context)
        if python is None:
            return {"CANCELLED"}
        return _start(self, "selftest", backend_cmd.selftest_argv(python, "cpu"), on_finish=_answer_done)


def _answer_done(job):
    st = _ops().status_of(job.kind)
    if job.state.error:
        return
    fields = job.result_fields
    if job.kind == "check":
        files = fields.get("files") if isinstance(fields.get("files"), list) else []
        found = sum(1 for f in files if isinstance(f, dict) and f.get("status") == "found")
        synthetic = " (SYNTHETIC test data)" if datacheck.is_synthetic(fields.get("path", "")) else ""
        st.message = f"check: model data complete, {found} files found{synthetic}"
    else:
        st.message = f"{job.kind}: {fields.get('summary') or 'OK'}"


class TCMR_OT_install_model_data(bpy.types.Operator):
    """Copy the official model data (a base_data folder or base_data.zip) into the model data
    folder after checking each file's name and format"""

    bl_idname = "tcmr.install_model_data"
    bl_label = "Install Model Data"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="Folder or Zip", subtype="FILE_PATH")
    directory: StringProperty(subtype="DIR_PATH")
    data_dir: StringProperty(name="Install Into", subtype="DIR_PATH", description="Empty = preferences")

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        prefs_mod = _prefs_mod()
        src = bpy.path.abspath(self.filepath) if self.filepath else ""
        if (not src or not Path(src).exists()) and self.directory:  # a folder picked in the browser
            src = bpy.path.abspath(self.directory)
        if not src:
            self.report({"ERROR"}, "Choose the official base_data folder or base_data.zip to install from")
            return {"CANCELLED"}
        prefs = prefs_mod.get_prefs(context)
        dest = bpy.path.abspath(self.data_dir) if self.data_dir else prefs_mod.data_dir(prefs)
        try:
            names = datacheck.install_model_data(src, dest)
        except datacheck.InstallError as exc:
            self.report({"ERROR"}, f"{exc}")
            return {"CANCELLED"}
        missing = [s.name for s in datacheck.check_folder(dest) if s.state != datacheck.FOUND]
        self.report({"INFO"}, f"Installed {len(names)} file(s) into {dest}"
                              + (f"; still missing: {', '.join(missing)}" if missing else ""))
        return {"FINISHED"}


def draw_aux_status(layout, context):
    """Progress / answer of the last preferences job."""
    st = context.window_manager.tcmr_aux
    if st.running:
        row = layout.row()
        row.progress(factor=st.factor, type="BAR", text=f"{st.stage_label}")
        row.operator("tcmr.cancel_job", text="", icon="X").slot = "aux"
    elif st.error_code:
        box = layout.box()
        box.label(text=f"[{st.error_code}] {st.error_message}", icon="ERROR")
        if st.error_hint:
            box.label(text=st.error_hint, icon="INFO")
    elif st.message:
        layout.label(text=st.message, icon="CHECKMARK")
    if st.log_path:
        layout.operator("tcmr.open_log", icon="TEXT").slot = "aux"


_CLASSES = (TCMR_OT_create_backend_env, TCMR_OT_test_backend, TCMR_OT_selftest_backend,
            TCMR_OT_install_model_data)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
