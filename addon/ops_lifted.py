"""`bpy.ops.tcmr.import_lifted(filepath=OUT.npz)`: a `lift` output as an animated H36M armature
in the video camera's world (lifted_import.py); one undo step."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from .core.errors import AddonError
from .lifted_import import import_lifted


class TCMR_OT_import_lifted(bpy.types.Operator):
    """Import 3D joints lifted from 2D keypoints (python -m backend lift) as an animated armature"""

    bl_idname = "tcmr.import_lifted"
    bl_label = "Import Lifted Joints"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Lifted file", subtype="FILE_PATH",
                             description=".npz written by `python -m backend lift`")
    set_scene: BoolProperty(name="Match scene to video", default=True,
                            description="Set fps, frame range, resolution and active camera")

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        try:
            arm, warnings = import_lifted(context, self.filepath, self.set_scene)
        except AddonError as exc:
            self.report({"ERROR"}, exc.report_text())
            return {"CANCELLED"}
        for warning in warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Imported {arm.name}")
        return {"FINISHED"}


_CLASSES = (TCMR_OT_import_lifted,)

register, unregister = bpy.utils.register_classes_factory(_CLASSES)
