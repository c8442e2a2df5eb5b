"""Build a result directory into the scene: one animated character per track, and the camera.

`import_result(context, directory, data_dir)` is the plain function behind the
`tcmr.import_result` operator (ops_import.py), the video run's import and Re-import.

Everything is read and validated first (result.json, every track file, the SMPL model, and that
the result fits a Blender scene: core/scene_limits.py), then built in one go inside one undo
step. If building fails anyway, every datablock created by this call is removed again and the
scene's fps, frame range, render size and active camera are put back, so the user's scene is
exactly as before. Nothing existing is renamed,
replaced or deleted: new datablocks get unique names.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from . import resolve, track_props
from .character import CharacterOptions, build_character, with_window
from .core import scene_limits
from .core.errors import AddonError
from .core.result_io import load_all_tracks, read_result
from .core.smpl_model import SmplModelError, load_smpl_model
from .scene_camera import apply_scene_settings, build_camera
from .world_import import build_floor

SMPL_FILE = "SMPL_NEUTRAL.pkl"
_REST_JOINT_TOLERANCE = 0.005  # metres; beyond this the result came from another SMPL file
# bpy.data collections that an import may add to (checked for leftovers on failure).
_ID_COLLECTIONS = ("objects", "meshes", "armatures", "actions", "collections", "cameras", "shape_keys",
                   "movieclips", "images")
_RENDER_SETTINGS = ("fps", "fps_base", "resolution_x", "resolution_y", "resolution_percentage",
                    "pixel_aspect_x", "pixel_aspect_y")


@dataclass
class ImportReport:
    armatures: list[str] = field(default_factory=list)  # armature object names, track order
    camera: str = ""
    warnings: list[str] = field(default_factory=list)
    floor: str = ""  # the floor plane object of a grounded result, if one was built


def collection_name(result_name: str, track_id: int) -> str:
    """The per-track collection (docs/INTERNALS.md): `TCMR <result name> track <id>`."""
    return f"TCMR {result_name} track {track_id}"


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


def _scene_settings(scene) -> dict:
    """The scene values an import may change (fps, frame range, render size, active camera)."""
    render = scene.render
    return {"render": {name: getattr(render, name) for name in _RENDER_SETTINGS},
            "frame_start": scene.frame_start, "frame_end": scene.frame_end, "camera": scene.camera}


def _restore_scene(scene, saved: dict) -> None:
    for name, value in saved["render"].items():
        setattr(scene.render, name, value)
    scene.frame_start, scene.frame_end = saved["frame_start"], saved["frame_end"]
    with contextlib.suppress(ReferenceError):
        scene.camera = saved["camera"]


def _read_inputs(context, directory: str, data_dir: str):
    """(result info, tracks, SMPL model), everything validated; AddonError otherwise."""
    info = read_result(bpy.path.abspath(directory) if directory else "")
    tracks = load_all_tracks(info)
    scene_limits.check_fits_scene(info, tracks)
    folder = Path(resolve.data_dir(resolve.get_prefs(context), data_dir))
    try:
        model = load_smpl_model(folder / SMPL_FILE)
    except SmplModelError as exc:
        raise AddonError(exc.message, exc.hint) from exc
    return info, tracks, model


def _rest_joint_warnings(model, tracks) -> list[str]:
    warnings = []
    for track in tracks:
        if track.joints_rest is not None:
            gap = float(abs(model.rest_joints(track.betas) - track.joints_rest).max())
            if gap > _REST_JOINT_TOLERANCE:
                warnings.append(
                    f"track {track.id}: its rest joints differ by {gap * 1000:.0f} mm from {SMPL_FILE} "
                    "in the model data folder (was the result made with another SMPL file?)")
    return warnings


def _build(context, info, tracks, model, options: CharacterOptions, set_scene: bool,
           report: ImportReport, floor_plane: bool) -> None:
    """Camera, one character per track, then the scene settings (all new datablocks)."""
    scene = context.scene
    root = bpy.data.collections.new(f"TCMR {info.name}")
    scene.collection.children.link(root)
    camera, warning, timing, note = build_camera(f"TCMR {info.name} camera", info, root)
    scene_limits.check_frames(info, tracks, timing)  # Blender may read the video at another rate
    report.camera = camera.name
    report.warnings += [text for text in (warning, note) if text]
    for track in tracks:
        coll = bpy.data.collections.new(collection_name(info.name, track.id))
        root.children.link(coll)
        arm = build_character(context, model, track, coll, f"TCMR track {track.id}", options, timing)
        report.armatures.append(arm.name)
    if floor_plane and info.world is not None and info.world.ground_found:
        report.floor = build_floor(info, tracks, root).name
    if set_scene:
        apply_scene_settings(scene, info, timing, max(int(t.frame_index[-1]) for t in tracks))
        scene.camera = camera


def _select(context, name: str) -> None:
    active = bpy.data.objects[name]
    for obj in context.view_layer.objects:
        obj.select_set(False)
    active.select_set(True)
    context.view_layer.objects.active = active


def import_result(context, directory: str, data_dir: str = "", options: CharacterOptions | None = None,
                  set_scene: bool = True, floor_plane: bool = True) -> ImportReport:
    """Build the characters and camera of a result directory (in the world when the result is
    grounded; `floor_plane`: a shadow-catcher plane at z = 0 then). Raises AddonError on bad input;
    on any failure nothing is added and the scene's settings are as before. Used by the
    operator and by the other operators (process, re-import) and scripts."""
    options = options or CharacterOptions()
    info, tracks, model = _read_inputs(context, directory, data_dir)
    report = ImportReport()
    if info.synthetic_model_data:
        report.warnings.append("this result was made with SYNTHETIC model data: the motion is meaningless")
    report.warnings += _rest_joint_warnings(model, tracks)

    if context.mode != "OBJECT" and context.view_layer.objects.active is not None:
        with with_window(context):
            bpy.ops.object.mode_set(mode="OBJECT")
    before = _snapshot()
    saved = _scene_settings(context.scene)
    try:
        _build(context, info, tracks, model, options, set_scene, report, floor_plane)
    except BaseException:
        _remove_new(before)
        _restore_scene(context.scene, saved)
        raise
    track_props.tag_result(report.armatures, info.directory)
    if report.armatures:
        _select(context, report.armatures[0])
    return report
