"""Temporal encoder structure: what each branch sees, windowing inside regress_track."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.model.conftest import make_features
from tests.model.reference import attention


@pytest.fixture(scope="module")
def window():
    return torch.from_numpy(make_features(16, seed=11))[None]  # (1, 16, 2048)


def _branches(models, x):
    with torch.inference_mode():
        z = models.tcmr.encoder.branches(x)
        out = models.tcmr(x)
    return z[0], out


def _changed(a, b):
    return float((a - b).abs().max())


def test_forecast_branches_never_see_the_centre_frame(models, window):
    z0, out0 = _branches(models, window)
    x = window.clone()
    x[0, 8] += torch.linspace(0.5, 1.5, 2048)  # perturb the centre frame only
    z1, out1 = _branches(models, x)
    assert _changed(z0[0], z1[0]) == 0.0  # g_past
    assert _changed(z0[2], z1[2]) == 0.0  # g_future
    assert _changed(z0[1], z1[1]) > 1e-4  # g_cur reads frame 8
    assert _changed(out0["rotmat"], out1["rotmat"]) > 1e-6


@pytest.mark.parametrize(("frame", "sees_past", "sees_future"), [(7, True, False), (9, False, True),
                                                                 (0, True, False), (15, False, True)])
def test_past_reads_0_to_7_and_future_reads_9_to_15(models, window, frame, sees_past, sees_future):
    z0, _ = _branches(models, window)
    x = window.clone()
    x[0, frame] += 1.0
    z1, _ = _branches(models, x)
    assert (_changed(z0[0], z1[0]) > 1e-5) == sees_past
    assert (_changed(z0[2], z1[2]) > 1e-5) == sees_future
    assert _changed(z0[1], z1[1]) > 1e-5  # the bidirectional GRU sees every frame


def test_indexed_cpu_path_equals_gathered_windows(models):
    from backend.windowing import window_indices

    frames = torch.from_numpy(make_features(20, seed=8))
    rng = np.random.default_rng(1)
    idx = torch.from_numpy(np.concatenate([window_indices(20), rng.integers(0, 20, (5, 16))]))
    with torch.inference_mode():
        gathered = models.tcmr.encoder.branches(frames[idx])
        indexed = models.tcmr.encoder.branches_indexed(frames, idx)
        out_g, out_i = models.tcmr(frames[idx]), models.tcmr.forward_indexed(frames, idx)
    np.testing.assert_allclose(indexed.numpy(), gathered.numpy(), atol=2e-6)
    np.testing.assert_allclose(out_i["rotmat"].numpy(), out_g["rotmat"].numpy(), atol=2e-6)


def test_indexed_path_forecast_branches_never_see_the_centre_frame(models):
    frames = torch.from_numpy(make_features(16, seed=12))
    idx = torch.arange(16)[None]
    with torch.inference_mode():
        z0 = models.tcmr.encoder.branches_indexed(frames, idx)[0]
        frames[8] += 1.0
        z1 = models.tcmr.encoder.branches_indexed(frames, idx)[0]
    assert _changed(z0[0], z1[0]) == 0.0 and _changed(z0[2], z1[2]) == 0.0
    assert _changed(z0[1], z1[1]) > 1e-4


def test_attention_tanh_logits_and_no_activation_after_fc(models):
    """Large weights make the final tanh and the missing fc activation matter."""
    att = models.tcmr.encoder.attention
    state = {f"encoder.attention.{k}": v.double().numpy() * (20.0 if k.startswith("attention.4") else 1.0)
             for k, v in att.state_dict().items()}
    rng = np.random.default_rng(5)
    z = rng.normal(0.0, 2.0, (6, 3, 2048))
    with torch.device("cpu"):
        from backend.models.temporal import TemporalAttention

        module = TemporalAttention().double()
        module.load_state_dict({k[len("encoder.attention."):]: torch.from_numpy(v) for k, v in state.items()})
    ours = module(torch.from_numpy(z)).detach().numpy()
    ref = attention(z, state)
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    assert ref.max() > 0.6  # the scaled logits saturate the tanh: a real test of the bound
    assert ours.max() < 0.788


def _row_from_window(models, feats, idx):
    with torch.inference_mode():
        out = models.tcmr(torch.from_numpy(feats[idx])[None])
    return out["rotmat"][0].numpy()


@pytest.mark.parametrize("num_frames", [1, 5, 15, 16, 40])
def test_regress_track_one_row_per_frame_with_official_windows(models, num_frames):
    from backend.models.inference import regress_track

    feats = make_features(num_frames, seed=num_frames)
    out = regress_track(models, feats, batch_size=16)
    assert all(v.shape[0] == num_frames for v in out.values())
    real = [t for t in range(num_frames) if t >= 8 and t + 7 <= num_frames - 1]
    check = sorted({0, num_frames - 1, num_frames // 2, *real[:1], *real[-1:]})
    for t in check:
        idx = list(range(t - 8, t + 8)) if t in real else [t] * 16
        np.testing.assert_allclose(out["rotmat"][t], _row_from_window(models, feats, idx), atol=2e-6)
    if num_frames == 40:
        # a real window differs from the static one for the same frame
        assert np.abs(out["rotmat"][20] - _row_from_window(models, feats, [20] * 16)).max() > 1e-6


def test_static_rows_depend_only_on_their_own_frame(models):
    from backend.models.inference import regress_track

    feats = make_features(20, seed=2)
    base = regress_track(models, feats)
    changed = feats.copy()
    changed[3] += 0.5  # frame 3 lies in the real windows of rows 8..11 ([t-8, t+7]) and static row 3
    out = regress_track(models, changed)
    diff = np.abs(out["joints3d"] - base["joints3d"]).reshape(20, -1).max(axis=1)
    moved = set(np.flatnonzero(diff > 1e-7).tolist())
    assert moved == {3, 8, 9, 10, 11}
