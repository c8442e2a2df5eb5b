"""TCMR Mocap: video to an animated SMPL character (Blender extension).

register/unregister only. Each module below owns its classes and registers them itself, so
the list is the one place that says what the add-on consists of. Modules under `core/` are
pure (numpy + stdlib, no bpy) and tested with plain pytest.
"""

import importlib

_MODULE_NAMES = (
    "preferences",  # AddonPreferences: backend Python, model data folder, device
    "properties",  # scene/window-manager properties of the panel and the running job
    "ops_import",  # tcmr.import_result
    "ops_export",  # tcmr.export_fbx
    "ops_process",  # tcmr.process_video (+ cancel), backend subprocess and polling
    "ops_bake",  # tcmr.bake_to_rig
    "panels",  # 3D Viewport sidebar "Mocap" tab: process, import, export
    "panel_bake",  # sidebar sub-panel: bake onto a rig, bone mapping editor
)


def _modules():
    return [importlib.import_module(f".{name}", __package__) for name in _MODULE_NAMES]


def register():
    for module in _modules():
        module.register()


def unregister():
    for module in reversed(_modules()):
        module.unregister()
