"""The run's buttons: `tcmr.process_video`, `tcmr.cancel_job`, `tcmr.job_report`,
`tcmr.open_log` and `tcmr.reimport`. Thin: each calls plain functions of video_run.py (the
run's settings and job), jobs.py (the job engine) and importer.py.

`bpy.ops.tcmr.process_video(filepath=..., wait=True)` blocks until the run ended (scripts);
without `wait` it returns at once and the panel follows the job.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from . import jobs, resolve, video_run
from .core.errors import AddonError
from .importer import import_result
from .preferences import DEVICE_ITEMS
from .properties import PEOPLE_ITEMS, SMOOTHING_ITEMS
from .video_run import PANEL, PREFS, RunRequest

_SLOT_ITEMS = (("run", "Run", ""), ("aux", "Preferences job", ""))


class TCMR_OT_process_video(bpy.types.Operator):
    """Capture the motion of the people in a video and import them as animated characters"""

    bl_idname = "tcmr.process_video"
    bl_label = "Run Motion Capture"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="Video", subtype="FILE_PATH",
                             description="Video file or image folder; empty = the panel's video")
    data_dir: StringProperty(name="Model Data", subtype="DIR_PATH", description="Empty = preferences")
    python: StringProperty(name="Backend Python", subtype="FILE_PATH", description="Empty = preferences")
    cache_dir: StringProperty(name="Results Cache", subtype="DIR_PATH", description="Empty = preferences")
    device: EnumProperty(name="Device", items=((PREFS, "Preferences", ""), *DEVICE_ITEMS), default=PREFS)
    start: IntProperty(name="Start", default=video_run.FROM_PANEL, min=video_run.FROM_PANEL,
                       description="-2 = panel setting, -1 = from the start")
    end: IntProperty(name="End", default=video_run.FROM_PANEL, min=video_run.FROM_PANEL,
                     description="-2 = panel setting, -1 = to the end")
    people: EnumProperty(name="People", items=((PANEL, "Panel", ""), *PEOPLE_ITEMS), default=PANEL)
    smoothing: EnumProperty(name="Smoothing", items=((PANEL, "Panel", ""), *SMOOTHING_ITEMS), default=PANEL)
    bbox: StringProperty(name="Person Box", default="",
                         description="x,y,w,h in pixels: follow one person in this fixed box (no detection); "
                                     "empty = the panel setting")
    use_cache: BoolProperty(name="Reuse Earlier Results", default=True)
    wait: BoolProperty(name="Wait", default=False, description="Block until done (scripts)",
                       options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return jobs.active_job("run") is None

    def execute(self, context):
        request = RunRequest(**{f.name: getattr(self, f.name) for f in dataclasses.fields(RunRequest)})
        try:
            job = video_run.start_run(video_run.resolve_run(request, context))
        except AddonError as exc:
            self.report({"ERROR"}, exc.report_text())
            return {"CANCELLED"}
        except (OSError, RuntimeError) as exc:
            self.report({"ERROR"}, f"Could not start the backend: {exc}")
            return {"CANCELLED"}
        return jobs.wait_and_report(self, job) if self.wait else {"FINISHED"}


class TCMR_OT_cancel_job(bpy.types.Operator):
    """Stop the running backend (the whole process tree); nothing half-written is kept"""

    bl_idname = "tcmr.cancel_job"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    slot: EnumProperty(items=_SLOT_ITEMS, default="run")

    def execute(self, context):
        job = jobs.active_job(self.slot)
        if job is None:
            self.report({"WARNING"}, "Nothing is running")
            return {"CANCELLED"}
        jobs.cancel(job)
        self.report({"INFO"}, "Cancelled")
        return {"FINISHED"}


class TCMR_OT_job_report(bpy.types.Operator):
    """Report the last job's error in the status bar and Info editor"""

    bl_idname = "tcmr.job_report"
    bl_label = "Report Job Result"
    bl_options = {"INTERNAL"}

    kind: StringProperty(default="run")

    def execute(self, context):
        st = jobs.status_of(self.kind, context.window_manager)
        if st.error_code:
            self.report({"ERROR"}, f"[{st.error_code}] {st.error_message}"
                                   + (f". Hint: {st.error_hint}" if st.error_hint else ""))
        elif st.message:
            self.report({"INFO"}, st.message)
        return {"FINISHED"}


class TCMR_OT_open_log(bpy.types.Operator):
    """Open the backend's log (its stderr) of the last job"""

    bl_idname = "tcmr.open_log"
    bl_label = "Open Backend Log"
    bl_options = {"REGISTER"}

    slot: EnumProperty(items=_SLOT_ITEMS, default="run")

    def execute(self, context):
        st = jobs.status_of(self.slot, context.window_manager)
        if not st.log_path or not Path(st.log_path).is_file():
            self.report({"WARNING"}, "No log yet: run something first")
            return {"CANCELLED"}
        bpy.ops.wm.path_open(filepath=st.log_path)
        return {"FINISHED"}


class TCMR_OT_reimport(bpy.types.Operator):
    """Import an earlier result again (from the results cache)"""

    bl_idname = "tcmr.reimport"
    bl_label = "Re-import"
    bl_options = {"REGISTER", "UNDO"}

    result_dir: StringProperty(subtype="DIR_PATH")
    data_dir: StringProperty(subtype="DIR_PATH", description="Empty = preferences")

    def execute(self, context):
        if not (Path(self.result_dir) / "result.json").is_file():
            self.report({"ERROR"}, f"{self.result_dir} is not a finished result (it may have been deleted)")
            return {"CANCELLED"}
        data_dir = resolve.data_dir(resolve.get_prefs(context), self.data_dir)
        try:
            report = import_result(context, self.result_dir, data_dir)
        except AddonError as exc:
            self.report({"ERROR"}, exc.report_text())
            return {"CANCELLED"}
        for warning in report.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Imported {len(report.armatures)} character(s): {', '.join(report.armatures)}")
        return {"FINISHED"}


_CLASSES = (TCMR_OT_process_video, TCMR_OT_cancel_job, TCMR_OT_job_report, TCMR_OT_open_log, TCMR_OT_reimport)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(_CLASSES)


def register():
    _register_classes()


def unregister():
    jobs.cancel_all()
    _unregister_classes()
