"""One table of `run` options (backend/run_options.json): the CLI, RunConfig, the add-on's argv
builder and its panel properties all take their names, choices and defaults from it."""

from __future__ import annotations

import dataclasses

from addon.core import run_options as addon_options
from addon.core.backend_cmd import RunSettings, run_argv
from backend import run_options
from backend.cli import build_parser
from backend.pipeline import RunConfig


def _run_parser_defaults() -> dict:
    args = build_parser().parse_args(["run", "clip.mp4", "--out", "o"])
    return vars(args)


def test_cli_and_runconfig_defaults_are_the_table():
    parsed = _run_parser_defaults()
    fields = {f.name: f for f in dataclasses.fields(RunConfig)}
    for opt in run_options.OPTIONS.values():
        if opt.required:
            continue
        assert parsed[opt.dest] == opt.default, opt.name
        assert fields[opt.name].default == opt.default, opt.name
    assert set(run_options.OPTIONS) | {"data_dir", "device"} == set(fields)


def test_cli_choices_are_the_table_and_the_backend_modules():
    from backend.pipeline import MAIN_PERSON_MODES
    from backend.smoothing import METHODS
    from backend.video import DEFAULT_IMAGE_FPS

    run = build_parser()._subparsers._group_actions[0].choices["run"]
    by_dest = {a.dest: a for a in run._actions}
    assert tuple(by_dest["smooth"].choices) == run_options.OPTIONS["smooth"].choices == METHODS
    assert tuple(by_dest["main_person"].choices) == MAIN_PERSON_MODES
    assert run_options.default("image_fps") == DEFAULT_IMAGE_FPS


def test_the_addon_reads_the_same_table_by_path():
    ours = addon_options.options()
    assert addon_options.table_path() == run_options.TABLE
    for name, opt in run_options.OPTIONS.items():
        mine = ours[name]
        assert (mine.flag, mine.default, mine.choices) == (opt.flag, opt.default, opt.choices)


def test_smoothing_default_differs_on_purpose_and_the_addon_always_sends_it():
    """The CLI keeps the official demo's `none`; the panel starts at `oneeuro` (ui_default)."""
    smooth = addon_options.option("smooth")
    assert (smooth.default, smooth.ui_default, smooth.panel_default) == ("none", "oneeuro", "oneeuro")
    assert RunSettings(video="v", out_dir="o").smooth == "oneeuro"
    for value in smooth.choices:
        argv = run_argv("py", RunSettings(video="v", out_dir="o", smooth=value))
        assert argv[argv.index("--smooth") + 1] == value
    assert addon_options.option("main_person").panel_default == "none"  # same as the CLI: not sent
    assert "--main-person" not in run_argv("py", RunSettings(video="v", out_dir="o"))


def test_addon_argv_parses_to_the_settings_it_came_from():
    s = RunSettings(video="v.mp4", out_dir="o", start=3, end=9, main_person="largest", smooth="slerp",
                    bbox=(1, 2, 30, 40))
    args = build_parser().parse_args(run_argv("python", s)[3:])
    from backend.commands.run import config_from_args

    config = config_from_args(args)
    assert (config.start, config.end, config.main_person, config.smooth) == (3, 9, "largest", "slerp")
    assert config.bbox == (1.0, 2.0, 30.0, 40.0)


def test_panel_and_operator_properties_come_from_the_table(bpy_module):
    bpy = bpy_module
    ui = bpy.context.scene.tcmr_settings.bl_rna.properties
    smooth, people = addon_options.option("smooth"), addon_options.option("main_person")
    assert ui["smoothing"].default == smooth.panel_default
    assert ui["people"].default == people.panel_default
    assert [item.identifier for item in ui["smoothing"].enum_items] == list(smooth.choices)
    assert [item.identifier for item in ui["people"].enum_items] == list(people.choices)
    assert ui["people"].enum_items["none"].name == "All People"
    op = bpy.ops.tcmr.process_video.get_rna_type().properties
    assert [item.identifier for item in op["smoothing"].enum_items] == ["PANEL", *smooth.choices]
