"""Sidebar sub-panel of the active mocap character: its "Low confidence" frame ranges (with a
jump button each) and the track edits (docs/confidence_and_editing.md)."""

from __future__ import annotations

import bpy
import numpy as np
from bpy.props import FloatProperty

from .core.confidence_ranges import low_ranges

MAX_ROWS = 12


def low_confidence_ranges(arm, threshold: float) -> list[tuple[int, int, float]]:
    """Scene-frame ranges where the character's least confident joint is below `threshold`."""
    if "tcmr_confidence_min" not in arm or "tcmr_scene_frames" not in arm:
        return []
    return low_ranges(np.array(arm["tcmr_scene_frames"]), np.array(arm["tcmr_confidence_min"]), threshold)


class TCMR_PT_character(bpy.types.Panel):
    bl_idname = "TCMR_PT_character"
    bl_label = "Character Tracks"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return obj is not None and obj.type == "ARMATURE" and "tcmr_track_id" in obj

    def draw(self, context):
        layout = self.layout
        arm = context.active_object
        scene = context.scene
        layout.label(text=f"Track {arm['tcmr_track_id']}", icon="ARMATURE_DATA")
        box = layout.box()
        box.label(text="Low confidence")
        box.prop(scene, "tcmr_confidence_threshold")
        ranges = low_confidence_ranges(arm, scene.tcmr_confidence_threshold)
        if "tcmr_confidence_min" not in arm:
            box.label(text="No confidence in this result")
        elif not ranges:
            box.label(text="None below the threshold", icon="CHECKMARK")
        for first, last, lowest in ranges[:MAX_ROWS]:
            row = box.row()
            row.label(text=f"{first}-{last}  ({lowest:.2f})")
            row.operator("tcmr.jump_to_frame", text="", icon="PLAY").frame = first
        if len(ranges) > MAX_ROWS:
            box.label(text=f"... {len(ranges) - MAX_ROWS} more")
        col = layout.column(align=True)
        col.operator("tcmr.merge_tracks", icon="AUTOMERGE_ON")
        col.operator("tcmr.split_track", icon="SCULPTMODE_HLT")
        col.operator("tcmr.swap_tracks", icon="UV_SYNC_SELECT")
        col.operator("tcmr.delete_track", icon="TRASH")


_CLASSES = (TCMR_PT_character,)


def register():
    bpy.types.Scene.tcmr_confidence_threshold = FloatProperty(
        name="Below", default=0.5, min=0.0, max=1.0,
        description="List the frames where a joint's confidence is below this")
    for cls in _CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
    del bpy.types.Scene.tcmr_confidence_threshold
