"""Sidebar panel "Bake to Rig" in the 3D Viewport's Mocap tab (settings: scene.tcmr_bake)."""

from __future__ import annotations

import bpy

from .core import bone_maps
from .ops_bake import editor_mapping


class TCMR_PT_bake(bpy.types.Panel):
    bl_idname = "TCMR_PT_bake"
    bl_label = "Bake to Rig"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.tcmr_bake
        col = layout.column(align=True)
        col.prop(settings, "source")
        col.prop(settings, "target")
        layout.prop(settings, "source_skeleton")
        layout.prop(settings, "preset")

        box = layout.box()
        row = box.row()
        row.prop(settings, "show_mapping", icon="TRIA_DOWN" if settings.show_mapping else "TRIA_RIGHT",
                 emboss=False)
        row.operator("tcmr.bake_map_fill", text="", icon="FILE_REFRESH").preset = "AUTO"
        row.operator("tcmr.bake_map_load", text="", icon="FILE_FOLDER")
        row.operator("tcmr.bake_map_save", text="", icon="FILE_TICK")
        if settings.show_mapping:
            self._draw_mapping(box, settings)

        col = layout.column(align=True)
        col.prop(settings, "use_source_range")
        if not settings.use_source_range:
            row = col.row(align=True)
            row.prop(settings, "frame_start")
            row.prop(settings, "frame_end")
        layout.prop(settings, "keying")
        if settings.keying == "SIMPLIFY":
            layout.prop(settings, "tolerance")
        col = layout.column(align=True)
        col.prop(settings, "in_place")
        col.prop(settings, "root_origin")
        col.prop(settings, "root_scale")
        col.prop(settings, "match_facing")
        col.prop(settings, "keep_feet_planted")

        row = layout.row()
        row.scale_y = 1.4
        row.enabled = settings.source is not None and settings.target is not None
        op = row.operator("tcmr.bake_to_rig", icon="ACTION")
        if settings.source is not None:
            op.source = settings.source.name
        if settings.target is not None:
            op.target = settings.target.name
        op.preset = settings.preset
        if settings.preset == "CUSTOM":
            op.mapping = bone_maps.to_json(editor_mapping(settings))
        for name in ("source_skeleton", "use_source_range", "frame_start", "frame_end", "keying", "tolerance",
                     "in_place", "root_origin", "root_scale", "match_facing", "keep_feet_planted"):
            setattr(op, name, getattr(settings, name))

    @staticmethod
    def _draw_mapping(layout, settings):
        if not settings.mapping:
            layout.label(text="Fill the map from the target's bone names", icon="INFO")
            return
        target = settings.target
        col = layout.column(align=True)
        for item in settings.mapping:
            row = col.row(align=True)
            row.label(text=item.joint)
            if target is not None and target.type == "ARMATURE":
                row.prop_search(item, "bone", target.data, "bones", text="")
            else:
                row.prop(item, "bone", text="")
        if settings.preset != "CUSTOM":
            layout.label(text="Set the preset to Custom to bake with this map", icon="INFO")


def register():
    bpy.utils.register_class(TCMR_PT_bake)


def unregister():
    bpy.utils.unregister_class(TCMR_PT_bake)
