"""Track-edit buttons (thin; the work is in track_edit_run.py) and the jump to a frame.

tcmr.merge_tracks / split_track / swap_tracks / delete_track: `objects` = armature names,
comma-separated (default: the selected mocap characters, the active one first); `frame` = the
scene frame of a split or swap (-1: the current frame); `wait` blocks until the edited result
is imported (scripts, tests).
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty

from . import jobs, track_edit_run
from .core.errors import AddonError


def _picked(context, text: str) -> list[str]:
    if text:
        return [n.strip() for n in text.split(",") if n.strip()]
    active = context.view_layer.objects.active
    picked = [o for o in context.selected_objects if o.type == "ARMATURE" and "tcmr_track_id" in o]
    picked.sort(key=lambda o: o != active)
    return [o.name for o in picked]


class _EditBase:
    bl_options = {"REGISTER"}
    kind = ""

    objects: StringProperty(name="Characters", default="",
                            description="Armature names, comma-separated (default: the selected characters)")
    frame: IntProperty(name="Frame", default=-1, description="Scene frame of the cut (-1: the current frame)")
    wait: BoolProperty(name="Wait", default=False, options={"SKIP_SAVE"},
                       description="Block until the edited result is imported (scripts)")
    python: StringProperty(name="Backend Python", default="", options={"SKIP_SAVE"})
    data_dir: StringProperty(name="Model Data", default="", options={"SKIP_SAVE"})

    def execute(self, context):
        frame = context.scene.frame_current if self.frame < 0 else self.frame
        try:
            job = track_edit_run.start_edit(context, self.kind, _picked(context, self.objects), frame,
                                            self.python, self.data_dir)
        except (AddonError, RuntimeError) as exc:
            self.report({"ERROR"}, exc.report_text() if isinstance(exc, AddonError) else str(exc))
            return {"CANCELLED"}
        if self.wait:
            return jobs.wait_and_report(self, job)
        self.report({"INFO"}, f"{self.kind.capitalize()} started")
        return {"FINISHED"}


class TCMR_OT_merge_tracks(_EditBase, bpy.types.Operator):
    """Join two characters of one person (one split in two by an occlusion) into one"""

    bl_idname = "tcmr.merge_tracks"
    bl_label = "Merge"
    kind = "merge"


class TCMR_OT_split_track(_EditBase, bpy.types.Operator):
    """Cut the character at the frame: from there on it becomes a new character"""

    bl_idname = "tcmr.split_track"
    bl_label = "Split Here"
    kind = "split"


class TCMR_OT_swap_tracks(_EditBase, bpy.types.Operator):
    """Exchange two characters' motion from the frame on (identities swapped when people cross)"""

    bl_idname = "tcmr.swap_tracks"
    bl_label = "Swap From Here"
    kind = "swap"


class TCMR_OT_delete_track(_EditBase, bpy.types.Operator):
    """Remove the character from the result (a new result is written; the old one is kept on disk)"""

    bl_idname = "tcmr.delete_track"
    bl_label = "Delete Track"
    kind = "delete"


class TCMR_OT_jump_to_frame(bpy.types.Operator):
    """Go to this frame"""

    bl_idname = "tcmr.jump_to_frame"
    bl_label = "Jump"
    bl_options = {"REGISTER"}

    frame: IntProperty(name="Frame", default=1)

    def execute(self, context):
        context.scene.frame_set(self.frame)
        return {"FINISHED"}


_CLASSES = (TCMR_OT_merge_tracks, TCMR_OT_split_track, TCMR_OT_swap_tracks, TCMR_OT_delete_track,
            TCMR_OT_jump_to_frame)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
