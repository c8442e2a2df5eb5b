"""Operators of the rig baker: `tcmr.bake_to_rig` and the bone-map editor's helpers.

`bpy.ops.tcmr.bake_to_rig(source=SMPL_ARMATURE, target=RIG, preset="MIXAMO")` bakes the SMPL
character's motion into a new action on RIG (one undo step). preset CUSTOM takes the mapping
from `mapping` (bone-map JSON text) or `mapping_file`; AUTO recognises a preset from the bone
names or guesses the mapping. The panel's settings (`scene.tcmr_bake`) live here too.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy_extras.io_utils import ExportHelper, ImportHelper

from . import retarget, target_foot_ik
from .core import bone_maps
from .core.skeleton import JOINT_NAMES

PRESET_ITEMS = [
    ("AUTO", "Auto", "Recognise the rig from its bone names, else guess the mapping"),
    *[(p.id, p.label, p.description) for p in bone_maps.PRESETS.values()],
    ("CUSTOM", "Custom", "The mapping from the bone map editor or a bone-map JSON file"),
]
KEYING_ITEMS = [
    ("ALL", "Every frame", "One key per frame on every baked channel"),
    ("SIMPLIFY", "Simplified", "Drop keys that linear interpolation reproduces within the tolerance"),
]
SOURCE_ITEMS = [
    ("AUTO", "Auto", "The armature's own tag (tcmr_skeleton), else recognised from its bone names"),
    ("SMPL", "SMPL", "An imported SMPL character (bones named pelvis, left_hip ...)"),
    ("H36M", "H36M (lifted)", "A lifted 17-joint Human3.6M skeleton (tcmr.import_lifted)"),
]
ROOT_ORIGIN_ITEMS = [
    ("FIRST_FRAME", "First frame", "The rig starts where it stands; hips move relative to the first frame"),
    ("REST", "Source rest", "Hips move relative to the source's rest position"),
]


def _is_armature(_self, obj):
    return obj.type == "ARMATURE"


def resolve_mapping(target, preset: str, mapping_text: str = "", mapping_file: str = "") -> tuple:
    """(mapping, preset id or None) for a target rig; raises bone_maps.MappingError."""
    if preset == "CUSTOM":
        if mapping_file:
            text = Path(bpy.path.abspath(mapping_file)).read_text(encoding="utf-8")
        elif mapping_text:
            text = mapping_text
        else:
            raise bone_maps.MappingError("the custom preset needs a mapping (editor or JSON file)")
        return bone_maps.from_json(text), None
    names = target.data.bones.keys()
    if preset == "AUTO":
        found = bone_maps.detect_preset(names)
        if found is None:
            parents = {b.name: (b.parent.name if b.parent else None) for b in target.data.bones}
            return bone_maps.guess_mapping(names, parents), None
        preset = found
    return bone_maps.resolve_preset(preset, names), preset


def preset_rig_parts(target, preset_id) -> dict:
    """BakeConfig fields a preset adds (switches, extras, segments), limited to bones the
    target has (switches are reported when missing, so they stay)."""
    if preset_id is None:
        return {}
    preset = bone_maps.PRESETS[preset_id]
    bones = target.data.bones
    return {
        "switches": preset.switches,
        "extras": tuple((b, j) for b, j in preset.extras if b in bones),
        "segments": tuple(s for s in preset.segments if s[1] in bones and s[2] in bones),
    }


def source_skeleton(source, choice: str = "AUTO") -> tuple[str, dict]:
    """(skeleton id, BakeConfig.source_bones) of a source armature (bone_maps.SOURCE_SKELETONS)."""
    if choice == "AUTO":
        choice = bone_maps.detect_source(source.data.bones.keys(), str(source.get("tcmr_skeleton", "")))
    return choice, ({} if choice == "SMPL" else dict(bone_maps.SOURCE_SKELETONS[choice]))


def _source_range(source, scene) -> tuple[int, int]:
    anim = source.animation_data
    if anim is not None and anim.action is not None:
        start, end = anim.action.frame_range
        return round(start), round(end)
    return scene.frame_start, scene.frame_end


class TCMR_OT_bake_to_rig(bpy.types.Operator):
    """Bake the SMPL character's motion onto another armature as a new action"""

    bl_idname = "tcmr.bake_to_rig"
    bl_label = "Bake to Rig"
    bl_options = {"REGISTER", "UNDO"}

    source: StringProperty(name="Source", description="Name of the SMPL (or lifted H36M) armature object")
    source_skeleton: EnumProperty(name="Source skeleton", items=SOURCE_ITEMS, default="AUTO")
    target: StringProperty(name="Target", description="Name of the armature to bake onto")
    preset: EnumProperty(name="Preset", items=PRESET_ITEMS, default="AUTO")
    mapping: StringProperty(name="Mapping", description="Bone-map JSON text (preset Custom)")
    mapping_file: StringProperty(name="Mapping file", subtype="FILE_PATH",
                                 description="Bone-map JSON file (preset Custom)")
    use_source_range: BoolProperty(name="Source frame range", default=True,
                                   description="Bake the frame range of the source action")
    frame_start: IntProperty(name="Start", default=1)
    frame_end: IntProperty(name="End", default=250)
    keying: EnumProperty(name="Keys", items=KEYING_ITEMS, default="ALL")
    tolerance: FloatProperty(name="Tolerance", default=0.001, min=0.0, precision=4,
                             description="Largest change simplification may cause per channel "
                                         "(quaternion units, radians, metres)")
    in_place: BoolProperty(name="In place", default=False,
                           description="No horizontal root motion: the hips keep their X and Y")
    root_scale: FloatProperty(name="Root scale", default=0.0, min=0.0,
                              description="Scale of the root motion; 0 = target/source hip height")
    root_origin: EnumProperty(name="Root origin", items=ROOT_ORIGIN_ITEMS, default="FIRST_FRAME")
    match_facing: BoolProperty(name="Match facing", default=True,
                               description="A rig that faces +Y or sideways performs the motion "
                                           "towards its own front")
    action_name: StringProperty(name="Action name", description="Empty: '<rig>|<source action>'")
    keep_feet_planted: BoolProperty(name="Keep feet planted", default=True,
                                    description="Leg IK on the rig after the bake: feet planted in the "
                                                "source's contact curves stay where they are")

    def execute(self, context):
        source = bpy.data.objects.get(self.source)
        target = bpy.data.objects.get(self.target)
        if source is None or target is None:
            missing = [n or "(empty)" for n, o in ((self.source, source), (self.target, target)) if o is None]
            self.report({"ERROR"}, f"No object named {', '.join(missing)}. "
                                   "Pick the SMPL armature as source and your rig as target")
            return {"CANCELLED"}
        if target.type != "ARMATURE":
            self.report({"ERROR"}, f"{target.name} is not an armature. Pick the rig to bake onto")
            return {"CANCELLED"}
        try:
            mapping, preset_id = resolve_mapping(target, self.preset, self.mapping, self.mapping_file)
        except (bone_maps.MappingError, OSError) as exc:
            self.report({"ERROR"}, f"Cannot map the bones of {target.name}: {exc}. "
                                   "Choose another preset or fix the mapping in the bone map editor")
            return {"CANCELLED"}
        if source.type != "ARMATURE":
            self.report({"ERROR"}, f"{source.name} is not an armature. Pick the SMPL or lifted armature")
            return {"CANCELLED"}
        skeleton, source_bones = source_skeleton(source, self.source_skeleton)
        mapping = bone_maps.restrict_to_source(mapping, skeleton)
        if self.use_source_range:
            start, end = _source_range(source, context.scene)
        else:
            start, end = self.frame_start, self.frame_end
        config = retarget.BakeConfig(
            mapping=mapping, frame_start=start, frame_end=end,
            simplify=self.keying == "SIMPLIFY", tolerance=self.tolerance, in_place=self.in_place,
            root_scale=self.root_scale, root_origin=self.root_origin, match_facing=self.match_facing,
            action_name=self.action_name, source_bones=source_bones,
            **preset_rig_parts(target, preset_id),
        )
        try:
            result = retarget.bake(context, source, target, config)
        except retarget.RetargetError as exc:
            self.report({"ERROR"}, f"{exc}. {exc.hint}" if exc.hint else str(exc))
            return {"CANCELLED"}
        if self.keep_feet_planted:
            self._report_feet(target_foot_ik.keep_feet_planted(context, source, target, mapping, start, end))
        if result.turned_degrees:
            self.report({"INFO"}, f"{target.name} faces {result.turned_degrees:+.0f} degrees from the "
                                  "source: the motion was turned to its front")
        if result.facing_degrees > 45.0:
            self.report({"WARNING"}, f"{target.name} faces {result.facing_degrees:.0f} degrees away from "
                                     f"the source; turn the rig to face -Y and apply its rotation for a "
                                     f"natural result")
        if result.skipped_switches:
            self.report({"WARNING"}, "Not found, left as they were: " + ", ".join(result.skipped_switches))
        self.report({"INFO"}, f"Baked {result.frames} frames onto {target.name} as action "
                              f"'{result.action_name}' (root scale {result.root_scale:.3f})")
        return {"FINISHED"}


    def _report_feet(self, feet: dict) -> None:
        if feet["unreached"]:
            self.report({"WARNING"}, f"{feet['unreached']} planted frames were out of the legs' reach")
        elif feet["legs"]:
            self.report({"INFO"}, f"Kept {feet['legs']} planted feet in place ({feet['frames']} frames)")


# ------------------------------------------------------------------ bone-map editor

class TCMR_BoneMapItem(bpy.types.PropertyGroup):
    joint: StringProperty(name="SMPL joint")
    bone: StringProperty(name="Target bone")


class TCMR_BakeSettings(bpy.types.PropertyGroup):
    """The bake panel's state (scene.tcmr_bake)."""

    source: PointerProperty(name="Source", type=bpy.types.Object, poll=_is_armature,
                            description="The imported SMPL armature (or a lifted H36M one)")
    source_skeleton: EnumProperty(name="Source skeleton", items=SOURCE_ITEMS, default="AUTO")
    target: PointerProperty(name="Target", type=bpy.types.Object, poll=_is_armature,
                            description="Your rig")
    preset: EnumProperty(name="Preset", items=PRESET_ITEMS, default="AUTO")
    mapping: CollectionProperty(type=TCMR_BoneMapItem)
    use_source_range: BoolProperty(name="Source frame range", default=True)
    frame_start: IntProperty(name="Start", default=1)
    frame_end: IntProperty(name="End", default=250)
    keying: EnumProperty(name="Keys", items=KEYING_ITEMS, default="ALL")
    tolerance: FloatProperty(name="Tolerance", default=0.001, min=0.0, precision=4)
    in_place: BoolProperty(name="In place", default=False)
    root_scale: FloatProperty(name="Root scale", default=0.0, min=0.0)
    root_origin: EnumProperty(name="Root origin", items=ROOT_ORIGIN_ITEMS, default="FIRST_FRAME")
    match_facing: BoolProperty(name="Match facing", default=True)
    keep_feet_planted: BoolProperty(name="Keep feet planted", default=True)
    show_mapping: BoolProperty(name="Bone map", default=False)


def editor_mapping(settings) -> dict:
    return {item.joint: item.bone for item in settings.mapping if item.bone}


def set_editor_mapping(settings, mapping: dict) -> None:
    settings.mapping.clear()
    for joint in JOINT_NAMES:
        item = settings.mapping.add()
        item.joint = joint
        item.bone = mapping.get(joint, "")


class TCMR_OT_bake_map_fill(bpy.types.Operator):
    """Fill the bone map editor from a preset or from the target's bone names"""

    bl_idname = "tcmr.bake_map_fill"
    bl_label = "Fill Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    preset: EnumProperty(name="From", items=PRESET_ITEMS[:-1], default="AUTO")

    def execute(self, context):
        settings = context.scene.tcmr_bake
        target = settings.target
        if target is None:
            self.report({"ERROR"}, "Pick a target rig first")
            return {"CANCELLED"}
        try:
            mapping, _ = resolve_mapping(target, self.preset)
        except bone_maps.MappingError as exc:
            self.report({"ERROR"}, f"{exc}. Try Auto, or fill the bones in by hand")
            return {"CANCELLED"}
        set_editor_mapping(settings, mapping)
        settings.preset = "CUSTOM"
        settings.show_mapping = True
        return {"FINISHED"}


class TCMR_OT_bake_map_save(bpy.types.Operator, ExportHelper):
    """Save the bone map editor's mapping as a JSON file"""

    bl_idname = "tcmr.bake_map_save"
    bl_label = "Save Bone Map"
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        settings = context.scene.tcmr_bake
        mapping = editor_mapping(settings)
        if not mapping:
            self.report({"ERROR"}, "The bone map is empty. Fill it from a preset first")
            return {"CANCELLED"}
        name = settings.target.name if settings.target else ""
        Path(self.filepath).write_text(bone_maps.to_json(mapping, name), encoding="utf-8")
        return {"FINISHED"}


class TCMR_OT_bake_map_load(bpy.types.Operator, ImportHelper):
    """Load a bone map JSON file into the editor"""

    bl_idname = "tcmr.bake_map_load"
    bl_label = "Load Bone Map"
    bl_options = {"REGISTER", "UNDO"}
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        try:
            mapping = bone_maps.from_json(Path(self.filepath).read_text(encoding="utf-8"))
        except (OSError, bone_maps.MappingError) as exc:
            self.report({"ERROR"}, f"Cannot load {self.filepath}: {exc}")
            return {"CANCELLED"}
        settings = context.scene.tcmr_bake
        set_editor_mapping(settings, mapping)
        settings.preset = "CUSTOM"
        settings.show_mapping = True
        return {"FINISHED"}


_CLASSES = (
    TCMR_OT_bake_to_rig,
    TCMR_BoneMapItem,
    TCMR_BakeSettings,
    TCMR_OT_bake_map_fill,
    TCMR_OT_bake_map_save,
    TCMR_OT_bake_map_load,
)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(_CLASSES)


def register():
    _register_classes()
    bpy.types.Scene.tcmr_bake = PointerProperty(type=TCMR_BakeSettings)


def unregister():
    del bpy.types.Scene.tcmr_bake
    _unregister_classes()
