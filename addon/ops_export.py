"""`bpy.ops.tcmr.export_fbx(filepath=..., target='UNITY'|'UNREAL'|'GENERIC', object=...)`.

Exports one character (the armature plus the meshes parented to it) with the preset of the
target engine (core/fbx_presets.py, docs/fbx_presets.md): 24 deform bones, no leaf bones, only
this character's action as one baked take, shape keys kept. The user's selection, active
object, frame and frame range are restored afterwards. The take spans the character's own keyed
frames (a person seen in part of the video gets just those frames), at absolute times.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from .anim_shim import action_fcurves
from .core.errors import AddonError
from .core.fbx_presets import ARMATURE_NODE_NAME, TARGETS, export_settings

_TARGET_ITEMS = (
    ("UNITY", "Unity", "Metres, Y up, unit scale 100 with object scale 1"),
    ("UNREAL", "Unreal", "Centimetres, Z up, X forward"),
    ("GENERIC", "Generic", "FBX defaults for DCC tools: Y up, -Z forward, centimetres"),
)
assert tuple(item[0] for item in _TARGET_ITEMS) == TARGETS


def _character_armature(context, name: str):
    obj = bpy.data.objects.get(name) if name else context.active_object
    if obj is None:
        raise AddonError(f"no object named {name!r}" if name else "no active object",
                            "Select the character's armature (or pass object=<armature name>).")
    if obj.type != "ARMATURE" and obj.parent is not None and obj.parent.type == "ARMATURE":
        obj = obj.parent  # the body mesh was given: export its armature
    if obj.type != "ARMATURE":
        raise AddonError(f"{obj.name!r} is not an armature",
                            "Select the character's armature (or pass object=<armature name>).")
    return obj


def keyed_range(arm) -> tuple[int, int] | None:
    """First and last scene frame (whole frames) keyed on the armature's action, or None."""
    firsts, lasts = [], []
    for fc in action_fcurves(arm):
        if len(fc.keyframe_points):
            first, last = fc.range()
            firsts.append(first)
            lasts.append(last)
    if not firsts:
        return None
    return math.floor(min(firsts) + 1e-6), math.ceil(max(lasts) - 1e-6)


def export_character(context, filepath: str, target: str, object_name: str = "",
                     confidence: bool = False) -> list[str]:
    """Write the character's FBX; returns the exported object names. Raises AddonError.
    confidence: also write custom properties, with the bones' animated `confidence` (off: left out)."""
    arm = _character_armature(context, object_name)
    if not filepath:
        raise AddonError("no file path given", "Choose where to save the .fbx file.")
    path = Path(bpy.path.abspath(filepath))
    if path.suffix.lower() != ".fbx":
        path = path.with_suffix(".fbx")
    if not path.parent.is_dir():
        raise AddonError(f"folder does not exist: {path.parent}", "Choose an existing folder.")
    try:
        settings = dict(export_settings(target))
    except ValueError as exc:
        raise AddonError(str(exc), "Use target='UNITY', 'UNREAL' or 'GENERIC'.") from exc
    if confidence:
        settings["use_custom_props"] = True
    members = [arm] + [child for child in arm.children if child.type == "MESH"]

    view_layer = context.view_layer
    in_layer = {obj.name for obj in view_layer.objects}
    missing = [obj.name for obj in members if obj.name not in in_layer]
    if missing:
        raise AddonError(f"{', '.join(missing)} not in the current view layer",
                            "Link the character's collection to the scene and make it visible.")
    was_selected = [obj.name for obj in view_layer.objects if obj.select_get()]
    was_active = view_layer.objects.active
    scene = context.scene
    frame, frame_range = scene.frame_current, (scene.frame_start, scene.frame_end)
    keyed = keyed_range(arm)
    hidden = {obj.name: obj.hide_get() for obj in members}
    arm_name = arm.name
    try:
        if context.mode != "OBJECT" and was_active is not None:
            bpy.ops.object.mode_set(mode="OBJECT")
        for obj in view_layer.objects:
            obj.select_set(False)
        for obj in members:
            obj.hide_set(False)
            obj.select_set(True)
        view_layer.objects.active = arm
        if keyed is not None:
            scene.frame_start, scene.frame_end = keyed[0], max(keyed[1], keyed[0])
        # The node name some engines expect; only when no other datablock has it (nothing of the
        # user's is ever renamed), and put back afterwards.
        node_name = ARMATURE_NODE_NAME.get(target.upper())
        if node_name and bpy.data.objects.get(node_name) is None:
            arm.name = node_name
        result = bpy.ops.export_scene.fbx(filepath=str(path), check_existing=False, **settings)
        if "FINISHED" not in result:
            raise AddonError(f"the FBX exporter did not finish ({result})", "See the system console.")
    finally:
        if arm.name != arm_name:
            arm.name = arm_name
        for obj in view_layer.objects:
            obj.select_set(obj.name in was_selected)
        for name, state in hidden.items():
            bpy.data.objects[name].hide_set(state)
        view_layer.objects.active = was_active
        scene.frame_start, scene.frame_end = frame_range
        scene.frame_set(frame)
    return [obj.name for obj in members]


class TCMR_OT_export_fbx(bpy.types.Operator):
    """Export a mocap character (armature, body mesh, shape keys, its animation) as FBX for a game engine"""

    bl_idname = "tcmr.export_fbx"
    bl_label = "Export Character FBX"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="File", subtype="FILE_PATH", default="")
    filter_glob: StringProperty(default="*.fbx", options={"HIDDEN"})
    target: EnumProperty(name="Target", items=_TARGET_ITEMS, default="GENERIC",
                         description="Engine preset: axes, units, animation (docs/fbx_presets.md)")
    object: StringProperty(name="Armature", default="",
                           description="Armature object of the character (default: the active object)")
    confidence: BoolProperty(name="Confidence", default=False,
                             description="Also export the bones' animated confidence (custom properties)")

    def invoke(self, context, event):
        if not self.filepath:
            arm = context.active_object
            self.filepath = bpy.path.clean_name(arm.name if arm else "character") + ".fbx"
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        try:
            names = export_character(context, self.filepath, self.target, self.object, self.confidence)
        except AddonError as exc:
            self.report({"ERROR"}, exc.report_text())
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {', '.join(names)} ({self.target}) to {self.filepath}")
        return {"FINISHED"}


_CLASSES = (TCMR_OT_export_fbx,)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
