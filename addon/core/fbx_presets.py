"""FBX export presets per target engine, as plain data (keyword arguments of
`bpy.ops.export_scene.fbx`). Why each value is what it is: docs/fbx_presets.md and
docs/blender_facts.md (FBX export). Pure: no bpy.
"""

from __future__ import annotations

from types import MappingProxyType

TARGETS = ("UNITY", "UNREAL", "GENERIC")

# Shared by every target: only the selected character, 24 deform bones (no *_end leaf bones),
# exactly one take (the character's assigned action, baked per frame with no simplification),
# shape keys kept (modifiers not applied), linear-blend skinning untouched.
_BASE = {
    "use_selection": True,
    "object_types": {"ARMATURE", "MESH"},
    "use_mesh_modifiers": False,  # applying modifiers would drop the shape keys
    "mesh_smooth_type": "FACE",
    "add_leaf_bones": False,
    "use_armature_deform_only": True,
    "armature_nodetype": "NULL",
    "primary_bone_axis": "Y",
    "secondary_bone_axis": "X",
    "bake_anim": True,
    "bake_anim_use_all_bones": True,
    "bake_anim_use_all_actions": False,  # leftover actions would become extra takes
    "bake_anim_use_nla_strips": False,
    "bake_anim_force_startend_keying": True,
    "bake_anim_step": 1.0,
    "bake_anim_simplify_factor": 0.0,  # lossless: one key per frame
    "use_custom_props": False,
    "path_mode": "AUTO",
}

_TARGET = {
    # Unity: metres written as UnitScaleFactor 100 with object scale 1 (Unity shows "1m (File)",
    # scale 1); Y up, -Z forward, the FBX default that Unity converts on import.
    "UNITY": {"apply_scale_options": "FBX_SCALE_ALL", "global_scale": 1.0, "apply_unit_scale": True,
              "axis_forward": "-Z", "axis_up": "Y", "bake_space_transform": False},
    # Unreal: Z up and Blender's axes unchanged (forward Y, up Z), as Epic's own Send2UE template;
    # centimetre file units (UnitScaleFactor 1) with the x100 carried by the armature node, which
    # the exporter writes under the name "Armature" so Unreal drops it instead of adding a bone.
    "UNREAL": {"apply_scale_options": "FBX_SCALE_NONE", "global_scale": 1.0, "apply_unit_scale": True,
               "axis_forward": "Y", "axis_up": "Z", "bake_space_transform": False},
    # Generic (Maya, Houdini, MotionBuilder, Blender): the exporter's standard Y up, -Z forward,
    # centimetre units (UnitScaleFactor 1, x100 on the root nodes).
    "GENERIC": {"apply_scale_options": "FBX_SCALE_NONE", "global_scale": 1.0, "apply_unit_scale": True,
                "axis_forward": "-Z", "axis_up": "Y", "bake_space_transform": False},
}

# Targets whose armature node should be named "Armature" in the file (Unreal drops that node).
ARMATURE_NODE_NAME = MappingProxyType({"UNREAL": "Armature"})


def export_settings(target: str) -> MappingProxyType:
    """The full keyword set for `export_scene.fbx` (minus filepath) for UNITY, UNREAL or GENERIC."""
    key = target.upper()
    if key not in _TARGET:
        raise ValueError(f"unknown FBX target {target!r}; choose one of {', '.join(TARGETS)}")
    return MappingProxyType({**_BASE, **_TARGET[key]})

