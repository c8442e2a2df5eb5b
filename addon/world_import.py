"""A grounded result in Blender (docs/world.md): the camera where it stood and a floor plane.

Blender's world is the result's world (Z up, metres, floor z = 0). A Blender camera looks down
its local -Z with +Y up, an OpenCV camera down +z with y down, so the camera object's matrix is
camera_to_world . diag(1, -1, -1). The floor is a plane at z = 0 under everyone's paths, a
shadow catcher, in its own collection `TCMR <result name> floor`.
"""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

from .core.result_io import ResultInfo, Track

OPENCV_TO_BLENDER_CAMERA = np.diag([1.0, -1.0, -1.0, 1.0])
FLOOR_MARGIN = 3.0  # metres beyond the people's paths
FLOOR_MIN_SIZE = 10.0


def camera_matrix(info: ResultInfo) -> np.ndarray:
    """The camera object's world matrix (4,4) for a grounded result."""
    return info.world.camera_to_world @ OPENCV_TO_BLENDER_CAMERA


def place_camera(obj, info: ResultInfo) -> None:
    """Move the video camera to where it stood (no-op without world keys)."""
    if info.world is not None:
        obj.matrix_world = Matrix(camera_matrix(info).tolist())


def build_floor(info: ResultInfo, tracks: list[Track], parent_collection):
    """Plane object at z = 0 covering the people's root paths (+ margin); returns the object."""
    paths = np.concatenate([t.world_transl[:, :2] for t in tracks if t.world_transl is not None]
                           or [np.zeros((1, 2))])
    lo, hi = paths.min(0) - FLOOR_MARGIN, paths.max(0) + FLOOR_MARGIN
    centre, half = (lo + hi) / 2.0, np.maximum((hi - lo) / 2.0, FLOOR_MIN_SIZE / 2.0)
    corners = [(centre[0] + sx * half[0], centre[1] + sy * half[1], 0.0)
               for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    mesh = bpy.data.meshes.new(f"TCMR {info.name} floor")
    mesh.from_pydata(corners, [], [(0, 1, 2, 3)])
    mesh.update()
    obj = bpy.data.objects.new(f"TCMR {info.name} floor", mesh)
    obj.is_shadow_catcher = True  # Cycles: catches the characters' shadows over the video
    coll = bpy.data.collections.new(f"TCMR {info.name} floor")
    parent_collection.children.link(coll)
    coll.objects.link(obj)
    return obj
