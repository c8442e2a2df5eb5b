"""Out of memory in the feature or regress stage: the model API (backend.models.inference) retries
with half batches down to 1, keeps the smaller size for the rest of the run, reports each halving,
then OUT_OF_MEMORY. The failure happens inside the model call: fake network modules that raise
torch.OutOfMemoryError for batches above a size, exactly where a real CUDA allocation fails."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import backend.models.loading as loading
from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.models.inference import Batching, extract_features, regress_track
from backend.models.loading import ModelConfig
from backend.pipeline import RunConfig, run
from tests.pipeline.clips import BBOX, write_mp4


class _Backbone(torch.nn.Module):
    """Stand-in ResNet: features = the first 2048 pixels; out of memory above `limit` crops."""

    def __init__(self, limit: int, error: BaseException | None = None) -> None:
        super().__init__()
        self.limit, self.error, self.sizes = limit, error, []

    def forward(self, x):
        self.sizes.append(x.shape[0])
        if self.error is not None:
            raise self.error
        if x.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return x.reshape(x.shape[0], -1)[:, :2048].clone()


class _Tcmr(torch.nn.Module):
    """Stand-in TCMR (CPU path): out of memory above `limit` windows."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.sizes = limit, []

    def forward_indexed(self, frames, idx):
        b = idx.shape[0]
        self.sizes.append(b)
        if b > self.limit:
            raise torch.OutOfMemoryError("out of memory")
        return {"rotmat": torch.eye(3).expand(b, 24, 3, 3), "betas": torch.zeros(b, 10),
                "cam": frames[idx[:, 8], :3], "scores": torch.zeros(b, 3)}


def _smpl(rotmat, betas):
    return torch.zeros(rotmat.shape[0], 6890, 3), torch.zeros(rotmat.shape[0], 49, 3)


def _models(backbone=None, tcmr=None):
    return SimpleNamespace(device=torch.device("cpu"), config=ModelConfig(), backbone=backbone, tcmr=tcmr,
                           smpl=_smpl)


def _recorder():
    shrinks = []
    return shrinks, (lambda stage, size: shrinks.append((stage, size)))


def test_backbone_halves_the_batch_until_it_fits_and_keeps_it():
    shrinks, on_shrink = _recorder()
    backbone = _Backbone(limit=3)
    batching = Batching(features=16, regress=64, on_shrink=on_shrink)
    crops = torch.from_numpy(np.random.default_rng(0).normal(size=(10, 3, 224, 224)).astype(np.float32))
    feats = extract_features(_models(backbone), crops, batching)
    assert np.array_equal(feats.numpy(), crops.reshape(10, -1)[:, :2048].numpy())  # every crop, in order
    assert backbone.sizes == [10, 5, 2, 2, 1, 2, 2, 1] and batching.features == 2  # 10 -> 5 -> 2, kept

    assert shrinks == [("features", 5), ("features", 2)]
    backbone.sizes.clear()
    extract_features(_models(backbone), crops, batching)  # the next call starts at the smaller size
    assert backbone.sizes == [2] * 5 and len(shrinks) == 2


def test_backbone_gives_up_at_one():
    with pytest.raises(BackendError) as info:
        extract_features(_models(_Backbone(limit=0)), torch.zeros(4, 3, 224, 224), Batching(features=4))
    assert info.value.code == Code.OUT_OF_MEMORY and info.value.hint


@pytest.mark.parametrize("error", [MemoryError(), RuntimeError("[enforce fail at alloc_cpu.cpp:127] "
                                                               "DefaultCPUAllocator: can't allocate memory")])
def test_host_memory_errors_are_out_of_memory_too(error):
    with pytest.raises(BackendError) as info:
        extract_features(_models(_Backbone(limit=0, error=error)), torch.zeros(2, 3, 224, 224))
    assert info.value.code == Code.OUT_OF_MEMORY


def test_other_errors_are_not_retried():
    backbone = _Backbone(limit=99, error=RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        extract_features(_models(backbone), torch.zeros(4, 3, 224, 224), Batching(features=4))
    assert len(backbone.sizes) == 1


def test_regress_retries_with_smaller_batches_and_keeps_them():
    shrinks, on_shrink = _recorder()
    tcmr = _Tcmr(limit=5)
    batching = Batching(features=8, regress=40, on_shrink=on_shrink)
    out = regress_track(_models(tcmr=tcmr), np.zeros((40, 2048), np.float32), batching=batching)
    assert out["pose"].shape == (40, 72) and tcmr.sizes[:4] == [40, 20, 10, 5]
    assert batching.regress == 5 and max(tcmr.sizes[3:]) == 5
    assert shrinks == [("regress", 20), ("regress", 10), ("regress", 5)]


def test_a_run_whose_backbone_runs_out_of_memory_finishes_with_small_batches(model_data_dir, tmp_path,
                                                                             monkeypatch):
    """Through the whole pipeline: the OOM is raised inside the backbone module of the loaded models."""
    backbone = _Backbone(limit=3)
    real_load = loading.load_models
    monkeypatch.setattr(loading, "load_models",
                        lambda *a, **k: replace(real_load(*a, **k), backbone=backbone))
    stream = io.StringIO()
    clip = write_mp4(tmp_path / "clip.mp4", 12)
    config = RunConfig(input=str(clip), out=str(tmp_path / "out"), data_dir=str(model_data_dir), device="cpu",
                       bbox=BBOX, batch_size=8, engine="torch")  # the torch path holds the OOM layer
    out, fields = run(config, Reporter(jsonl=True, out=stream))
    warnings = [json.loads(x) for x in stream.getvalue().splitlines() if '"warning"' in x]
    assert [w["code"] for w in warnings if w["code"] == "OUT_OF_MEMORY_RETRY"] == ["OUT_OF_MEMORY_RETRY"] * 2
    assert backbone.sizes[:3] == [8, 4, 2] and max(backbone.sizes[3:]) == 2  # kept small afterwards
    assert sum(s for s in backbone.sizes if s <= 3) == 12 and fields["tracks"] == 1
    assert (out / "result.json").is_file()
