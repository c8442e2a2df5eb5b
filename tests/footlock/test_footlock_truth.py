"""apply_foot_lock on synthetic world truth: the figures of issue "Foot contact and foot
locking", measured against truth known by construction, on two generators:

* "own": tests/footlock/truth.py (walkers across and towards the camera and a stander whose
  planted feet are exactly still, slow limb errors, jitter, depth errors along the ray);
* "world_scene": the grounding issue's tests/scenes/world_scene.py (3 walkers and 2 standers,
  several near the image edges), through the wrapper scene_tracks.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from backend.footlock.lock import apply_foot_lock
from tests.footlock import metrics, scene_tracks, truth


@dataclass
class Run:
    project: object  # world points (...,3) -> pixels (...,2)
    truth_joints: np.ndarray  # (T,24,3)
    truth_contact: np.ndarray  # (T,4)
    unlocked: dict  # the world track handed to the foot lock
    unlocked_joints: np.ndarray  # (T,24,3): also the camera-frame output seen through the true camera
    locked: dict
    contact: np.ndarray
    report: dict


def _own(smpl):
    out = []
    for seed in (0, 1):
        scene = truth.make_scene(smpl, seed=seed)
        for p in scene.people:
            new, contact, report = apply_foot_lock(p.world_input, scene.camera_to_world, smpl, truth.FPS)
            out.append(Run(scene.project, p.joints, p.contact, p.world_input, p.camera_output, new, contact,
                           report))
    return out


def _world_scene(smpl):
    from tests.scenes.world_scene import make_scene

    scene = make_scene(smpl, kind="walk_and_stand", seed=0, frames=60)
    cam = scene.camera
    out = []
    for i, p in enumerate(scene.people):
        track = scene_tracks.world_track(scene, i, smpl)
        new, contact, report = apply_foot_lock(track, cam.camera_to_world, smpl, scene.fps)
        out.append(Run(lambda x, cam=cam: cam.project(cam.world_to_camera(x)), p.joints_world, p.contact,
                       track, truth.joints_of(track, smpl), new, contact, report))
    return out


@pytest.fixture(scope="module", params=["own", "world_scene"])
def runs(request, smpl_data):
    return (_own if request.param == "own" else _world_scene)(smpl_data)


def test_contact_f1_against_the_truth(runs):
    counts = [metrics.f1_counts(r.contact, r.truth_contact) for r in runs]
    assert metrics.f1(counts) >= 0.85


def test_sliding_falls_below_6mm_and_a_quarter_of_the_unlocked(runs, smpl_data):
    before = np.concatenate([metrics.sliding_steps(r.unlocked_joints, r.truth_contact) for r in runs]).mean()
    after = np.concatenate([metrics.sliding_steps(truth.joints_of(r.locked, smpl_data), r.truth_contact)
                            for r in runs]).mean()
    assert after < 0.006
    assert after < before / 4.0


def test_root_error_at_most_0_6_of_the_unlocked(runs, smpl_data):
    def error(joints, r):
        return np.linalg.norm(joints[:, 0] - r.truth_joints[:, 0], axis=1).mean()

    before = sum(error(r.unlocked_joints, r) for r in runs)
    after = sum(error(truth.joints_of(r.locked, smpl_data), r) for r in runs)
    assert after <= 0.6 * before


def test_overlay_no_worse_than_the_camera_frame_output_by_4px(runs, smpl_data):
    def px(joints, r):
        return np.linalg.norm(r.project(joints) - r.project(r.truth_joints), axis=-1).reshape(-1)

    camera = np.concatenate([px(r.unlocked_joints, r) for r in runs])
    locked = np.concatenate([px(truth.joints_of(r.locked, smpl_data), r) for r in runs])
    assert np.median(locked) <= np.median(camera) + 4.0


def test_planted_feet_within_5cm_of_the_floor(runs, smpl_data):
    dist = np.concatenate([metrics.planted_floor_distance(truth.sole_heights(r.locked, smpl_data),
                                                          r.truth_contact) for r in runs])
    assert np.percentile(dist, 95) < 0.05
    assert np.median(dist) < 0.02


def test_only_transl_and_body_pose_change(runs):
    for r in runs:
        assert r.report["locked"] and not r.report["warnings"]
        assert np.array_equal(r.locked["world_global_orient"], r.unlocked["world_global_orient"])
        assert not np.allclose(r.locked["world_transl"], r.unlocked["world_transl"])
        assert r.contact.shape == (len(r.truth_contact), 4)
        assert r.contact.min() >= 0.0 and r.contact.max() <= 1.0


def test_own_truth_is_planted_by_construction(smpl_data):
    for p in truth.make_scene(smpl_data, seed=0, frames=60).people:
        assert p.max_planted_step < 1e-4
        assert p.contact.mean() > 0.5


def test_mode_off_detects_contacts_and_keeps_the_motion(smpl_data):
    scene = truth.make_scene(smpl_data, seed=0, frames=60)
    person = scene.people[2]
    new, contact, report = apply_foot_lock(person.world_input, scene.camera_to_world, smpl_data, truth.FPS,
                                           mode="off")
    assert not report["locked"]
    for key in ("world_transl", "world_body_pose", "world_global_orient"):
        assert np.array_equal(new[key], person.world_input[key])
    assert metrics.f1([metrics.f1_counts(contact, person.contact)]) > 0.85


def test_a_bouncing_person_gets_no_contact(smpl_data):
    from tests.scenes.world_scene import make_scene

    scene = make_scene(smpl_data, kind="trampoline", seed=0, frames=60)
    track = scene_tracks.world_track(scene, 0, smpl_data)
    new, contact, report = apply_foot_lock(track, scene.camera.camera_to_world, smpl_data, scene.fps)
    assert (scene.people[0].contact == 0).all()
    assert [w["code"] for w in report["warnings"]] == ["FOOT_LOCK_NO_CONTACT"]
    assert (contact <= 0.5).all() and np.array_equal(new["world_transl"], track["world_transl"])
