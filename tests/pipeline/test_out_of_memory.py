"""Out of memory in the feature or regress stage: retry with half batches down to 1, then
OUT_OF_MEMORY. The network calls are replaced by fakes that fail above a batch size."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

import backend.models.inference as inference
from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.pipeline import _backbone, _Batches, _regress


class _Models:
    device = torch.device("cpu")


def _reporter():
    stream = io.StringIO()
    return Reporter(jsonl=True, out=stream), stream


def _warnings(stream):
    return [json.loads(x) for x in stream.getvalue().splitlines() if '"warning"' in x]


def test_backbone_halves_the_batch_until_it_fits(monkeypatch):
    seen = []

    def fake_extract(models, crops):
        seen.append(len(crops))
        if len(crops) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return crops.reshape(len(crops), -1)[:, :2048].clone()  # stand-in features: first pixels

    monkeypatch.setattr(inference, "extract_features", fake_extract)
    reporter, stream = _reporter()
    batches = _Batches(16, 64, reporter)
    crops = np.random.default_rng(0).normal(size=(10, 3, 224, 224)).astype(np.float32)
    feats = _backbone(_Models(), crops, batches)
    assert np.array_equal(feats, crops.reshape(10, -1)[:, :2048])  # every crop, in order
    assert batches.features == 2 and seen[:3] == [10, 8, 4]  # 16 -> 8 -> 4 -> 2, kept small afterwards
    assert [w["code"] for w in _warnings(stream)] == ["OUT_OF_MEMORY_RETRY"] * 3


def test_backbone_gives_up_at_one(monkeypatch):
    def fake_extract(models, crops):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(inference, "extract_features", fake_extract)
    reporter, _ = _reporter()
    with pytest.raises(BackendError) as info:
        _backbone(_Models(), np.zeros((4, 3, 224, 224), np.float32), _Batches(4, 64, reporter))
    assert info.value.code == Code.OUT_OF_MEMORY and info.value.hint


def test_other_errors_are_not_retried(monkeypatch):
    calls = []

    def fake_extract(models, crops):
        calls.append(1)
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(inference, "extract_features", fake_extract)
    reporter, _ = _reporter()
    with pytest.raises(RuntimeError, match="shape mismatch"):
        _backbone(_Models(), np.zeros((4, 3, 224, 224), np.float32), _Batches(4, 64, reporter))
    assert len(calls) == 1


def test_regress_retries_with_smaller_batches(monkeypatch):
    sizes = []

    def fake_regress(models, features, batch_size, progress=None, stride=1):
        sizes.append(batch_size)
        if batch_size > 5:
            raise torch.OutOfMemoryError("out of memory")
        return {"pose": np.zeros((len(features), 72), np.float32)}

    monkeypatch.setattr(inference, "regress_track", fake_regress)
    reporter, _ = _reporter()
    batches = _Batches(8, 40, reporter)
    out = _regress(_Models(), np.zeros((7, 2048), np.float32), batches, lambda d, t: None)
    assert out["pose"].shape == (7, 72) and sizes == [40, 20, 10, 5]
