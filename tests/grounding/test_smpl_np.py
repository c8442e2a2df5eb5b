"""The batched numpy SMPL forward equals the per-frame reference of the Blender tests."""

from __future__ import annotations

import numpy as np

from backend.smpl_np import pelvis_rest, smpl_forward
from tests.blender.smpl_reference import smpl_forward as reference


def test_batched_forward_equals_the_reference(smpl_data):
    rng = np.random.default_rng(0)
    t = 3
    betas = rng.normal(size=10)
    go, pose, transl = rng.normal(size=(t, 3)), rng.normal(0, 0.4, size=(t, 23, 3)), rng.normal(size=(t, 3))
    verts, joints = smpl_forward(smpl_data, betas, go, pose, transl)
    ids = np.array([5, 100, 3000, 6000])
    part, _ = smpl_forward(smpl_data, betas, go, pose, transl, vertex_ids=ids)
    for i in range(t):
        v_ref, j_ref = reference(smpl_data, betas, go[i], pose[i], transl[i])
        assert np.allclose(verts[i], v_ref, atol=1e-9) and np.allclose(joints[i], j_ref, atol=1e-9)
        assert np.allclose(part[i], v_ref[ids], atol=1e-9)
    # the root rotates about the shaped pelvis joint: joint 0 = J0 + transl whatever the orientation
    assert np.allclose(joints[:, 0], pelvis_rest(smpl_data, betas) + transl, atol=1e-9)
