"""VIBE path (`regress_track` with --model vibe) against the float64 reference from the equations."""

from __future__ import annotations

import numpy as np
import pytest

from tests.model.conftest import make_features
from tests.model.reference import aa_distance, load_gen_state
from tests.model.vibe_reference import encode, reference_vibe

TOL = 1e-5


@pytest.fixture(scope="module")
def vibe_models(vibe_data_dir):
    from backend.models.loading import load_models

    return load_models(vibe_data_dir, "cpu", backbone=False, model="vibe")


@pytest.fixture(scope="module")
def vibe_state(vibe_data_dir):
    return load_gen_state(vibe_data_dir / "vibe_model_wo_3dpw.pth.tar")


def _compare(ours, ref):
    frames = ref["smpl_frames"]
    for key in ("betas", "pred_cam", "rotmat"):
        err = np.abs(ours[key].astype(np.float64) - ref[key]).max()
        assert err < TOL, f"{key}: max abs error {err:.3g}"
    for key in ("joints3d", "verts"):
        err = np.abs(ours[key][frames].astype(np.float64) - ref[key]).max()
        assert err < TOL, f"{key}: max abs error {err:.3g}"
    err = aa_distance(ours["pose"].astype(np.float64), ref["pose"]).max()
    assert err < TOL, f"pose: max wrap-aware error {err:.3g} rad"


@pytest.mark.parametrize("num_frames", [1, 5, 16, 40])
def test_matches_float64_reference_within_one_chunk(vibe_models, vibe_state, smpl_data, j_extra, num_frames):
    from backend.models.inference import regress_track

    features = make_features(num_frames, seed=num_frames)
    ours = regress_track(vibe_models, features, batch_size=7, with_verts=True)  # uneven frame batches
    assert set(ours) == {"pose", "betas", "pred_cam", "joints3d", "rotmat", "verts"}  # no attention scores
    assert all(v.dtype == np.float32 and len(v) == num_frames for v in ours.values())
    _compare(ours, reference_vibe(vibe_state, smpl_data, j_extra, features))


def test_longer_than_a_chunk_restarts_the_gru_at_frame_450(vibe_models, vibe_state, smpl_data, j_extra):
    from backend.models.inference import regress_track
    from backend.models.vibe import CHUNK

    assert CHUNK == 450  # the official demo's --vibe_batch_size default
    features = make_features(455, seed=9)
    ours = regress_track(vibe_models, features, batch_size=64, with_verts=True)
    border = [0, 448, 449, 450, 451, 454]
    ref = reference_vibe(vibe_state, smpl_data, j_extra, features, chunk=450, smpl_frames=border)
    _compare(ours, ref)
    # Pinned border: frame 450 starts a new sequence, so it is frame 0 of a track made of frames
    # 450..454 alone, and differs from what one GRU run over all 455 frames would give.
    tail = regress_track(vibe_models, features[450:], batch_size=64)
    np.testing.assert_allclose(ours["rotmat"][450:], tail["rotmat"], atol=1e-6)
    continued = encode(features.astype(np.float64), vibe_state)[450:]
    restarted = encode(features[450:].astype(np.float64), vibe_state)
    assert np.abs(continued - restarted).max() > 1e-3


def test_small_chunks_follow_the_same_rule(vibe_models, vibe_state, smpl_data, j_extra):
    from backend.models.vibe_inference import regress_track_vibe

    features = make_features(40, seed=21)
    ours = regress_track_vibe(vibe_models, features, batch_size=5, with_verts=True, chunk=16)
    _compare(ours, reference_vibe(vibe_state, smpl_data, j_extra, features, chunk=16))
    whole = regress_track_vibe(vibe_models, features, batch_size=5, chunk=450)
    assert np.abs(whole["rotmat"][16:] - ours["rotmat"][16:]).max() > 1e-4  # the border matters
    np.testing.assert_allclose(whole["rotmat"][:16], ours["rotmat"][:16], atol=1e-6)  # before 16: same


def test_causal_a_frame_never_sees_later_frames(vibe_models):
    from backend.models.inference import regress_track

    features = make_features(30, seed=2)
    base = regress_track(vibe_models, features)
    changed = features.copy()
    changed[20] += 0.5
    moved = regress_track(vibe_models, changed)
    np.testing.assert_allclose(base["rotmat"][:20], moved["rotmat"][:20], atol=1e-6)
    assert np.abs(base["rotmat"][20:] - moved["rotmat"][20:]).max() > 1e-5


def test_progress_reaches_the_track_length(vibe_models):
    from backend.models.vibe_inference import regress_track_vibe

    calls = []
    regress_track_vibe(vibe_models, make_features(37, seed=1), batch_size=8, chunk=16,
                       progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (37, 37) and all(t == 37 for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
