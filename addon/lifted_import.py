"""A `lift` output into the scene: the video camera (as for SMPL results) and an animated
17-joint H36M armature whose joints are exactly `joints3d` through the camera mapping.

The armature is a parented H36M hierarchy (core/lifted_rig.py): canonical T-pose rest, each
bone aimed at the joint that continues its limb, rotation-keyed from the joint positions with a
twist from the hip/shoulder lines and the knee/elbow bend planes, and location-keyed with what
the rotations leave over (lifted limb lengths vary per frame), so every frame reproduces the
lifted joints exactly. That rotation-carrying skeleton is what `tcmr.bake_to_rig` bakes onto
Mixamo/Rigify rigs (source skeleton H36M, docs/retargeting.md). The object's custom property
`tcmr_skeleton` is "H36M"; each bone's H36M parent is also in its property `h36m_parent`.
Keys only through anim_shim.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix, Vector

from . import anim_shim
from .character import with_window
from .core import lifted_rig, rig_math
from .core.lifted_io import Lifted, camera_to_blender, read_lifted
from .scene_camera import SENSOR_MM

BONE_LENGTH = 0.05  # ends (head, feet, wrists) and degenerate segments
SKELETON_PROPERTY = "tcmr_skeleton"


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


def _armature(context, name: str, lifted: Lifted, world: np.ndarray, collection):
    """The H36M hierarchy in its rest pose (lifted_rig.rest_pose of `world` (T,J,3))."""
    heads, rotations = lifted_rig.rest_pose(world)
    data = bpy.data.armatures.new(name)
    data.display_type = "STICK"
    obj = bpy.data.objects.new(name, data)
    obj.show_in_front = True
    obj[SKELETON_PROPERTY] = lifted_rig.SKELETON
    collection.objects.link(obj)
    previous = context.view_layer.objects.active
    context.view_layer.objects.active = obj
    with with_window(context):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            bones = data.edit_bones
            for j, joint in enumerate(lifted_rig.NAMES):
                aim = lifted_rig.AIM.get(joint)
                length = np.linalg.norm(heads[lifted_rig.NAMES.index(aim)] - heads[j]) if aim else 0.0
                bone = bones.new(joint)
                bone.head = heads[j]
                bone.tail = heads[j] + rotations[j][:, 1] * max(length, BONE_LENGTH)
                matrix = Matrix(rotations[j].tolist()).to_4x4()
                matrix.translation = Vector(heads[j])
                bone.matrix = matrix  # sets the roll: the bone's X axis is the rest frame's
                parent = lifted_rig.PARENTS[j]
                if parent >= 0:
                    bone.parent = bones[lifted_rig.NAMES[parent]]
                    bone.use_connect = False
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")
    context.view_layer.objects.active = previous
    for joint, parent in zip(lifted_rig.NAMES, lifted_rig.PARENTS):
        data.bones[joint]["h36m_parent"] = lifted_rig.NAMES[parent] if parent >= 0 else ""
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    return obj


def _curves(obj, world: np.ndarray) -> list[anim_shim.Curve]:
    """Pose-bone rotation and location keys that put the heads on `world` (T,J,3)."""
    frames = rig_math.FRAME_OFFSET + np.arange(len(world), dtype=np.float64)
    rest = np.array([np.array(obj.data.bones[n].matrix_local) for n in lifted_rig.NAMES])
    location, quaternion = lifted_rig.pose_basis(rest, lifted_rig.world_matrices(world))
    curves = []
    for j, joint in enumerate(lifted_rig.NAMES):
        base = f'pose.bones["{joint}"].'
        curves += [anim_shim.Curve(base + "rotation_quaternion", i, joint, frames, quaternion[:, j, i])
                   for i in range(4)]
        curves += [anim_shim.Curve(base + "location", i, joint, frames, location[:, j, i]) for i in range(3)]
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
        arm = _armature(context, f"{name} H36M", lifted, world, collection)
        anim_shim.write_action(arm, f"{name} lifted", _curves(arm, world))
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
