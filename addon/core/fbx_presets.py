"""FBX export presets per target engine, as plain data (keyword arguments of
`bpy.ops.export_scene.fbx`). Why each value is what it is: docs/fbx_presets.md and
BLENDER_NOTES facts 9-11. Pure: no bpy.
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
    # Unity: metres with UnitScaleFactor 100 and object scale 1 ("1m (File)" in Unity); Y up,
    # -Z forward (Unity's default conversion of Blender files).
    "UNITY": {"apply_scale_options": "FBX_SCALE_ALL", "global_scale": 1.0,
              "axis_forward": "-Z", "axis_up": "Y", "apply_unit_scale": True,
              "bake_space_transform": False},
    # Unreal: centimetres. FBX_SCALE_NONE writes UnitScaleFactor 1 (cm) and carries the x100 on the
    # armature node, which Unreal folds into the import; X forward, Z up as Unreal expects
    # (Epic's Send2UE template uses the same axes).
    "UNREAL": {"apply_scale_options": "FBX_SCALE_NONE", "global_scale": 1.0,
               "axis_forward": "-Y", "axis_up": "Z", "apply_unit_scale": True,
               "bake_space_transform": False},
    # Generic (Maya, Houdini, Blender, Mixamo-style tools): the FBX standard Y up, -Z forward,
    # units written as metres-in-centimetres by the default FBX_SCALE_NONE.
    "GENERIC": {"apply_scale_options": "FBX_SCALE_NONE", "global_scale": 1.0,
                "axis_forward": "-Z", "axis_up": "Y", "apply_unit_scale": True,
                "bake_space_transform": False},
}


def export_settings(target: str) -> MappingProxyType:
    """The full keyword set for `export_scene.fbx` (minus filepath) for UNITY, UNREAL or GENERIC."""
    key = target.upper()
    if key not in _TARGET:
        raise ValueError(f"unknown FBX target {target!r}; choose one of {', '.join(TARGETS)}")
    return MappingProxyType({**_BASE, **_TARGET[key]})


# Centimetres per Blender unit of the file each target writes, as an engine reads it.
ENGINE_UNITS_PER_METRE = MappingProxyType({"UNITY": 1.0, "UNREAL": 100.0, "GENERIC": 1.0})
