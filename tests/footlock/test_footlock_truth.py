"""apply_foot_lock on synthetic world truth (walkers and a stander, a tilted static camera,
slow limb errors, jitter, depth errors of a few percent along the viewing ray): the figures
of issue "Foot contact and foot locking", measured against the truth built in truth.py."""

from __future__ import annotations

import numpy as np
import pytest

from backend.footlock.lock import apply_foot_lock
from tests.footlock import metrics, truth

SEEDS = (0, 1)


@pytest.fixture(scope="module")
def runs(smpl_data):
    out = []
    for seed in SEEDS:
        scene = truth.make_scene(smpl_data, seed=seed)
        for person in scene.people:
            new, contact, report = apply_foot_lock(person.world_input, scene.camera_to_world, smpl_data,
                                                   truth.FPS)
            out.append((scene, person, new, contact, report))
    return out


def test_the_truth_itself_is_planted(runs):
    for _scene, person, *_ in runs:
        assert person.max_planted_step < 1e-4
        assert person.contact.mean() > 0.5


def test_contact_f1_against_the_truth(runs):
    counts = [metrics.f1_counts(contact, person.contact) for _s, person, _n, contact, _r in runs]
    assert metrics.f1(counts) >= 0.85
    for c in counts:  # and no track on its own falls apart
        assert metrics.f1([c]) >= 0.75


def test_sliding_falls_below_6mm_and_a_quarter_of_the_unlocked(runs, smpl_data):
    before, after = [], []
    for _scene, person, new, _c, _r in runs:
        before.append(metrics.sliding_steps(person.camera_output, person.contact))
        after.append(metrics.sliding_steps(truth.joints_of(new, smpl_data), person.contact))
    before, after = np.concatenate(before).mean(), np.concatenate(after).mean()
    assert after < 0.006
    assert after < before / 4.0


def test_root_error_at_most_0_6_of_the_unlocked(runs, smpl_data):
    before = after = 0.0
    for _scene, person, new, _c, _r in runs:
        before += np.linalg.norm(person.camera_output[:, 0] - person.joints[:, 0], axis=1).mean()
        after += np.linalg.norm(truth.joints_of(new, smpl_data)[:, 0] - person.joints[:, 0], axis=1).mean()
    assert after <= 0.6 * before


def test_overlay_no_worse_than_the_camera_frame_output_by_4px(runs, smpl_data):
    camera, locked = [], []
    for scene, person, new, _c, _r in runs:
        camera.append(metrics.overlay_px(scene, person.camera_output, person.joints))
        locked.append(metrics.overlay_px(scene, truth.joints_of(new, smpl_data), person.joints))
    assert np.median(np.concatenate(locked)) <= np.median(np.concatenate(camera)) + 4.0


def test_planted_feet_within_5cm_of_the_floor(runs, smpl_data):
    dist = np.concatenate([metrics.planted_floor_distance(truth.sole_heights(new, smpl_data), person.contact)
                           for _s, person, new, _c, _r in runs])
    assert np.percentile(dist, 95) < 0.05
    assert np.median(dist) < 0.02


def test_only_transl_and_body_pose_change_and_the_input_is_untouched(runs):
    for _scene, person, new, contact, report in runs:
        assert report["locked"] and not report["warnings"]
        assert np.array_equal(new["world_global_orient"], person.world_input["world_global_orient"])
        assert not np.allclose(new["world_transl"], person.world_input["world_transl"])
        assert contact.shape == (len(person.contact), 4) and contact.min() >= 0.0 and contact.max() <= 1.0


def test_mode_off_detects_contacts_and_keeps_the_motion(smpl_data):
    scene = truth.make_scene(smpl_data, seed=0, frames=60)
    person = scene.people[2]
    new, contact, report = apply_foot_lock(person.world_input, scene.camera_to_world, smpl_data, truth.FPS,
                                           mode="off")
    assert not report["locked"]
    for key in ("world_transl", "world_body_pose", "world_global_orient"):
        assert np.array_equal(new[key], person.world_input[key])
    assert metrics.f1([metrics.f1_counts(contact, person.contact)]) > 0.85
