"""The temporal stage on ONNX Runtime (backend.engines.temporal_onnx / temporal_choice): the rules
of the plan, outputs equal to torch's within the export check's bound on tracks of every length,
--engine torch exactly today's path, and a corrupt, wrong or failing export handled."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from backend.engines import EngineConfig
from backend.engines.temporal_choice import AUTO_MIN_FRAMES, plan_temporal, with_temporal_engine
from backend.engines.temporal_onnx import export_temporal as real_export  # before any test patches it
from backend.errors import BackendError, Code
from backend.models.inference import regress_track
from tests.engines.conftest import LogReporter, check_export_failure, copied_cache


@pytest.fixture(scope="session")
def temporal_export(models, tmp_path_factory):
    """(cache folder, models with the engine attached, log lines): ONE export per session."""
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("temporal_cache")
    rep = LogReporter()
    attached = with_temporal_engine(models, EngineConfig(cache_dir=str(folder)), rep)
    return folder / "onnx", attached, rep


def _features(n, seed=3):
    return np.abs(np.random.default_rng(seed).normal(size=(n, 2048))).astype(np.float32)


def test_the_plan_follows_device_model_and_what_is_installed():
    assert plan_temporal("auto", "cpu", True, "tcmr") == "onnxruntime"
    assert plan_temporal("onnxruntime", "cpu", True, "tcmr") == "onnxruntime"
    assert plan_temporal("torch", "cpu", True, "tcmr") == "torch"
    assert plan_temporal("auto", "cuda", True, "tcmr") == "torch"
    assert plan_temporal("auto", "mps", True, "tcmr") == "torch"
    assert plan_temporal("auto", "cpu", True, "vibe") == "torch"
    assert plan_temporal("auto", "cpu", False, "tcmr") == "torch"
    # a short clip: preparing the engine would cost more than it saves, unless it is asked for
    assert plan_temporal("auto", "cpu", True, "tcmr", frames=AUTO_MIN_FRAMES - 1) == "torch"
    assert plan_temporal("auto", "cpu", True, "tcmr", frames=AUTO_MIN_FRAMES) == "onnxruntime"
    assert plan_temporal("onnxruntime", "cpu", True, "tcmr", frames=10) == "onnxruntime"
    with pytest.raises(BackendError) as info:
        plan_temporal("onnxruntime", "cpu", False, "tcmr")
    assert info.value.code == Code.ENGINE_UNAVAILABLE and "--engine torch" in info.value.hint
    with pytest.raises(BackendError) as info:
        plan_temporal("fast", "cpu", True, "tcmr")
    assert info.value.code == Code.BAD_ARGUMENT


def test_auto_runs_the_verified_export_and_matches_torch(models, temporal_export):
    _, attached, rep = temporal_export
    assert attached.temporal is not None and rep.codes() == []
    assert any("verified against torch on 12 windows of the temporal stage" in line for line in rep.lines)
    assert models.temporal is None  # the caller's models are not changed
    for frames in (1, 7, 16, 40):  # static windows only, both kinds, and batches of 16 + the rest
        feats = _features(frames, seed=frames)
        ref = regress_track(models, feats, batch_size=16)
        got = regress_track(attached, feats, batch_size=16)
        assert set(got) == set(ref)
        for key in ("rotmat", "betas", "pred_cam", "scores", "branch_rotmat", "joints3d"):
            scale = max(float(np.abs(ref[key]).max()), 1e-6)
            assert float(np.abs(got[key] - ref[key]).max()) / scale <= 1e-4, (frames, key)


def test_a_short_clip_under_auto_keeps_torch_without_preparing_anything(models, tmp_path):
    got = with_temporal_engine(models, EngineConfig(cache_dir=str(tmp_path)), LogReporter(),
                               frames=AUTO_MIN_FRAMES - 1)
    assert got.temporal is None and not (tmp_path / "onnx").exists()


def test_engine_torch_is_todays_path_exactly(models):
    plain = with_temporal_engine(models, EngineConfig(engine="torch"), LogReporter())
    assert plain.temporal is None
    feats = _features(30)
    ref, got = regress_track(models, feats), regress_track(plain, feats)
    assert all(np.array_equal(got[k], ref[k]) for k in ref)


def test_missing_onnxruntime_keeps_torch_or_refuses(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    assert with_temporal_engine(models, EngineConfig(), LogReporter()).temporal is None
    with pytest.raises(BackendError) as info:
        with_temporal_engine(models, EngineConfig(engine="onnxruntime"), LogReporter())
    assert info.value.code == Code.ENGINE_UNAVAILABLE


@pytest.fixture
def cache_copy(temporal_export, tmp_path, monkeypatch):
    """A copy of the session's temporal cache; a re-export copies the good file."""
    import backend.engines.temporal_onnx as temporal_onnx

    return copied_cache(temporal_export[0], tmp_path, monkeypatch, temporal_onnx, "export_temporal")


def test_a_truncated_export_is_rebuilt(models, cache_copy):
    from backend.engines.temporal_onnx import open_temporal_engine, worst_difference

    folder, exports = cache_copy
    onnx_file = next(folder.glob("*.onnx"))
    onnx_file.write_bytes(onnx_file.read_bytes()[:50_000])
    rep = LogReporter()
    engine = open_temporal_engine(models.tcmr, rep.log, folder=folder)
    assert len(exports) == 1 and any("sha256" in line for line in rep.lines)
    assert worst_difference(engine, models.tcmr)[0] <= 1e-4


def test_an_intact_file_of_other_weights_is_caught_and_rebuilt(models, cache_copy):
    """A file whose sha256 matches its meta data but holds another TCMR's weights: the check against
    torch catches it, and the rebuild gives a file that passes."""
    import copy as copy_module

    from backend.engines.export_cache import file_sha256
    from backend.engines.temporal_onnx import open_temporal_engine

    folder, exports = cache_copy
    onnx_file = next(folder.glob("*.onnx"))
    meta_file = onnx_file.with_suffix(".json")
    other = copy_module.deepcopy(models.tcmr)
    with torch.no_grad():
        other.regressor.decpose.weight.mul_(3.0)
    real_export(other, onnx_file)
    meta = json.loads(meta_file.read_text())
    meta["onnx_sha256"] = file_sha256(onnx_file)
    meta_file.write_text(json.dumps(meta))
    rep = LogReporter()
    open_temporal_engine(models.tcmr, rep.log, folder=folder)
    assert len(exports) == 1
    assert any("differs from torch" in line for line in rep.lines), rep.lines
    assert any("verified against torch" in line for line in rep.lines)


def test_a_failing_export_falls_back_under_auto_and_is_an_error_when_asked_for(models, tmp_path,
                                                                               monkeypatch):
    pytest.importorskip("onnxruntime")
    import backend.engines.temporal_onnx as temporal_onnx

    got = check_export_failure(lambda config, rep: with_temporal_engine(models, config, rep), temporal_onnx,
                               "export_temporal", tmp_path, monkeypatch, "the temporal stage runs on torch")
    assert got.temporal is None


def test_a_passed_check_is_recorded_and_not_repeated_until_the_file_or_runtime_changes(
        models, cache_copy, monkeypatch):
    import backend.engines.temporal_onnx as temporal_onnx

    folder, exports = cache_copy
    meta_file = next(folder.glob("*.json"))
    meta = json.loads(meta_file.read_text())
    record = meta["verified"]  # written by the session's first open
    assert record["onnx_sha256"] == meta["onnx_sha256"] and record["difference"] <= 1e-4
    checks = []
    real_difference = temporal_onnx.worst_difference
    monkeypatch.setattr(temporal_onnx, "worst_difference",
                        lambda e, t: checks.append(1) or real_difference(e, t))
    rep = LogReporter()
    temporal_onnx.open_temporal_engine(models.tcmr, rep.log, folder=folder)
    assert checks == [] and any("when first used" in line for line in rep.lines)
    meta = json.loads(meta_file.read_text())
    meta["verified"]["onnxruntime"] = "0.0.1"  # another runtime may compute differently: check again
    meta_file.write_text(json.dumps(meta))
    temporal_onnx.open_temporal_engine(models.tcmr, LogReporter().log, folder=folder)
    assert checks == [1] and exports == []
    assert json.loads(meta_file.read_text())["verified"]["onnxruntime"] != "0.0.1"  # recorded anew
