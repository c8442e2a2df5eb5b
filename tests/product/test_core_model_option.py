"""The add-on's `Model` choice reaches the backend as `run --model`, and changes the cache key."""

from __future__ import annotations

from addon.core.backend_cmd import RunSettings, run_argv


def test_vibe_is_passed_tcmr_stays_the_default():
    vibe = run_argv("py", RunSettings(video="v.mp4", out_dir="o", model="vibe"))
    assert vibe[vibe.index("--model") + 1] == "vibe"
    assert "--model" not in run_argv("py", RunSettings(video="v.mp4", out_dir="o"))


def test_the_model_is_part_of_the_cache_key():
    tcmr = RunSettings(video="v.mp4", out_dir="o")
    assert tcmr.key_fields()["model"] == "tcmr"  # every run option of the table enters the key
    assert RunSettings(video="v.mp4", out_dir="o", model="vibe").key_fields() != tcmr.key_fields()


def test_the_backend_parser_accepts_it():
    from backend.cli import build_parser

    argv = run_argv("python", RunSettings(video="v", out_dir="o", model="vibe"))
    args = build_parser().parse_args(argv[3:])
    assert args.command == "run" and args.model == "vibe"
