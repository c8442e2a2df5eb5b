"""make_feature_engine on the synthetic network: the torch path unchanged, the ONNX export checked
against torch, a corrupt or wrong cache rebuilt, onnxruntime missing -> torch."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from backend.engines import EngineConfig, make_feature_engine
from backend.engines.onnx_engine import relative_error, torch_reference
from backend.models.inference import extract_features
from tests.engines.conftest import LogReporter, check_export_failure, copied_cache


def _crops(n=3, seed=7):
    return np.random.default_rng(seed).normal(size=(n, 3, 224, 224)).astype(np.float32)


def test_engine_torch_is_todays_path_exactly(models):
    from backend.models.inference import Batching

    engine = make_feature_engine(models, EngineConfig(engine="torch"), LogReporter())
    crops = _crops(5)
    today = extract_features(models, torch.from_numpy(crops)).numpy()
    assert np.array_equal(engine(crops), today)
    # as the pipeline calls it: in batches of 2 through the model API's one out-of-memory layer
    batched = engine(crops, Batching(features=2))
    reference = extract_features(models, torch.from_numpy(crops), Batching(features=2)).numpy()
    assert np.array_equal(batched, reference)
    assert np.allclose(batched, today, rtol=1e-5, atol=1e-6)


def test_missing_onnxruntime_falls_back_to_torch(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    rep = LogReporter()
    engine = make_feature_engine(models, EngineConfig(), rep)
    assert engine.name == "torch" and engine.channels_last and rep.codes() == ["ONNXRUNTIME_MISSING"]
    crops = _crops(2)
    assert relative_error(engine(crops), torch_reference(models, crops)) < 1e-5
    assert models.backbone.conv1.weight.is_contiguous()  # the caller's trunk is not converted


def test_explicit_onnxruntime_missing_is_an_error(models, monkeypatch):
    from backend.errors import BackendError, Code

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(BackendError) as info:
        make_feature_engine(models, EngineConfig(engine="onnxruntime"), LogReporter())
    assert info.value.code == Code.ENGINE_UNAVAILABLE


def test_bf16_on_this_cpu_follows_its_flags(models):
    from backend.engines.cpu_features import detect

    rep = LogReporter()
    engine = make_feature_engine(models, EngineConfig(engine="torch", precision="bf16"), rep)
    if detect().bf16:
        assert engine.precision == "bf16" and rep.codes() == []
    else:
        assert engine.precision == "fp32" and rep.codes() == ["BF16_UNAVAILABLE"]


def test_the_export_matches_torch(models, onnx_export):
    _folder, engine, lines = onnx_export
    assert any("verified against torch" in line for line in lines)
    crops = _crops(4, seed=11)
    assert relative_error(engine(crops), torch_reference(models, crops)) <= 1e-4
    assert engine(crops[:1]).shape == (1, 2048)  # dynamic batch


def test_auto_reuses_the_cached_export(models, onnx_export):
    folder, _, _ = onnx_export
    rep = LogReporter()
    engine = make_feature_engine(models, EngineConfig(cache_dir=str(folder.parent)), rep)
    assert engine.name == "onnxruntime" and rep.codes() == []
    assert any(line.startswith("ONNX export: reusing") for line in rep.lines)
    assert any("verified against torch" in line for line in rep.lines)


@pytest.fixture
def cache_copy(onnx_export, tmp_path, monkeypatch):
    """A copy of the session's cache; re-exports copy the good file (one real export per session)."""
    import backend.engines.export_cache as export_cache

    return copied_cache(onnx_export[0], tmp_path, monkeypatch, export_cache, "export_trunk")


def test_a_truncated_export_is_rebuilt(models, cache_copy):
    from backend.engines.onnx_engine import open_onnx_engine

    folder, exports = cache_copy
    onnx_file = next(folder.glob("*.onnx"))
    onnx_file.write_bytes(onnx_file.read_bytes()[:100_000])
    rep = LogReporter()
    engine = open_onnx_engine(models, rep.log, folder=folder)
    assert len(exports) == 1 and any("sha256" in line for line in rep.lines)
    crops = _crops(2)
    assert relative_error(engine(crops), torch_reference(models, crops)) <= 1e-4


def test_unreadable_meta_data_is_rebuilt(models, cache_copy):
    from backend.engines.onnx_engine import open_onnx_engine

    folder, exports = cache_copy
    next(folder.glob("*.json")).write_text("{not json")
    rep = LogReporter()
    open_onnx_engine(models, rep.log, folder=folder)
    assert len(exports) == 1 and any("unreadable" in line for line in rep.lines)


def test_an_intact_file_with_wrong_numbers_is_rebuilt(models, cache_copy):
    """A file whose sha256 matches its meta data but whose graph is another network's: the check
    against torch catches it and the export is rebuilt."""
    import warnings

    from backend.engines.export_cache import file_sha256
    from backend.engines.onnx_engine import open_onnx_engine

    folder, exports = cache_copy
    onnx_file = next(folder.glob("*.onnx"))
    meta_file = onnx_file.with_suffix(".json")
    wrong = torch.nn.Sequential(torch.nn.Conv2d(3, 2048, 224), torch.nn.Flatten()).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrong, (torch.zeros(1, 3, 224, 224),), str(onnx_file), dynamo=False,
                          input_names=["crops"], output_names=["features"], opset_version=17,
                          dynamic_axes={"crops": {0: "batch"}, "features": {0: "batch"}})
    meta = json.loads(meta_file.read_text())
    meta["onnx_sha256"] = file_sha256(onnx_file)
    meta_file.write_text(json.dumps(meta))
    rep = LogReporter()
    engine = open_onnx_engine(models, rep.log, folder=folder)
    assert any("differs from torch" in line for line in rep.lines) and len(exports) == 1
    crops = _crops(2)
    assert relative_error(engine(crops), torch_reference(models, crops)) <= 1e-4


def test_int8_through_the_factory_gates_on_the_clip_crops(models, onnx_export, monkeypatch, tmp_path):
    """--precision int8 wiring: the 'quantized' model here is a wrong network (the real quantizer is
    covered in test_int8_gate.py), so the gate must refuse it and the run stay fp32 (INT8_FALLBACK)."""
    import warnings

    import backend.engines.factory as factory

    folder, fp32_engine, _ = onnx_export
    wrong = torch.nn.Sequential(torch.nn.Conv2d(3, 2048, 224), torch.nn.Flatten()).eval()

    def fake_quantize(fp32_path, calibration, out_path, settings):
        assert len(calibration) == 8 and settings.per_channel
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrong, (torch.zeros(1, 3, 224, 224),), str(out_path), dynamo=False,
                              input_names=["crops"], output_names=["features"], opset_version=17,
                              dynamic_axes={"crops": {0: "batch"}, "features": {0: "batch"}})
        return out_path

    monkeypatch.setattr(factory, "quantize_model", fake_quantize)
    rep = LogReporter()
    config = EngineConfig(precision="int8", cache_dir=str(folder.parent), int8_calibrate=8, int8_held_out=4)
    engine = make_feature_engine(models, config, rep)
    crops = _crops(12, seed=5)
    out = engine(crops)
    assert rep.codes() == ["INT8_FALLBACK"] and engine.precision == "fp32"
    assert "cosine" in rep.warnings[0][1] and engine.result.min_cosine < 0.999
    assert np.isfinite(engine.result.mean_degrees)  # the pose check ran through the loaded TCMR
    assert np.array_equal(out, fp32_engine(crops))


def test_the_gates_pose_function_is_the_loaded_temporal_model(models):
    from backend.engines.factory import pose_function
    from backend.engines.quantize import pose_degrees
    from backend.models.inference import regress_track

    feats = np.random.default_rng(3).uniform(0, 1, (6, 2048)).astype(np.float32)
    pose_of = pose_function(models)
    rot = pose_of(feats)
    assert rot.shape == (6, 24, 3, 3)
    assert np.array_equal(rot, regress_track(models, feats)["rotmat"])
    assert np.allclose(pose_degrees(rot, rot), 0.0)
    assert np.all(pose_degrees(rot, pose_of(feats * 1.5)) > 0)


def test_a_failing_trunk_export_falls_back_under_auto_and_is_an_error_when_asked_for(models, tmp_path,
                                                                                   monkeypatch):
    pytest.importorskip("onnxruntime")
    import backend.engines.export_cache as export_cache

    engine = check_export_failure(lambda config, rep: make_feature_engine(models, config, rep), export_cache,
                                  "export_trunk", tmp_path, monkeypatch, "the backbone runs on torch")
    crops = _crops(2)
    assert engine.name == "torch" and relative_error(engine(crops), torch_reference(models, crops)) < 1e-5
