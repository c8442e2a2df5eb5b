"""Panel settings (per scene, saved in the .blend) and job status (per session, on the window
manager, never saved). Job status is written only by the main-thread poll function."""

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

PEOPLE_ITEMS = (
    ("all", "All People", "One character per tracked person"),
    ("longest", "Main Person (Longest)", "Only the person seen in the most frames"),
    ("largest", "Main Person (Largest)", "Only the person who appears largest (closest to the camera)"),
)
SMOOTHING_ITEMS = (
    ("none", "None", "Raw network output"),
    ("oneeuro", "Light (One Euro)", "Removes jitter and keeps fast motion (one-euro filter)"),
    ("slerp", "Strong (Slerp)", "Very smooth motion; fast moves are softened (TCMR's evaluation filter)"),
)


class TCMR_ProcessSettings(bpy.types.PropertyGroup):
    video: StringProperty(name="Video", subtype="FILE_PATH",
                          description="Video file (or a folder of .png/.jpg frames) to capture")
    use_range: BoolProperty(name="Frame Range", default=False,
                            description="Process only part of the video")
    frame_start: IntProperty(name="Start", default=0, min=0, description="First video frame (from 0)")
    frame_end: IntProperty(name="End", default=100, min=1,
                           description="Video frame after the last one processed")
    people: EnumProperty(name="People", items=PEOPLE_ITEMS, default="all")
    smoothing: EnumProperty(name="Smoothing", items=SMOOTHING_ITEMS, default="oneeuro")
    model: EnumProperty(name="Model", default="tcmr", items=(
        ("tcmr", "TCMR", "TCMR (CVPR 2021): smooth motion from 16-frame windows (default)"),
        ("vibe", "VIBE", "VIBE (CVPR 2020): one causal GRU; needs vibe_model_wo_3dpw.pth.tar in the model "
                         "data folder (docs/models.md)")))
    bbox: StringProperty(name="Person Box", default="",
                         description="Optional x,y,w,h in pixels: follow one person inside this fixed box "
                                     "(skips detection)")
    use_cache: BoolProperty(name="Reuse Earlier Results", default=True,
                            description="Re-import at once when this clip was processed with the same "
                                        "settings")


class TCMR_JobStatus(bpy.types.PropertyGroup):
    running: BoolProperty(default=False)
    kind: StringProperty(default="")  # run / check / env / selftest
    stage_label: StringProperty(default="")
    factor: FloatProperty(default=0.0, min=0.0, max=1.0)
    fps: FloatProperty(default=0.0)
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
