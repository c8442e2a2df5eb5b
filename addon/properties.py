"""Panel settings (per scene, saved in the .blend) and job status (per session, on the window
manager, never saved). Job status is written only by the main-thread poll function (jobs.py)."""

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from .core import run_options

# Choices, labels and defaults of the run options: the backend's table (core.run_options).
_PEOPLE = run_options.option("main_person")
_SMOOTHING = run_options.option("smooth")
PEOPLE_ITEMS = _PEOPLE.enum_items()
SMOOTHING_ITEMS = _SMOOTHING.enum_items()
_MODEL = run_options.option("model")
MODEL_ITEMS = _MODEL.enum_items()


class TCMR_ProcessSettings(bpy.types.PropertyGroup):
    video: StringProperty(name="Video", subtype="FILE_PATH",
                          description="Video file (or a folder of .png/.jpg frames) to capture")
    use_range: BoolProperty(name="Frame Range", default=False,
                            description="Process only part of the video")
    frame_start: IntProperty(name="Start", default=0, min=0, description="First video frame (from 0)")
    frame_end: IntProperty(name="End", default=100, min=1,
                           description="Video frame after the last one processed")
    people: EnumProperty(name="People", items=PEOPLE_ITEMS, default=_PEOPLE.panel_default)
    smoothing: EnumProperty(name="Smoothing", items=SMOOTHING_ITEMS, default=_SMOOTHING.panel_default)
    model: EnumProperty(name="Model", items=MODEL_ITEMS, default=_MODEL.panel_default)
    bbox: StringProperty(name="Person Box", default="",
                         description="Optional x,y,w,h in pixels: follow one person inside this fixed box "
                                     "(skips detection)")
    ground: BoolProperty(name="Find the Floor", default=True,
                         description="Put the motion in a world: the floor at z = 0 under planted feet "
                                     "and the camera where it stood (static camera)")
    foot_lock: BoolProperty(name="Lock Planted Feet", default=True,
                            description="With Find the Floor: detect foot contacts and keep planted "
                                        "feet in place (no sliding); off keeps the feet as they came")
    use_cache: BoolProperty(name="Reuse Earlier Results", default=True,
                            description="Re-import at once when this clip was processed with the same "
                                        "settings")


class TCMR_JobStatus(bpy.types.PropertyGroup):
    running: BoolProperty(default=False)
    kind: StringProperty(default="")  # run / check / env / selftest / install
    stage_label: StringProperty(default="")
    factor: FloatProperty(default=0.0, min=0.0, max=1.0)
    fps: FloatProperty(default=0.0)  # rate, in rate_unit per second
    rate_unit: StringProperty(default="frames")
    eta: StringProperty(default="")
    device: StringProperty(default="")
    message: StringProperty(default="")  # last outcome, for people
    warning: StringProperty(default="")  # the backend's latest warning, with its hint
    error_code: StringProperty(default="")
    error_message: StringProperty(default="")
    error_hint: StringProperty(default="")
    log_path: StringProperty(default="", subtype="FILE_PATH")
    result_path: StringProperty(default="", subtype="DIR_PATH")


_CLASSES = (TCMR_ProcessSettings, TCMR_JobStatus)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(_CLASSES)


def register():
    _register_classes()
    bpy.types.Scene.tcmr_settings = PointerProperty(type=TCMR_ProcessSettings)
    bpy.types.WindowManager.tcmr_job = PointerProperty(type=TCMR_JobStatus)  # video runs
    bpy.types.WindowManager.tcmr_aux = PointerProperty(type=TCMR_JobStatus)  # check / env / selftest


def unregister():
    del bpy.types.WindowManager.tcmr_aux
    del bpy.types.WindowManager.tcmr_job
    del bpy.types.Scene.tcmr_settings
    _unregister_classes()
