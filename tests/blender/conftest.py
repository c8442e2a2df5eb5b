"""Fixtures of the Blender tests: the add-on registered in a fresh empty scene, and helpers to
read evaluated Blender state back as numpy."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def bpy_addon(bpy_module):
    """bpy with factory settings and the add-on registered (tests/conftest.py's bpy_module)."""
    return bpy_module


@pytest.fixture(scope="session")
def smpl_ref(smpl_data):
    """The SMPL model as read by the *backend's* reader: independent of the add-on's reader."""
    return smpl_data


def evaluated_vertices(bpy, obj, frame: int) -> np.ndarray:
    """World coordinates (V,3) of `obj`'s evaluated mesh (shape keys + armature) at `frame`."""
    bpy.context.scene.frame_set(frame)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(depsgraph)
    mesh = ev.to_mesh()
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    mw = np.array(obj.matrix_world)
    co = co.reshape(-1, 3).astype(np.float64)
    return co @ mw[:3, :3].T + mw[:3, 3]


def bone_heads(bpy, arm, names, frame: int) -> np.ndarray:
    """World positions (J,3) of the pose bones' heads at `frame`."""
    bpy.context.scene.frame_set(frame)
    mw = np.array(arm.matrix_world)
    heads = np.array([list(arm.pose.bones[n].head) for n in names], dtype=np.float64)
    return heads @ mw[:3, :3].T + mw[:3, 3]
