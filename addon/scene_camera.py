"""The video camera: a Blender camera at the origin that matches the pinhole camera of the
result (looking along +Y with Z up: the scene convention Blender = (x_cam, z_cam, -y_cam)),
with the video as its background, plus the scene's fps, frame range and resolution.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import bpy

from .core import rig_math
from .core.result_io import ResultInfo
from .world_import import place_camera

SENSOR_MM = 36.0
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def camera_intrinsics(info: ResultInfo) -> dict:
    """Blender camera settings for the result's pinhole camera (focal length in pixels).

    The sensor is fitted along the longer image side (36 mm), so lens = f_px * 36 / longer side.
    Blender's shift is in units of the longer side; x to the right, y up (OpenCV's y is down).
    """
    w, h = info.video.width, info.video.height
    longer = max(w, h)
    cx, cy = info.camera.principal_point_px
    return {
        "sensor_fit": "HORIZONTAL" if w >= h else "VERTICAL",
        "sensor": SENSOR_MM,
        "lens": info.camera.focal_length_px * SENSOR_MM / longer,
        "shift_x": (w / 2.0 - cx) / longer,
        "shift_y": (cy - h / 2.0) / longer,
    }


def apply_scene_settings(scene, info: ResultInfo, timing: rig_math.Timing, last_video_frame: int = 0) -> None:
    """fps (29.97 -> 30 / 1.001), frame range of the whole video (and at least up to the last
    tracked frame), render size of the video."""
    scene.render.fps, scene.render.fps_base = rig_math.fps_to_blender(timing.scene_fps)
    scene.frame_start = rig_math.FRAME_OFFSET
    scene.frame_end = timing.frame_end(max(info.video.frame_count, last_video_frame + 1))
    scene.render.resolution_x = info.video.width
    scene.render.resolution_y = info.video.height
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0


def _sequence_numbers(images: list[Path]) -> list[int] | None:
    """The trailing frame number of each file name, or None when a name has none."""
    numbers = []
    for image in images:
        match = re.search(r"(\d+)$", image.stem)
        if match is None:
            return None
        numbers.append(int(match.group(1)))
    return numbers


def _attach_background(cam_data, video_path: str):
    """Video (movie clip) or image folder (image sequence) as the camera background.
    Returns (warning text when the video cannot be shown (the rest is still built), the movie
    clip or None)."""
    if not video_path:
        return "the result does not name its video: the camera has no background", None
    path = Path(video_path)
    bg = clip = None
    try:
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                return f"no images in {path}: the camera has no background", None
            numbers = _sequence_numbers(images)
            if numbers is None or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
                return (f"the images in {path} are not numbered consecutively (like frame_0001.png), "
                        "which a Blender image sequence needs: the camera has no background"), None
            image = bpy.data.images.load(str(images[0]), check_existing=False)
            image.source = "SEQUENCE"
            bg = cam_data.background_images.new()
            bg.source = "IMAGE"
            bg.image = image
            # Blender shows file number (scene frame - frame_start + 1 + frame_offset): the first
            # image (video frame 0) at scene frame 1.
            bg.image_user.frame_start = rig_math.FRAME_OFFSET
            bg.image_user.frame_duration = len(images)
            bg.image_user.frame_offset = numbers[0] - 1
        elif path.is_file():
            clip = bpy.data.movieclips.load(str(path), check_existing=False)
            clip.frame_start = rig_math.FRAME_OFFSET  # video frame 0 plays at scene frame 1
            bg = cam_data.background_images.new()
            bg.source = "MOVIE_CLIP"
            bg.clip = clip
        else:
            return f"video not found: {path} (the camera has no background; characters are complete)", None
    except RuntimeError as exc:
        return f"cannot open the video {path} as a background: {exc}", None
    bg.display_depth = "BACK"
    bg.frame_method = "FIT"
    bg.alpha = 1.0
    cam_data.show_background_images = True
    return None, clip


def build_camera(name: str, info: ResultInfo, collection):
    """Camera object at the origin looking along +Y (rotation Rx(+90)), matching the video.
    Returns (camera object, warning or None, timing of the scene, note about the timing or None)."""
    cam_data = bpy.data.cameras.new(name)
    k = camera_intrinsics(info)
    cam_data.sensor_fit = k["sensor_fit"]
    cam_data.sensor_width = k["sensor"]
    cam_data.sensor_height = k["sensor"]
    cam_data.lens = k["lens"]
    cam_data.shift_x = k["shift_x"]
    cam_data.shift_y = k["shift_y"]
    cam_data.clip_start = 0.05
    cam_data.clip_end = 1000.0
    obj = bpy.data.objects.new(name, cam_data)
    obj.location = (0.0, 0.0, 0.0)
    obj.rotation_mode = "XYZ"
    obj.rotation_euler = (math.pi / 2.0, 0.0, 0.0)
    collection.objects.link(obj)
    place_camera(obj, info)  # a grounded result: where the camera stood in the world
    warning, clip = _attach_background(cam_data, info.video.path)
    if clip is None:
        timing, note = rig_math.choose_timing(info.video.fps, info.video.frame_count)
    else:
        timing, note = rig_math.choose_timing(info.video.fps, info.video.frame_count, float(clip.fps),
                                              int(clip.frame_duration))
    return obj, warning, timing, note
