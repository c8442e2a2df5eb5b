"""User-caused problems end in their own coded error with a hint, before anything loads: non-finite
or out-of-range numbers for any numeric option, frames that the detector cannot take."""

from __future__ import annotations

import json
import signal

import cv2
import numpy as np
import pytest

from backend import cli
from tests.pipeline.clips import write_mp4


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_mp4(tmp_path_factory.mktemp("clip") / "c.mp4", 4)


def _main(capsys, *argv) -> tuple[int, list[dict]]:
    saved = signal.getsignal(signal.SIGTERM)  # cli.main installs its own SIGTERM handler
    try:
        rc = cli.main([*argv, "--jsonl"])
    finally:
        signal.signal(signal.SIGTERM, saved)
    return rc, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("option", [
    ("--bbox", "inf,0,10,10"), ("--bbox", "nan,10,50,50"), ("--bbox", "0,0,inf,10"), ("--bbox", "0,0,10,nan"),
    ("--bbox", "1e300,0,10,10"), ("--focal", "inf"), ("--focal", "nan"), ("--focal", "-5"),
    ("--focal", "1e12"),
    ("--fps", "inf"), ("--fps", "nan"), ("--fps", "0"), ("--fps", "1e9"),
])
def test_every_numeric_run_option_is_finite_and_in_range(capsys, tmp_path, clip, option):
    empty = tmp_path / "no data"
    empty.mkdir()
    out = tmp_path / "out"
    rc, events = _main(capsys, "run", str(clip), "--out", str(out), "--data-dir", str(empty),
                       "--device", "cpu", *option)
    assert rc == 2 and events[-1]["event"] == "error"
    assert events[-1]["code"] == "BAD_ARGUMENT", events[-1]  # not DATA_MISSING: nothing was loaded
    assert option[0] in events[-1]["message"] and events[-1]["hint"]
    assert not any(e["event"] == "stage" for e in events) and not out.exists()


@pytest.mark.parametrize("argv", [
    ("regress", "f.npy", "--out", "o.npz", "--batch-size", "0"),
    ("evaluate", "db.pt", "--batch-size", "-1"),
    ("evaluate", "db.pt", "--max-sequences", "0"),
])
def test_integer_options_of_other_commands_are_checked_too(capsys, tmp_path, argv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, events = _main(capsys, *argv, "--device", "cpu")
    assert rc == 2 and events[-1]["code"] == "BAD_ARGUMENT"


def test_a_float_option_of_any_command_must_be_finite(capsys):
    """The generic check covers float options that commands add later (every float in args)."""
    import argparse

    with pytest.raises(cli.BackendError) as info:
        cli.check_finite(argparse.Namespace(some_rate=float("inf"), frames=3, name="x"))
    assert info.value.code == "BAD_ARGUMENT" and "--some-rate" in info.value.message


def test_frames_the_detector_cannot_take_are_no_person_with_the_bbox_hint(capsys, tmp_path):
    """A 10000x10 image folder without --bbox (HOG's resize used to assert: INTERNAL)."""
    folder = tmp_path / "strip"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((10, 10000, 3), 90, np.uint8))
    empty = tmp_path / "no data"
    empty.mkdir()
    rc, events = _main(capsys, "run", str(folder), "--out", str(tmp_path / "o"), "--data-dir", str(empty),
                       "--device", "cpu")
    assert rc == 2 and events[-1]["code"] == "NO_PERSON", events[-1]
    assert "10000x10" in events[-1]["message"] and "--bbox" in events[-1]["hint"]
