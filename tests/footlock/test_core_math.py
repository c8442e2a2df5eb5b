"""The foot lock's building blocks against closed-form truth: two-bone IK (backend and the
add-on's copy), contact hysteresis, pin schedules, the sole forward pass."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from addon.core import foot_pins
from backend import smpl_np
from backend.footlock import body, contacts, leg_ik, legs


def _legs(rng, n):
    hip = rng.normal(0, 0.3, (n, 3)) + np.array([0, 0, 0.9])
    knee = hip + np.array([0.02, 0.05, -0.42]) + rng.normal(0, 0.02, (n, 3))
    ankle = knee + np.array([0.0, -0.03, -0.41]) + rng.normal(0, 0.02, (n, 3))
    return hip, knee, ankle


@pytest.mark.parametrize("solver", ["backend", "addon"])
def test_two_bone_ik_reaches_reachable_goals_and_keeps_bone_lengths(solver):
    rng = np.random.default_rng(0)
    hip, knee, ankle = _legs(rng, 200)
    goal = hip + 0.85 * (ankle - hip) + rng.normal(0, 0.05, (200, 3))
    hint = np.tile([0, -1.0, 0], (200, 1))
    if solver == "backend":
        r1, r2, reached = leg_ik.two_bone(hip, knee, ankle, goal, hint)
        new_knee = hip + np.einsum("nab,nb->na", r1, knee - hip)
        new_ankle = new_knee + np.einsum("nab,nb->na", r2 @ r1, ankle - knee)
    else:
        r1, r2, new_knee, new_ankle = foot_pins.two_bone(hip, knee, ankle, goal, hint)
        reached = np.linalg.norm(new_ankle - goal, axis=1) < 1e-6
        assert np.allclose(new_knee, hip + np.einsum("nab,nb->na", r1, knee - hip), atol=1e-9)
    for r in (r1, r2):
        assert np.allclose(r @ np.swapaxes(r, 1, 2), np.eye(3), atol=1e-9)
        assert np.allclose(np.linalg.det(r), 1.0)
    assert np.allclose(np.linalg.norm(new_knee - hip, axis=1), np.linalg.norm(knee - hip, axis=1))
    assert np.allclose(np.linalg.norm(new_ankle - new_knee, axis=1), np.linalg.norm(ankle - knee, axis=1))
    assert reached.mean() > 0.9
    assert np.abs(new_ankle - goal)[reached].max() < 1e-6
    # out of reach: the leg points at the goal instead
    far = hip + np.array([0.0, 0.0, -3.0])
    _r1, _r2, ok = leg_ik.two_bone(hip[:5], knee[:5], ankle[:5], far[:5], np.tile([0, -1.0, 0], (5, 1)))
    assert not ok.any()


def test_hysteresis_does_not_flicker_and_drops_short_runs():
    cfg = contacts.ContactConfig()
    p = np.full((40, 1), 0.1)
    p[5:25] = 0.9
    p[12] = 0.45  # a dip between off and on: stays planted
    p[30:32] = 0.95  # a 2-frame blip: dropped
    planted = contacts.hysteresis(p, cfg)[:, 0]
    assert planted[5:25].all() and not planted[:5].any() and not planted[25:].any()


def test_detect_agrees_with_the_decision_at_0_5():
    rng = np.random.default_rng(1)
    heights = np.abs(rng.normal(0.03, 0.05, (60, 4)))
    positions = np.cumsum(rng.normal(0, 0.01, (60, 4, 3)), axis=0)
    values = contacts.detect(heights, positions, 30.0)
    prob = contacts.probability(heights, positions, 30.0, contacts.ContactConfig())
    assert ((values > 0.5) == contacts.hysteresis(prob, contacts.ContactConfig())).all()
    assert values.min() >= 0 and values.max() <= 1


@pytest.mark.parametrize("schedule", [legs.schedule, None])
def test_pin_weights_ramp_in_and_out(schedule):
    mask = np.zeros(30, dtype=bool)
    mask[10:20] = True
    if schedule is None:
        ankle = np.zeros((30, 3))
        ankle[:, 0] = np.arange(30) * 0.01
        goal, weight = foot_pins.ankle_goals(ankle, mask, blend=3)
        assert np.allclose(goal[10:20], ankle[10:20].mean(axis=0))
    else:
        _index, weight = schedule(mask, 3)
    assert (weight[10:20] == 1).all() and (weight[:6] == 0).all() and (weight[24:] == 0).all()
    assert np.all(np.diff(weight[6:11]) > 0) and np.all(np.diff(weight[19:24]) < 0)


def test_sole_points_match_a_full_skinning(smpl_data):
    from tests.blender.smpl_reference import smpl_forward

    rng = np.random.default_rng(2)
    betas = rng.normal(0, 0.5, 10)
    go, bp, tr = rng.normal(0, 0.3, 3), rng.normal(0, 0.3, (23, 3)), rng.normal(0, 1, 3)
    model = body.body_model(smpl_data, betas)
    local = smpl_np.pose_rotations(go[None], bp[None])
    pos, glob = body.forward(model, local)
    soles = body.sole_points(model, local, pos, glob)[0]
    verts, joints = smpl_forward(smpl_data, betas, go, bp, tr)
    assert np.abs(pos[0] + tr - joints).max() < 1e-9
    assert np.abs(soles + tr - verts[model.sole_ids]).max() < 1e-9
    # rigid_to_world: the same body after a rigid map
    rot, t = Rotation.from_rotvec([0.3, -0.2, 1.0]).as_matrix(), np.array([1.0, 2.0, 3.0])
    go_w, tr_w = smpl_np.rigid_to_world(go[None], tr[None], model.rest_joints[0], rot, t)
    _v, joints_w = smpl_forward(smpl_data, betas, go_w[0], bp, tr_w[0])
    assert np.abs(joints_w - (joints @ rot.T + t)).max() < 1e-9
