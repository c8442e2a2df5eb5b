"""regress_track / extract_features plumbing: batching, progress, out-of-memory fallback, errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from backend.errors import BackendError, Code
from tests.model.conftest import make_features


class _OomAbove(torch.nn.Module):
    """Wraps a module; raises out-of-memory for batches larger than `limit` (like a small GPU)."""

    def __init__(self, inner, limit: int) -> None:
        super().__init__()
        self.inner, self.limit, self.sizes = inner, limit, []

    def _check(self, batch: int) -> None:
        self.sizes.append(batch)
        if batch > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    def forward(self, x):
        self._check(x.shape[0])
        return self.inner(x)

    def forward_indexed(self, frames, idx):  # TCMR's per-track CPU path
        self._check(idx.shape[0])
        return self.inner.forward_indexed(frames, idx)


def test_batch_size_and_progress_do_not_change_results(models):
    from backend.models.inference import regress_track

    feats = make_features(19, seed=4)
    calls = []
    a = regress_track(models, feats, batch_size=64)
    b = regress_track(models, feats, batch_size=5, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(5, 19), (10, 19), (15, 19), (19, 19)]
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=2e-6)
    assert "verts" not in a


def test_out_of_memory_halves_the_window_batch(models):
    from backend.models.inference import regress_track

    feats = make_features(12, seed=6)
    ref = regress_track(models, feats, batch_size=12)
    wrapped = _OomAbove(models.tcmr, limit=3)
    out = regress_track(replace(models, tcmr=wrapped), feats, batch_size=12)
    assert wrapped.sizes[:3] == [12, 6, 3] and max(wrapped.sizes[3:]) <= 3
    np.testing.assert_allclose(out["rotmat"], ref["rotmat"], atol=2e-6)


def test_out_of_memory_at_batch_one_is_a_coded_error(models):
    from backend.models.inference import regress_track

    with pytest.raises(BackendError) as info:
        regress_track(replace(models, tcmr=_OomAbove(models.tcmr, limit=0)), make_features(3), batch_size=4)
    assert info.value.code == Code.OUT_OF_MEMORY and "--device cpu" in info.value.hint


def test_backbone_out_of_memory_splits_the_crop_batch(models):
    from backend.models.inference import extract_features

    crops = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    ref = extract_features(models, crops)
    wrapped = _OomAbove(models.backbone, limit=1)
    out = extract_features(replace(models, backbone=wrapped), crops)
    assert wrapped.sizes == [4, 2, 1, 1, 1, 1]  # the halved size is kept: the second half is not retried at 2
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-5)
    assert not out.requires_grad


@pytest.mark.parametrize("shape", [(0, 2048), (4, 2047), (2048,)])
def test_bad_feature_shapes_raise(models, shape):
    from backend.models.inference import regress_track

    with pytest.raises(ValueError):
        regress_track(models, np.zeros(shape, np.float32))
