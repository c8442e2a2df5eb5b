"""A grounded result (backend `ground` on synthetic truth) imports in the world: every mesh equals
SMPL(world_global_orient, world_body_pose, betas) + world_transl, the camera object stands at
camera_to_world with the video's focal length, a floor plane lies at z = 0, and looking through
the camera still puts the body on the person's pixels."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from .conftest import evaluated_vertices
from .smpl_reference import smpl_forward


@pytest.fixture(scope="module")
def grounded_dir(smpl_data, model_data_dir, tmp_path_factory):
    from backend.events import Reporter
    from backend.grounding.ground import GroundOptions
    from backend.grounding.reader import read_result
    from backend.grounding.result_step import ground_arrays
    from backend.result import ResultWriter
    from tests.scenes.world_scene import make_scene, write_result

    base = tmp_path_factory.mktemp("world")
    src = write_result(make_scene(smpl_data, "walk_and_stand", seed=0, frames=30), base / "scene")
    loaded = read_result(src)
    meta, arrays, _ = ground_arrays(loaded.meta, loaded.arrays, loaded.view, loaded.fps, smpl_data,
                                    GroundOptions(), Reporter(jsonl=True, out=io.StringIO()))
    assert meta["world"]["ground_found"]
    meta["tracks"] = meta["tracks"][:2]  # two characters keep the test quick
    with ResultWriter(base / "grounded") as writer:
        for entry, a in zip(meta["tracks"], arrays):
            writer.write_track(int(entry["id"]), a)
        return writer.commit(meta)


def test_meshes_are_smpl_of_the_world_motion(bpy_addon, grounded_dir, model_data_dir, smpl_ref):
    bpy = bpy_addon
    done = bpy.ops.tcmr.import_result(filepath=str(grounded_dir), data_dir=str(model_data_dir))
    assert done == {"FINISHED"}
    for tid in (1, 2):
        with np.load(grounded_dir / f"track_{tid}.npz") as npz:
            a = {k: npz[k].astype(np.float64) for k in npz.files}
        body = bpy.data.objects[f"TCMR track {tid} body"]
        for row in (0, 17):
            frame = int(a["frame_index"][row]) + 1
            got = evaluated_vertices(bpy, body, frame)
            want, _ = smpl_forward(smpl_ref, a["betas"], a["world_global_orient"][row],
                                   a["world_body_pose"][row], a["world_transl"][row])
            assert np.abs(got - want).max() < 1e-4, (tid, row, np.abs(got - want).max())


def test_camera_and_floor(bpy_addon, grounded_dir, model_data_dir):
    bpy = bpy_addon
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    done = bpy.ops.tcmr.import_result(filepath=str(grounded_dir), data_dir=str(model_data_dir))
    assert done == {"FINISHED"}
    meta = json.loads((grounded_dir / "result.json").read_text())
    c2w = np.array(meta["world"]["camera_to_world"])
    scene = bpy.context.scene
    cam = scene.camera
    mw = np.array(cam.matrix_world)
    assert np.abs(mw[:3, 3] - c2w[:3, 3]).max() < 1e-3
    # Blender cameras look down local -Z with +Y up: OpenCV (x, y, z) = Blender local (x, -y, -z)
    rel = mw[:3, :3].T @ c2w[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    angle = math.degrees(math.acos(np.clip((np.trace(rel) - 1) / 2, -1, 1)))
    assert angle < 0.05
    focal, width, height = meta["camera"]["focal_length_px"], meta["video"]["width"], meta["video"]["height"]
    assert cam.data.lens == pytest.approx(focal * cam.data.sensor_width / max(width, height), rel=1e-6)

    floor = bpy.data.objects["TCMR grounded floor"]
    assert floor.is_shadow_catcher and floor.users_collection[0].name == "TCMR grounded floor"
    z = np.array([v.co.z for v in floor.data.vertices])
    assert np.allclose(z, 0.0) and np.allclose(np.array(floor.matrix_world), np.eye(4))

    # through the camera the body lands where the result's pinhole camera puts it
    body = bpy.data.objects["TCMR track 1 body"]
    world = evaluated_vertices(bpy, body, 6)[::97]
    cam_pts = (world - c2w[:3, 3]) @ c2w[:3, :3]
    pp = meta["camera"]["principal_point_px"]
    want = focal * cam_pts[:, :2] / cam_pts[:, 2:3] + pp
    ndc = np.array([list(world_to_camera_view(scene, cam, Vector(p))) for p in world])
    got = np.stack([ndc[:, 0] * width, (1.0 - ndc[:, 1]) * height], axis=1)
    assert np.abs(got - want).max() < 0.05
