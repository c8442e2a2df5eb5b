"""The preferences' buttons: `tcmr.create_backend_env`, `tcmr.test_backend`,
`tcmr.selftest_backend`, `tcmr.install_model_data`. Thin: each resolves its inputs (resolve.py)
and starts a job (aux_jobs.py); `wait=True` blocks until it ended (scripts and tests).
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from . import aux_jobs, jobs, resolve
from .core.errors import AddonError

_WAIT = {"name": "Wait", "default": False, "description": "Block until done (scripts)",
         "options": {"SKIP_SAVE"}}


def _start(operator, context, start) -> set[str]:
    """Run `start(log_dir)` (it returns the job); report a refusal as the operator's error."""
    try:
        job = start(resolve.results_dir(resolve.get_prefs(context)))
    except AddonError as exc:
        operator.report({"ERROR"}, exc.report_text())
        return {"CANCELLED"}
    except (OSError, RuntimeError) as exc:
        operator.report({"ERROR"}, f"Could not start: {exc}")
        return {"CANCELLED"}
    return jobs.wait_and_report(operator, job) if operator.wait else {"FINISHED"}


def _backend_python(context) -> str:
    """The configured backend interpreter; AddonError when it does not exist yet."""
    python = resolve.backend_python(resolve.get_prefs(context))
    if not Path(python).is_file():
        raise AddonError(f"Backend Python not found: {python}", "Create the environment first.")
    return python


class TCMR_OT_create_backend_env(bpy.types.Operator):
    """Create the backend's own Python environment (a venv from Blender's Python) and install
    torch and the backend's packages into it"""

    bl_idname = "tcmr.create_backend_env"
    bl_label = "Create Environment"
    bl_options = {"REGISTER"}

    env_dir: StringProperty(name="Environment Folder", subtype="DIR_PATH", description="Empty = preferences")
    wheel_dir: StringProperty(name="Offline Wheels", subtype="DIR_PATH", description="Empty = preferences")
    wait: BoolProperty(**_WAIT)

    def execute(self, context):
        prefs = resolve.get_prefs(context)
        env = Path(bpy.path.abspath(self.env_dir)) if self.env_dir else resolve.env_dir(prefs)
        wheels = bpy.path.abspath(self.wheel_dir or (prefs.wheel_dir if prefs else ""))
        if not wheels and not bpy.app.online_access:
            self.report({"ERROR"}, "Online access is off. Allow it in Preferences > System > Network, "
                                   "or choose an offline wheel folder")
            return {"CANCELLED"}
        variant = prefs.torch_variant if prefs else "cpu"
        return _start(self, context, lambda logs: aux_jobs.start_env_setup(logs, env, variant, wheels))


class TCMR_OT_test_backend(bpy.types.Operator):
    """Run `python -m backend check` with the chosen Python and model data folder and show the answer"""

    bl_idname = "tcmr.test_backend"
    bl_label = "Test Backend"
    bl_options = {"REGISTER"}

    wait: BoolProperty(**_WAIT)

    def execute(self, context):
        data_dir = resolve.data_dir(resolve.get_prefs(context))
        return _start(self, context,
                      lambda logs: aux_jobs.start_check(logs, _backend_python(context), data_dir))


class TCMR_OT_selftest_backend(bpy.types.Operator):
    """Run the backend's selftest on SYNTHETIC model files: tells a broken install from missing data"""

    bl_idname = "tcmr.selftest_backend"
    bl_label = "Selftest"
    bl_options = {"REGISTER"}

    wait: BoolProperty(**_WAIT)

    def execute(self, context):
        return _start(self, context, lambda logs: aux_jobs.start_selftest(logs, _backend_python(context)))


class TCMR_OT_install_model_data(bpy.types.Operator):
    """Copy the official model data (a base_data folder or base_data.zip) into the model data
    folder after checking each file's name, size and format (in the background, with progress)"""

    bl_idname = "tcmr.install_model_data"
    bl_label = "Install Model Data"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="Folder or Zip", subtype="FILE_PATH")
    directory: StringProperty(subtype="DIR_PATH")
    data_dir: StringProperty(name="Install Into", subtype="DIR_PATH", description="Empty = preferences")
    wait: BoolProperty(**_WAIT)

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        src = bpy.path.abspath(self.filepath) if self.filepath else ""
        if (not src or not Path(src).exists()) and self.directory:  # a folder picked in the browser
            src = bpy.path.abspath(self.directory)
        dest = resolve.data_dir(resolve.get_prefs(context), self.data_dir)
        return _start(self, context, lambda logs: aux_jobs.start_install(logs, src, dest))


_CLASSES = (TCMR_OT_create_backend_env, TCMR_OT_test_backend, TCMR_OT_selftest_backend,
            TCMR_OT_install_model_data)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
