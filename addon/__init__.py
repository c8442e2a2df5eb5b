"""TCMR Mocap: video to an animated SMPL character (Blender extension).

register/unregister only. `_MODULE_NAMES` is the one list of the modules that register Blender
classes (each owns its classes and registers only those). The other modules hold plain
functions the operators call: `jobs` (the job engine: background processes and threads, polled
by a timer), `video_run` (a run's settings and its job), `aux_jobs` (the preferences' jobs),
`importer` (a result into the scene), `resolve` (settings with their defaults), `character`,
`scene_camera`, `retarget`, `anim_shim`. Modules under `core/` are pure (numpy + stdlib, no
bpy) and tested with plain pytest.
"""

import importlib

_MODULE_NAMES = (
    "preferences",  # AddonPreferences: backend Python, model data folder, device (settings + drawing)
    "properties",  # scene/window-manager properties of the panel and the running job
    "ops_import",  # tcmr.import_result
    "ops_lifted",  # tcmr.import_lifted (a `lift` output as an H36M armature)
    "ops_export",  # tcmr.export_fbx
    "ops_process",  # tcmr.process_video, cancel_job, job_report, open_log, reimport
    "ops_prefs",  # tcmr.create_backend_env, test_backend, selftest_backend, install_model_data
    "ops_bake",  # tcmr.bake_to_rig and the bone-map editor's operators
    "panels",  # 3D Viewport sidebar "Mocap" tab: process, recent results, import, export
    "panel_bake",  # sidebar sub-panel: bake onto a rig, bone mapping editor
    "ops_edit",  # tcmr.merge_tracks, split_track, swap_tracks, delete_track, jump_to_frame
    "panel_edit",  # sidebar sub-panel: the active character's low-confidence frames and track edits
)


def _modules():
    return [importlib.import_module(f".{name}", __package__) for name in _MODULE_NAMES]


def register():
    for module in _modules():
        module.register()


def unregister():
    for module in reversed(_modules()):
        module.unregister()
