"""Grounding against synthetic ground truth (tests/scenes/world_scene.py): a known floor, a tilted
static camera (1.45 m, 10 deg pitch, 2.5 deg roll), three walkers and two standers, several near
the image edges, seen through a simulated network with realistic errors. Tolerances are the
issue's: floor normal 1.5 deg, camera height 8 cm, world root orientation 3 deg (median),
overlay no worse than the camera-frame output by more than 3 px (median), planted feet of
everyone on the one floor within 5 cm (median per person)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.grounding.camera_pose import CAMERA_TO_ZUP
from backend.grounding.ground import angle_deg, ground_tracks, grounded_arrays
from backend.smpl_np import rotvec_to_matrix, smpl_forward
from tests.grounding.conftest import tracks_of, view_of
from tests.scenes.world_scene import _foot_vertex_ids, make_scene

NO_VERTS = np.zeros(0, dtype=np.int64)  # joints only

@pytest.fixture(scope="module")
def grounded(walk_scene, smpl_data):
    return ground_tracks(view_of(walk_scene), tracks_of(walk_scene), smpl_data, walk_scene.fps)


def _angles(r_a, r_b):
    rel = np.einsum("tji,tjk->tik", r_a, r_b)
    return np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)))


def _project(c2w, focal, principal, points_w):
    rot, origin = c2w[:3, :3], c2w[:3, 3]
    cam = (points_w - origin) @ rot
    return focal * cam[..., :2] / cam[..., 2:3] + principal


def test_floor_and_camera_pose(walk_scene, grounded):
    world, cam = grounded.world, walk_scene.camera
    assert world["ground_found"] is True and grounded.warnings == []
    assert angle_deg(world["floor_normal_camera"], cam.floor_normal_cam) < 1.5
    assert abs(world["camera_height_m"] - cam.height_m) < 0.08
    c2w = np.array(world["camera_to_world"])
    assert c2w.shape == (4, 4) and np.allclose(c2w[3], [0, 0, 0, 1])
    assert np.allclose(c2w[:2, 3], 0.0)  # the camera stands above the world origin
    forward = c2w[:3, :3] @ [0.0, 0.0, 1.0]
    assert abs(forward[0]) < 1e-9 and forward[1] > 0  # it looks along +Y
    assert abs(world["camera_pitch_deg"] - cam.pitch_deg) < 1.5
    assert abs(world["camera_roll_deg"] - cam.roll_deg) < 1.5
    fit = world["fit"]
    assert fit["inliers"] > 0.8 * fit["candidates"] and fit["residual_rms_m"] < 0.05
    assert fit["tracks_used"] == [p.track_id for p in walk_scene.people]  # everyone stands on it


def test_world_root_orientation(walk_scene, grounded):
    c2w = np.array(grounded.world["camera_to_world"])
    for person, wt, raw in zip(walk_scene.people, grounded.tracks, walk_scene.network):
        truth = rotvec_to_matrix(person.world_global_orient)
        err = _angles(truth, rotvec_to_matrix(wt["world_global_orient"]))
        assert np.median(err) < 3.0, (person.track_id, np.median(err))
        if person.track_id == 1:  # near the left edge: without the perspective correction ~20 deg off
            uncorrected = _angles(truth, c2w[:3, :3] @ rotvec_to_matrix(raw["global_orient"]))
            assert np.median(uncorrected) > 10.0


def test_overlay_through_the_recovered_camera(walk_scene, grounded, smpl_data):
    cam = walk_scene.camera
    c2w = np.array(grounded.world["camera_to_world"])
    errs_world, errs_cam = [], []
    for person, wt, raw in zip(walk_scene.people, grounded.tracks, walk_scene.network):
        truth_px = cam.project(cam.world_to_camera(person.joints_world))
        _, jw = smpl_forward(smpl_data, wt["betas"], wt["world_global_orient"], wt["world_body_pose"],
                             wt["world_transl"], vertex_ids=NO_VERTS)
        _, jc = smpl_forward(smpl_data, raw["betas"], raw["global_orient"], raw["body_pose"], raw["transl"],
                             vertex_ids=NO_VERTS)
        errs_world.append(np.linalg.norm(_project(c2w, cam.focal, cam.principal, jw) - truth_px, axis=-1))
        errs_cam.append(np.linalg.norm(cam.project(jc) - truth_px, axis=-1))
    med_world, med_cam = np.median(np.concatenate(errs_world)), np.median(np.concatenate(errs_cam))
    assert med_world <= med_cam + 3.0, (med_world, med_cam)


def test_planted_feet_of_everyone_on_the_floor(walk_scene, grounded, smpl_data):
    left, right = _foot_vertex_ids(smpl_data)
    for person, wt in zip(walk_scene.people, grounded.tracks):
        verts, _ = smpl_forward(smpl_data, wt["betas"], wt["world_global_orient"], wt["world_body_pose"],
                                wt["world_transl"], vertex_ids=np.concatenate([left, right]))
        sole = np.stack([verts[:, :len(left), 2].min(1), verts[:, len(left):, 2].min(1)], axis=1)
        planted = person.contact[:, :2] > 0  # joints 7, 8: the left / right ankle planted
        assert planted.sum() > 10
        assert np.median(np.abs(sole[planted])) < 0.05, (person.track_id, np.median(np.abs(sole[planted])))


def test_raw_network_output_is_kept(walk_scene, grounded):
    for raw, wt in zip(walk_scene.network, grounded.tracks):
        out = grounded_arrays(dict(raw, track_id=1), wt)
        for key, value in raw.items():
            assert np.array_equal(out[key], value), key
        assert out["world_transl"].dtype == np.float32
        assert out["contact"].shape == (len(raw["frame_index"]), 4)
        assert ((out["contact"] >= 0) & (out["contact"] <= 1)).all()  # probabilities (backend.footlock)


@pytest.mark.parametrize("kind", ["upper_body", "trampoline"])
def test_no_floor_is_not_guessed(kind, smpl_data):
    scene = make_scene(smpl_data, kind, seed=0, frames=60)
    out = ground_tracks(view_of(scene), tracks_of(scene), smpl_data, scene.fps)
    assert out.world["ground_found"] is False and out.world["camera_height_m"] is None
    assert [w[0] for w in out.warnings] == ["GROUND_NOT_FOUND"] and out.warnings[0][2]
    c2w = np.array(out.world["camera_to_world"])
    assert np.allclose(c2w[:3, :3], CAMERA_TO_ZUP) and np.allclose(c2w[:3, 3], 0.0)
    for wt, raw in zip(out.tracks, scene.network):  # the camera frame turned to Z up, as before
        _, j_world = smpl_forward(smpl_data, wt["betas"], wt["world_global_orient"], wt["world_body_pose"],
                                  wt["world_transl"], vertex_ids=NO_VERTS)
        _, j_cam = smpl_forward(smpl_data, raw["betas"], wt["camera_global_orient"], raw["body_pose"],
                                raw["transl"], vertex_ids=NO_VERTS)
        assert np.allclose(j_world, j_cam @ CAMERA_TO_ZUP.T, atol=1e-6)


def test_angles_helper():
    assert math.isclose(angle_deg([0, 0, 1], [0, 1, 0]), 90.0)
