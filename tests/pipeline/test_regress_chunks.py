"""Regressing a long track in chunks gives every row exactly the window it gets in the whole track."""

from __future__ import annotations

import numpy as np
import pytest

import backend.models.inference as inference
from backend.events import NullReporter
from backend.pipeline import _Batches, _regress
from backend.windowing import window_indices


def _fake_regress(models, features, batch_size, progress=None):
    """Returns, per row, the absolute frame numbers (stored in feature column 0) of its window."""
    win = features[window_indices(len(features))][..., 0]  # (F, 16)
    if progress is not None:
        progress(len(features), len(features))
    return {"pose": win.astype(np.int64), "rotmat": win}


@pytest.mark.parametrize("frames", [1, 5, 15, 16, 17, 23, 40, 101])
@pytest.mark.parametrize("chunk", [1, 3, 10, 16, 512])
def test_chunked_windows_equal_whole_track_windows(monkeypatch, frames, chunk):
    monkeypatch.setattr(inference, "regress_track", _fake_regress)
    features = np.zeros((frames, 2048), np.float32)
    features[:, 0] = np.arange(frames)
    seen = []
    out = _regress(None, features, _Batches(8, 8, NullReporter()), lambda d, t: seen.append((d, t)),
                   chunk=chunk)
    assert np.array_equal(out["pose"], window_indices(frames))
    assert set(out) == {"pose"}  # only the kept keys
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == frames and all(t == frames for _, t in seen)


def test_chunked_network_output_equals_the_whole_track(model_data_dir):
    from backend.models.loading import load_models

    models = load_models(model_data_dir, "cpu", backbone=False)
    features = np.random.default_rng(0).random((40, 2048), dtype=np.float32)
    whole = inference.regress_track(models, features, batch_size=16)
    chunked = _regress(models, features, _Batches(8, 16, NullReporter()), lambda d, t: None, chunk=12)
    for key in ("pose", "betas", "pred_cam", "joints3d"):
        assert np.allclose(chunked[key], whole[key], atol=1e-5), key
