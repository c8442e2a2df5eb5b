"""The add-on's Speed preferences (Engine, Precision) reach the backend as `run --engine/--precision`;
precision enters the result cache key, the engine does not (docs/addon_architecture.md)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from addon.core import run_options
from addon.core.backend_cmd import NOT_IN_KEY, RUN_OPTIONS, RunSettings, run_argv


def _value(argv, flag):
    return argv[argv.index(flag) + 1] if flag in argv else None


def test_the_choices_are_the_backends_table_and_engine_module():
    from backend.engines import ENGINES, PRECISIONS

    engine, precision = run_options.option("engine"), run_options.option("precision")
    assert engine.choices == ENGINES and precision.choices == PRECISIONS
    defaults = (engine.default, precision.default)
    assert (RunSettings.engine, RunSettings.precision) == defaults == ("auto", "fp32")
    for opt in (engine, precision):  # every choice has a label and a tooltip for the preferences
        assert all(label and tip for _ident, label, tip in opt.enum_items())


def test_defaults_are_not_sent_other_choices_are():
    plain = run_argv("py", RunSettings(video="v.mp4", out_dir="o"))
    assert "--engine" not in plain and "--precision" not in plain  # the backend's own defaults
    for engine in ("torch", "onnxruntime"):
        for precision in ("bf16", "int8"):
            argv = run_argv("py", RunSettings(video="v.mp4", out_dir="o", engine=engine, precision=precision))
            assert (_value(argv, "--engine"), _value(argv, "--precision")) == (engine, precision)


def test_an_unknown_choice_is_refused_before_anything_runs():
    with pytest.raises(ValueError, match="precision"):
        run_argv("py", RunSettings(video="v.mp4", out_dir="o", precision="int4"))
    with pytest.raises(ValueError, match="engine"):
        run_argv("py", RunSettings(video="v.mp4", out_dir="o", engine="tensorrt"))


def test_the_backend_parses_them_into_its_run_config():
    from backend.cli import build_parser
    from backend.commands.run import config_from_args

    s = RunSettings(video="v.mp4", out_dir="o", engine="onnxruntime", precision="int8")
    config = config_from_args(build_parser().parse_args(run_argv("python", s)[3:]))
    assert (config.engine, config.precision) == ("onnxruntime", "int8")


def test_precision_changes_the_cache_key_the_engine_does_not():
    base = RunSettings(video="v.mp4", out_dir="o")
    assert base.key_fields()["precision"] == "fp32" and "engine" not in base.key_fields()
    for precision in ("bf16", "int8"):  # different numbers: never the fp32 result re-imported
        assert RunSettings(video="v.mp4", out_dir="o", precision=precision).key_fields() != base.key_fields()
    for engine in ("torch", "onnxruntime"):  # the same result within ~1e-6: a cached one is reused
        assert RunSettings(video="v.mp4", out_dir="o", engine=engine).key_fields() == base.key_fields()
    assert set(base.key_fields()) == set(RUN_OPTIONS) - set(NOT_IN_KEY) and NOT_IN_KEY == ("engine",)


def test_the_preferences_offer_the_tables_choices(bpy_module):
    from addon import preferences

    props = preferences.TCMR_AddonPreferences.bl_rna.properties
    for name in ("engine", "precision"):
        opt = run_options.option(name)
        items = props[name].enum_items
        assert [i.identifier for i in items] == list(opt.choices)
        assert [(i.name, i.description) for i in items] == [tuple(opt.ui_items[c]) for c in opt.choices]
        assert props[name].default == opt.panel_default
    assert props["engine"].name == "Engine" and props["precision"].name == "Precision"


def test_the_preferences_reach_the_run_settings(bpy_module, tmp_path, monkeypatch):
    from addon import resolve, video_run

    bpy = bpy_module
    assert (resolve.engine(None), resolve.precision(None)) == ("auto", "fp32")  # unregistered: defaults
    prefs = SimpleNamespace(python_mode="CUSTOM", custom_python="", env_dir="", data_dir=str(tmp_path / "d"),
                            results_dir=str(tmp_path / "r"), device="cpu", detector_model="",
                            engine="torch", precision="int8")
    monkeypatch.setattr(resolve, "get_prefs", lambda context=None: prefs)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not decoded here")
    python = tmp_path / "python"
    python.write_text("")
    ui = bpy.context.scene.tcmr_settings
    saved = ui.video
    ui.video = str(clip)
    try:
        run = video_run.resolve_run(video_run.RunRequest(python=str(python)), bpy.context)
    finally:
        ui.video = saved
    assert (run.settings.engine, run.settings.precision, run.settings.device) == ("torch", "int8", "cpu")
    argv = run_argv(str(python), run.settings)
    assert (_value(argv, "--engine"), _value(argv, "--precision")) == ("torch", "int8")
