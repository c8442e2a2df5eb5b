"""What a character keeps about its track, and its `confidence` curves (docs/confidence_and_editing.md).

* Each pose bone gets a custom property `confidence` (float in [0,1]), keyed per frame from the
  track's optional `confidence (T,24)`; the curves go into the character's one motion action
  (anim_shim is the only writer).
* The armature object keeps `tcmr_video_frames` / `tcmr_scene_frames` (its rows' video and scene
  frames), `tcmr_confidence_min` (per-frame least confident joint, for the panel's
  "Low confidence" list) and, after an import, `tcmr_result_dir`.
"""

from __future__ import annotations

import bpy
import numpy as np

from . import anim_shim
from .core.confidence_ranges import per_frame_min
from .core.result_io import Track
from .core.skeleton import JOINT_NAMES

PROP = "confidence"


def confidence_curves(arm_obj, track: Track, frames: np.ndarray) -> list[anim_shim.Curve]:
    """Tag `arm_obj` with its frames and return the bones' `confidence` curves ([] without data)."""
    arm_obj["tcmr_video_frames"] = [int(f) for f in track.frame_index]
    arm_obj["tcmr_scene_frames"] = [float(f) for f in frames]
    if track.confidence is None:
        return []
    arm_obj["tcmr_confidence_min"] = [float(v) for v in per_frame_min(track.confidence)]
    curves = []
    for j, joint in enumerate(JOINT_NAMES):
        pb = arm_obj.pose.bones[joint]
        pb[PROP] = 1.0
        ui = pb.id_properties_ui(PROP)
        ui.update(min=0.0, max=1.0, soft_min=0.0, soft_max=1.0,
                  description="TCMR's per-joint confidence (1: the three temporal predictions agree)")
        curves.append(anim_shim.Curve(f'pose.bones["{joint}"]["{PROP}"]', 0, joint, frames,
                                      track.confidence[:, j]))
    return curves


def tag_result(armature_names: list[str], directory) -> None:
    """Record the result directory the characters were imported from (for the track editor)."""
    for name in armature_names:
        bpy.data.objects[name]["tcmr_result_dir"] = str(directory)
