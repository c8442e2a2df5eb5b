"""A `lift` output into the scene: the video camera (as for SMPL results) and an animated
17-joint H36M armature whose joints are exactly `joints3d` through the camera mapping.

The armature is flat (every bone unparented, head at the joint's first-frame position, a short
tail up): each bone's pose `location` carries its joint, so every frame reproduces the lifted
joints exactly, limb lengths included (they vary per frame in the lifted data). The H36M parent
of each bone is kept in its custom property `h36m_parent`. Keys only through anim_shim.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np

from . import anim_shim
from .character import with_window
from .core import rig_math
from .core.lifted_io import Lifted, camera_to_blender, read_lifted
from .scene_camera import SENSOR_MM

BONE_LENGTH = 0.05


def _camera(name: str, lifted: Lifted, collection):
    data = bpy.data.cameras.new(name)
    longer = max(lifted.width, lifted.height)
    data.sensor_fit = "HORIZONTAL" if lifted.width >= lifted.height else "VERTICAL"
    data.sensor_width = data.sensor_height = SENSOR_MM
    data.lens = lifted.focal_px * SENSOR_MM / longer
    data.clip_start, data.clip_end = 0.05, 1000.0
    obj = bpy.data.objects.new(name, data)
    obj.rotation_mode = "XYZ"
    obj.rotation_euler = (math.pi / 2.0, 0.0, 0.0)  # looking along +Y, Z up
    collection.objects.link(obj)
    return obj


def _armature(context, name: str, lifted: Lifted, rest: np.ndarray, collection):
    data = bpy.data.armatures.new(name)
    data.display_type = "STICK"
    obj = bpy.data.objects.new(name, data)
    obj.show_in_front = True
    collection.objects.link(obj)
    previous = context.view_layer.objects.active
    context.view_layer.objects.active = obj
    with with_window(context):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            for joint, head in zip(lifted.names, rest):
                bone = data.edit_bones.new(joint)
                bone.head = head
                bone.tail = (head[0], head[1], head[2] + BONE_LENGTH)
                bone.roll = 0.0
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")
    context.view_layer.objects.active = previous
    for joint, parent in zip(lifted.names, lifted.parents):
        data.bones[joint]["h36m_parent"] = lifted.names[parent] if parent >= 0 else ""
    return obj


def _curves(obj, lifted: Lifted, world: np.ndarray) -> list[anim_shim.Curve]:
    """Pose-bone location keys: the joint minus the rest head, in the bone's rest axes."""
    frames = rig_math.FRAME_OFFSET + np.arange(len(world), dtype=np.float64)
    curves = []
    for j, joint in enumerate(lifted.names):
        rest = np.array(obj.data.bones[joint].matrix_local)
        local = (world[:, j] - rest[:3, 3]) @ rest[:3, :3]  # R^T (p - head) per frame
        path = f'pose.bones["{joint}"].location'
        curves += [anim_shim.Curve(path, i, joint, frames, local[:, i]) for i in range(3)]
    return curves


def import_lifted(context, filepath: str, set_scene: bool = True) -> tuple[object, list[str]]:
    """Build camera + armature from a lift .npz -> (armature object, warnings)."""
    lifted = read_lifted(filepath)
    name = Path(filepath).stem
    collection = bpy.data.collections.new(f"Lifted {name}")
    context.scene.collection.children.link(collection)
    try:
        world = camera_to_blender(lifted.joints_cam)
        _camera(f"{name} camera", lifted, collection)
        arm = _armature(context, f"{name} H36M", lifted, world[0], collection)
        anim_shim.write_action(arm, f"{name} lifted", _curves(arm, lifted, world))
    except BaseException:
        for obj in list(collection.objects):
            bpy.data.objects.remove(obj)
        bpy.data.collections.remove(collection)
        raise
    if set_scene:
        scene = context.scene
        scene.render.fps, scene.render.fps_base = rig_math.fps_to_blender(lifted.fps)
        scene.frame_start = rig_math.FRAME_OFFSET
        scene.frame_end = rig_math.FRAME_OFFSET + len(world) - 1
        scene.render.resolution_x, scene.render.resolution_y = lifted.width, lifted.height
        scene.camera = collection.objects[f"{name} camera"]
    synthetic = "this file was made with SYNTHETIC weights: the motion is meaningless"
    return arm, [synthetic] if lifted.synthetic else []
