"""Does a result fit a Blender scene? Checked before the import builds or changes anything. Pure.

Blender clamps out-of-range scene values silently (a frame end past MAXFRAME, a 10^7 px wide
render) or fails half-way (a frame number too large for a C int), so the import checks the
result against Blender's limits first and names the field that does not fit.

Limits (Blender 5.0): scene frames 0..1,048,574 (MAXFRAME); render.fps 1..32767 with fps_base
1e-5..1e6, so a video rate of 0.01..32767 fps; render resolution 4..65536 px per side; camera
lens 1..5000 mm (our sensor is 36 mm across the longer image side).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import AddonError
from .result_io import ResultInfo, Track
from .rig_math import FRAME_OFFSET, Timing

MAX_FRAME = 1_048_574
FPS_RANGE = (0.01, 32767.0)
RESOLUTION_RANGE = (4, 65536)
LENS_RANGE_MM = (1.0, 5000.0)
SENSOR_MM = 36.0

_HINT = ("This result cannot be shown in a Blender scene; process the video again (check the "
         "frame range and the --fps / --focal options), or report the result folder if the backend wrote it.")


def _refuse(what: str, where: str = "result.json") -> AddonError:
    return AddonError(f"{where}: {what}", _HINT)


def check_video(info: ResultInfo) -> None:
    """The video's rate, size and camera fit Blender's scene and camera settings."""
    video = info.video
    low, high = FPS_RANGE
    if not low <= video.fps <= high:
        raise _refuse(f"video.fps is {video.fps:g}, outside the {low:g}..{high:g} fps of a Blender scene")
    low, high = RESOLUTION_RANGE
    for name, value in (("video.width", video.width), ("video.height", video.height)):
        if not low <= value <= high:
            raise _refuse(f"{name} is {value} px, outside Blender's render size range {low}..{high}")
    lens = info.camera.focal_length_px * SENSOR_MM / max(video.width, video.height)
    if not LENS_RANGE_MM[0] <= lens <= LENS_RANGE_MM[1]:
        raise _refuse(f"camera.focal_length_px is {info.camera.focal_length_px:g}: a {lens:.3g} mm lens, "
                      f"outside Blender's {LENS_RANGE_MM[0]:g}..{LENS_RANGE_MM[1]:g} mm")


def check_frames(info: ResultInfo, tracks: Sequence[Track], timing: Timing | None = None) -> None:
    """Every scene frame the import uses (the video's last frame, each track's keys) is at most
    MAX_FRAME with `timing` (default: the video's own rate, video frame i at scene frame i + 1)."""
    timing = timing or Timing(scene_fps=info.video.fps)
    limit_video_frames = int((MAX_FRAME - FRAME_OFFSET) / timing.frames_per_video_frame) + 1
    if info.video.frame_count > limit_video_frames:
        raise _refuse(f"video.frame_count is {info.video.frame_count}, more than the {limit_video_frames} "
                      f"frames a Blender scene holds (frames up to {MAX_FRAME})")
    for track in tracks:
        last = float(timing.scene_frames(np.asarray(track.frame_index[-1:]))[0])
        if last > MAX_FRAME:
            entry = next((e.file for e in info.tracks if e.id == track.id), f"track {track.id}")
            raise _refuse(f"frame_index reaches video frame {int(track.frame_index[-1])}: scene frame "
                          f"{last:.0f}, past Blender's last frame {MAX_FRAME}", entry)


def check_fits_scene(info: ResultInfo, tracks: Sequence[Track], timing: Timing | None = None) -> None:
    """Raise AddonError naming the first field of the result that does not fit a Blender scene."""
    check_video(info)
    check_frames(info, tracks, timing)
