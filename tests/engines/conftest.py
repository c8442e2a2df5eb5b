"""Fixtures for the engine tests: the synthetic network (real-size ResNet-50, random weights) and
ONE verified ONNX export of it per test session, in a temporary cache folder."""

from __future__ import annotations

import shutil

import pytest


class LogReporter:
    """Collects what an engine reports: warnings as (code, message, hint), log lines as text."""

    def __init__(self) -> None:
        self.warnings: list[tuple[str, str, str]] = []
        self.lines: list[str] = []

    def warning(self, code: str, message: str, hint: str = "") -> None:
        self.warnings.append((code, message, hint))

    def log(self, message: str) -> None:
        self.lines.append(message)

    def codes(self) -> list[str]:
        return [w[0] for w in self.warnings]


@pytest.fixture(scope="session")
def models(model_data_dir):
    from backend.models.loading import load_models

    return load_models(model_data_dir, "cpu", backbone=True)


@pytest.fixture(scope="session")
def onnx_export(models, tmp_path_factory):
    """(folder, engine, log lines) of the session's export, verified against torch."""
    pytest.importorskip("onnxruntime")
    from backend.engines.onnx_engine import open_onnx_engine

    folder = tmp_path_factory.mktemp("onnx_cache") / "onnx"
    rep = LogReporter()
    engine = open_onnx_engine(models, rep.log, folder=folder)
    return folder, engine, rep.lines


def copied_cache(folder, tmp_path, monkeypatch, module, exporter: str):
    """A copy of a session's export folder in tmp_path, with module.<exporter> replaced by a copy of
    the good file (one real export per session) -> (copied folder, paths the re-exports wrote)."""
    copy = tmp_path / "onnx"
    shutil.copytree(folder, copy)
    good = next(folder.glob("*.onnx"))
    exports = []

    def fake_export(_module, path):
        exports.append(path)
        shutil.copyfile(good, path)

    monkeypatch.setattr(module, exporter, fake_export)
    return copy, exports


def check_export_failure(prepare, module, exporter: str, tmp_path, monkeypatch, stage: str):
    """With module.<exporter> raising: prepare(EngineConfig, reporter) under auto warns
    ONNX_ENGINE_FALLBACK naming the cause and `stage` ("the backbone runs on torch"), leaving no
    file in the cache, and its result is returned for the caller's checks; with --engine
    onnxruntime it raises ENGINE_UNAVAILABLE naming the cause."""
    from backend.engines import EngineConfig
    from backend.errors import BackendError, Code

    def broken(_module, path):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(module, exporter, broken)
    rep = LogReporter()
    got = prepare(EngineConfig(cache_dir=str(tmp_path)), rep)
    assert rep.codes() == ["ONNX_ENGINE_FALLBACK"]
    assert stage in rep.warnings[0][1] and "exporter crashed" in rep.warnings[0][1]
    assert not list((tmp_path / "onnx").glob("*"))  # no half-written file is left
    with pytest.raises(BackendError) as info:
        prepare(EngineConfig(engine="onnxruntime", cache_dir=str(tmp_path)), LogReporter())
    assert info.value.code == Code.ENGINE_UNAVAILABLE and "exporter crashed" in info.value.message
    return got
