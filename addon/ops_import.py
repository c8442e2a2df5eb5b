"""`bpy.ops.tcmr.import_result(filepath=RESULT_DIR, data_dir=...)`: one character per track.

Everything is read and validated first (result.json, every track file, the SMPL model), then
built in one go inside one undo step. If building fails anyway, every datablock created by this
call is removed again, so the user's scene is exactly as before. Nothing existing is renamed,
replaced or deleted: new datablocks get unique names.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from .character import CharacterOptions, build_character, with_window
from .core.result_io import ResultError, load_all_tracks, read_result
from .core.smpl_model import SmplModelError, load_smpl_model
from .scene_camera import apply_scene_settings, build_camera
from .world_import import build_floor

SMPL_FILE = "SMPL_NEUTRAL.pkl"
_REST_JOINT_TOLERANCE = 0.005  # metres; beyond this the result came from another SMPL file
# bpy.data collections that an import may add to (checked for leftovers on failure).
_ID_COLLECTIONS = ("objects", "meshes", "armatures", "actions", "collections", "cameras", "shape_keys",
                   "movieclips", "images")


class ImportFailure(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class ImportReport:
    armatures: list[str] = field(default_factory=list)  # armature object names, track order
    camera: str = ""
    warnings: list[str] = field(default_factory=list)
    floor: str = ""  # the floor plane object of a grounded result, if one was built


def collection_name(result_name: str, track_id: int) -> str:
    """The per-track collection (docs/INTERNALS.md): `TCMR <result name> track <id>`."""
    return f"TCMR {result_name} track {track_id}"


def resolve_data_dir(context, explicit: str) -> Path:
    """The model data folder: `explicit` if given, else the add-on preferences' `data_dir`, else
    $TCMR_DATA_DIR (the backend's own override), else the add-on's default folder."""
    if explicit:
        return Path(bpy.path.abspath(explicit))
    addon = context.preferences.addons.get(__package__) if __package__ else None
    value = getattr(getattr(addon, "preferences", None), "data_dir", "")
    if value:
        return Path(bpy.path.abspath(value))
    env = os.environ.get("TCMR_DATA_DIR")
    if env:
        return Path(env)
    try:  # the default folder the preferences document (core/backend_cmd.py, product helper)
        from .core import backend_cmd

        return Path(backend_cmd.short_data_root()) / "base_data"
    except (ImportError, AttributeError):
        hint = "Set the model data folder in the add-on preferences (or pass data_dir=...)."
        raise ImportFailure("no model data folder is set", hint) from None


def _snapshot() -> dict[str, set[int]]:
    return {name: {idb.as_pointer() for idb in getattr(bpy.data, name)} for name in _ID_COLLECTIONS}


def _remove_new(before: dict[str, set[int]]) -> None:
    """Remove every datablock created since `before` (objects first, then their data)."""
    for name in _ID_COLLECTIONS:
        if name == "shape_keys":
            continue  # freed with their mesh
        coll = getattr(bpy.data, name)
        for idb in [idb for idb in coll if idb.as_pointer() not in before[name]]:
            with contextlib.suppress(ReferenceError, RuntimeError):
                coll.remove(idb)


def import_result(context, directory: str, data_dir: str = "", options: CharacterOptions | None = None,
                  set_scene: bool = True, floor_plane: bool = True) -> ImportReport:
    """Build the characters and camera of a result directory. Raises ImportFailure (and leaves
    nothing behind) on bad input. Used by the operator and by scripts/other operators."""
    options = options or CharacterOptions()
    try:
        info = read_result(bpy.path.abspath(directory) if directory else "")
        tracks = load_all_tracks(info)
    except ResultError as exc:
        raise ImportFailure(exc.message, exc.hint) from exc
    folder = resolve_data_dir(context, data_dir)
    try:
        model = load_smpl_model(folder / SMPL_FILE)
    except SmplModelError as exc:
        raise ImportFailure(exc.message, exc.hint) from exc

    report = ImportReport()
    if info.synthetic_model_data:
        report.warnings.append("this result was made with SYNTHETIC model data: the motion is meaningless")
    for track in tracks:
        if track.joints_rest is not None:
            gap = float(abs(model.rest_joints(track.betas) - track.joints_rest).max())
            if gap > _REST_JOINT_TOLERANCE:
                report.warnings.append(
                    f"track {track.id}: its rest joints differ by {gap * 1000:.0f} mm from {SMPL_FILE} "
                    "in the model data folder (was the result made with another SMPL file?)")

    if context.mode != "OBJECT" and context.view_layer.objects.active is not None:
        with with_window(context):
            bpy.ops.object.mode_set(mode="OBJECT")
    before = _snapshot()
    scene = context.scene
    try:
        root = bpy.data.collections.new(f"TCMR {info.name}")
        scene.collection.children.link(root)
        camera, warning, timing, note = build_camera(f"TCMR {info.name} camera", info, root)
        report.camera = camera.name
        report.warnings += [text for text in (warning, note) if text]
        for track in tracks:
            coll = bpy.data.collections.new(collection_name(info.name, track.id))
            root.children.link(coll)
            arm = build_character(context, model, track, coll, f"TCMR track {track.id}", options,
                                  timing)
            report.armatures.append(arm.name)
        if floor_plane and info.world is not None and info.world.ground_found:
            report.floor = build_floor(info, tracks, root).name
        if set_scene:
            apply_scene_settings(scene, info, timing, max(int(t.frame_index[-1]) for t in tracks))
            scene.camera = camera
    except Exception:
        _remove_new(before)
        raise
    if report.armatures:
        active = bpy.data.objects[report.armatures[0]]
        for obj in context.view_layer.objects:
            obj.select_set(False)
        active.select_set(True)
        context.view_layer.objects.active = active
    return report


class TCMR_OT_import_result(bpy.types.Operator):
    """Build one animated SMPL character per person of a mocap result directory"""

    bl_idname = "tcmr.import_result"
    bl_label = "Import Mocap Result"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Result folder", subtype="DIR_PATH",
                             description="Folder with result.json and track_*.npz written by the backend")
    directory: StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"})
    data_dir: StringProperty(name="Model data folder", subtype="DIR_PATH", default="",
                             description="Folder with SMPL_NEUTRAL.pkl (default: the add-on preferences)")
    pose_correctives: BoolProperty(
        name="Pose correctives", default=True,
        description="Key SMPL's 207 pose-corrective shape keys per frame (exact body; heavier scene)")
    set_scene: BoolProperty(name="Match scene to video", default=True,
                            description="Set fps, frame range, resolution and active camera from the video")
    floor_plane: BoolProperty(name="Floor plane", default=True,
                              description="Grounded results: a shadow-catcher plane at the floor (z = 0)")

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        directory = self.filepath or self.directory
        try:
            report = import_result(context, directory, self.data_dir,
                                   CharacterOptions(pose_correctives=self.pose_correctives), self.set_scene,
                                   self.floor_plane)
        except ImportFailure as exc:
            self.report({"ERROR"}, f"{exc.message}. {exc.hint}")
            return {"CANCELLED"}
        except Exception as exc:  # a bug: the scene was already restored by import_result
            self.report({"ERROR"}, f"Import failed ({type(exc).__name__}: {exc}); nothing was added. "
                        "Please report this with the result folder.")
            return {"CANCELLED"}
        for warning in report.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Imported {len(report.armatures)} character(s): {', '.join(report.armatures)}")
        return {"FINISHED"}


_CLASSES = (TCMR_OT_import_result,)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
