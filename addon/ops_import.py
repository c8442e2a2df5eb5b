"""`bpy.ops.tcmr.import_result(filepath=RESULT_DIR, data_dir=...)`: one character per track.

The operator around importer.import_result (which validates everything first and leaves the
scene as it was on any failure); one undo step.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from .character import CharacterOptions
from .core.errors import AddonError
from .importer import import_result


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
        except AddonError as exc:
            self.report({"ERROR"}, exc.report_text())
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
