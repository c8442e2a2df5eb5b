"""Add-on preferences: the settings (backend Python, model data folder, device, results cache,
speed: the backbone's engine and precision) and how they are drawn. Nothing else: the values
with their defaults filled in are resolve.py's, the buttons drawn here are ops_prefs.py's
operators; the Speed choices, labels and tooltips are the backend's table (core.run_options).

Empty folders mean the defaults under one short per-user folder (`core.backend_cmd.
short_data_root`, e.g. ~/.local/share/tcmr-mocap): `env/` (managed environment),
`base_data/` (model data, the backend's own default too; $TCMR_DATA_DIR overrides it) and
`results/` (result cache).
"""

import time
from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from . import resolve
from .core import datacheck, run_options

DEVICE_ITEMS = (
    ("auto", "Auto", "CUDA when the backend's torch sees a GPU, else Apple Silicon's GPU (MPS), else CPU"),
    ("cpu", "CPU", "Always the CPU"),
    ("cuda", "CUDA", "NVIDIA GPU (fails with a clear message when unavailable)"),
    ("mps", "Apple GPU (MPS)", "Apple Silicon GPU through Metal (fails clearly when unavailable)"),
)
VARIANT_ITEMS = (
    ("cpu", "CPU", "torch for CPU only (smallest download)"),
    ("cu126", "CUDA 12.6", "NVIDIA GPUs up to the RTX 40 series"),
    ("cu128", "CUDA 12.8", "NVIDIA GPUs including the RTX 50 series"),
)
# Engine and precision: choices, labels and tooltips from the backend's table (core.run_options).
_ENGINE = run_options.option("engine")
_PRECISION = run_options.option("precision")
ENGINE_ITEMS = _ENGINE.enum_items()
PRECISION_ITEMS = _PRECISION.enum_items()
PYTHON_ITEMS = (
    ("MANAGED", "Managed Environment", "A Python environment the add-on creates for the backend"),
    ("CUSTOM", "Custom Interpreter",
     "A Python you installed yourself, with torch and the backend's packages"),
)


class TCMR_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    python_mode: EnumProperty(name="Backend Python", items=PYTHON_ITEMS, default="MANAGED")
    custom_python: StringProperty(name="Interpreter", subtype="FILE_PATH",
                                  description="python executable with torch, numpy<2, opencv, scipy, smplx")
    env_dir: StringProperty(name="Environment Folder", subtype="DIR_PATH",
                            description="Where the managed environment lives (keep it short on Windows); "
                                        "empty = default")
    torch_variant: EnumProperty(name="Torch Build", items=VARIANT_ITEMS, default="cpu")
    wheel_dir: StringProperty(name="Offline Wheels", subtype="DIR_PATH",
                              description="Install from this folder of .whl files only (no internet)")
    data_dir: StringProperty(name="Model Data", subtype="DIR_PATH",
                             description="Folder with the official TCMR base_data files; empty = default")
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto")
    results_dir: StringProperty(name="Results Cache", subtype="DIR_PATH",
                                description="Where finished results are kept for re-import; empty = default")
    detector_model: StringProperty(name="Person Detector", subtype="FILE_PATH",
                                   description="A YOLOv5/YOLOv8 ONNX export (COCO, class 0 = person); "
                                               "empty = the built-in HOG detector")
    engine: EnumProperty(name="Engine", items=ENGINE_ITEMS, default=_ENGINE.panel_default,
                         description="What runs the image network (the slowest stage on a CPU)")
    precision: EnumProperty(name="Precision", items=PRECISION_ITEMS, default=_PRECISION.panel_default,
                            description="Number format of the image network: fp32 is the reference; "
                                        "bf16 and INT8 are faster where the machine supports them")

    def draw(self, context):
        layout = self.layout
        draw_backend(layout, self, context)
        draw_model_data(layout, self)
        box = layout.box()
        box.label(text="Processing", icon="PREFERENCES")
        box.prop(self, "device")
        box.prop(self, "results_dir")
        box.prop(self, "detector_model")
        if not self.detector_model:
            box.label(text="Built-in HOG detector: unusual poses may be missed (see docs/detection.md)",
                      icon="INFO")
        draw_speed(layout, self)


# -- drawing -----------------------------------------------------------------------------------
def draw_backend(layout, prefs, context):
    box = layout.box()
    box.label(text="Backend", icon="CONSOLE")
    box.prop(prefs, "python_mode", expand=True)
    if prefs.python_mode == "MANAGED":
        box.prop(prefs, "env_dir")
        row = box.row()
        row.prop(prefs, "torch_variant")
        box.prop(prefs, "wheel_dir")
        py = Path(resolve.backend_python(prefs))
        box.label(text=f"Python: {py}" if py.exists() else "Not created yet",
                  icon="CHECKMARK" if py.exists() else "INFO")
        box.operator("tcmr.create_backend_env", icon="IMPORT",
                     text="Recreate Environment" if py.exists() else "Create Environment")
    else:
        box.prop(prefs, "custom_python")
    row = box.row()
    row.operator("tcmr.test_backend", icon="PLAY")
    row.operator("tcmr.selftest_backend", icon="EXPERIMENTAL")
    draw_aux_status(box, context)


def draw_speed(layout, prefs):
    box = layout.box()
    box.label(text="Speed", icon="SORTTIME")
    row = box.row()
    row.prop(prefs, "engine")
    row.prop(prefs, "precision")
    if prefs.precision != "fp32":
        box.label(text="Checked by the backend: it says so in the log and stays fp32 where it cannot help",
                  icon="INFO")


_CHECK_CACHE: dict = {}


def cached_check(folder: str) -> list:
    """datacheck.check_folder, recomputed only when a file's size or mtime changed (draw is hot)."""
    stamp = []
    for name in datacheck.NAMES:
        try:
            st = (Path(folder) / name).stat()
            stamp.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            stamp.append((name, None, None))
    key = (folder, tuple(stamp))
    if _CHECK_CACHE.get("key") != key or time.monotonic() - _CHECK_CACHE.get("at", 0) > 30:
        value = datacheck.check_folder(folder) if folder else []
        _CHECK_CACHE.update(key=key, at=time.monotonic(), value=value)
    return _CHECK_CACHE["value"]


def draw_model_data(layout, prefs):
    box = layout.box()
    box.label(text="Model Data", icon="FILE_FOLDER")
    box.prop(prefs, "data_dir")
    folder = resolve.data_dir(prefs)
    box.label(text=f"Folder: {folder}")
    if datacheck.is_synthetic(folder):
        box.label(text="SYNTHETIC test data: results are meaningless", icon="ERROR")
    col = box.column(align=True)
    for status in cached_check(folder):
        icon = {"found": "CHECKMARK", "missing": "X", "invalid": "ERROR"}[status.state]
        row = col.row()
        row.label(text=status.name, icon=icon)
        row.label(text=status.detail or status.state)
        if status.state != "found":
            col.label(text=f"    get it from: {status.source}")
    box.operator("tcmr.install_model_data", icon="IMPORT")


def draw_aux_status(layout, context):
    """Progress / answer of the last preferences job (wm.tcmr_aux)."""
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


register, unregister = bpy.utils.register_classes_factory((TCMR_AddonPreferences,))
