"""The torch model + inference equal the float64 reference written from the equations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.lifting.inference import lift
from backend.lifting.model import DEFAULT_CONFIG, LiftConfig, TemporalModel
from backend.synthetic_lift import temporal_state
from tests.lifting.conftest import HEIGHT, WIDTH, make_track
from tests.lifting.reference import reference_lift

SMALL = LiftConfig(channels=48)  # the released architecture (widths 3,3,3,3,3) with fewer channels


def _models(config: LiftConfig, seed: int = 1):
    rng = np.random.default_rng(seed)
    pos_state, traj_state = temporal_state(rng, config), temporal_state(rng, config.trajectory())
    pos, traj = TemporalModel(config), TemporalModel(config.trajectory())
    pos.load_state_dict(pos_state, strict=True)
    traj.load_state_dict(traj_state, strict=True)
    as64 = {k: v.double().numpy() for k, v in pos_state.items()}
    traj64 = {k: v.double().numpy() for k, v in traj_state.items()}
    return pos.double().eval(), traj.double().eval(), as64, traj64


def test_released_architecture_receptive_field_and_keys():
    assert DEFAULT_CONFIG.receptive_field == 243
    assert DEFAULT_CONFIG.pads() == [1, 3, 9, 27, 81]
    shapes = {k: tuple(v.shape) for k, v in TemporalModel(SMALL).state_dict().items()}
    assert shapes["expand_conv.weight"] == (48, 34, 3)
    assert shapes["layers_conv.6.weight"] == (48, 48, 3) and shapes["layers_conv.7.weight"] == (48, 48, 1)
    assert shapes["shrink.weight"] == (51, 48, 1) and "layers_bn.7.running_var" in shapes
    assert not any(k.startswith("layers_conv.8") for k in shapes)


@pytest.mark.parametrize("frames", [1, 50, 300])
@pytest.mark.parametrize("flip", [True, False])
def test_float64_equals_reference(frames, flip):
    pos, traj, s_pos, s_traj = _models(SMALL)
    kp = make_track(frames, seed=frames)[..., :2]
    got = lift(kp, WIDTH, HEIGHT, pos, traj, flip=flip, dtype=torch.float64)
    want_pose, want_traj = reference_lift(kp, WIDTH, HEIGHT, s_pos, s_traj, SMALL.filter_widths, flip=flip)
    assert got.pose.shape == (frames, 17, 3) and got.trajectory.shape == (frames, 3)
    np.testing.assert_allclose(got.pose, want_pose, rtol=0, atol=1e-10 * max(1.0, np.abs(want_pose).max()))
    np.testing.assert_allclose(got.trajectory, want_traj, rtol=0,
                               atol=1e-10 * max(1.0, np.abs(want_traj).max()))
    np.testing.assert_allclose(got.joints3d, want_pose + want_traj[:, None], atol=1e-9)


def test_float32_close_to_reference_and_flip_matters():
    pos, traj, s_pos, s_traj = _models(SMALL, seed=2)
    kp = make_track(50, seed=7)[..., :2]
    got = lift(kp, WIDTH, HEIGHT, pos.float(), traj.float(), flip=True)
    want_pose, _ = reference_lift(kp, WIDTH, HEIGHT, s_pos, s_traj, SMALL.filter_widths, flip=True)
    scale = np.abs(want_pose).max()
    assert np.abs(got.pose - want_pose).max() < 1e-4 * scale
    unflipped, _ = reference_lift(kp, WIDTH, HEIGHT, s_pos, s_traj, SMALL.filter_widths, flip=False)
    assert np.abs(unflipped - want_pose).max() > 1e-3 * scale  # the flip is not a no-op


def test_mirrored_input_gives_mirrored_output_with_flip():
    """With the flip average, mirroring the keypoints (x -> w - x, COCO L/R swapped) mirrors the
    pose exactly (x negated, H36M L/R swapped): the averaging makes the model symmetric."""
    pos, _, _, _ = _models(SMALL, seed=4)
    kp = make_track(20, seed=5)[..., :2]
    mirrored = kp.copy()
    mirrored[..., 0] = WIDTH - mirrored[..., 0]
    left, right = [1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]
    mirrored[:, left + right] = mirrored[:, right + left]
    a = lift(kp, WIDTH, HEIGHT, pos, None, dtype=torch.float64).pose
    b = lift(mirrored, WIDTH, HEIGHT, pos, None, dtype=torch.float64).pose
    b[..., 0] *= -1
    hl, hr = [4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]
    b[:, hl + hr] = b[:, hr + hl]
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_chunked_inference_equals_one_pass():
    pos, traj, _, _ = _models(SMALL, seed=6)
    kp = make_track(50, seed=8)[..., :2]
    whole = lift(kp, WIDTH, HEIGHT, pos, traj, dtype=torch.float64)
    parts = lift(kp, WIDTH, HEIGHT, pos, traj, dtype=torch.float64, chunk=7)
    np.testing.assert_allclose(parts.joints3d, whole.joints3d, rtol=0, atol=1e-12)
