"""argv building (Contract 1, docs/contracts.md), environment and process-tree handling: pure, no bpy."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from addon.core.backend_cmd import (
    RunSettings,
    backend_env,
    check_argv,
    run_argv,
    selftest_argv,
    short_data_root,
    venv_python,
)
from addon.core.layout import find_backend_root
from addon.core.process import BackendProcess, pid_alive

REPO = Path(__file__).resolve().parents[2]


def test_run_argv_is_a_list_that_keeps_spaces_and_quotes_intact():
    s = RunSettings(video="/tmp/my clips/it's \"here\".mp4", out_dir="/tmp/out dir/r 1",
                    data_dir="/data with space", device="cpu", start=5, end=40, main_person="largest",
                    smooth="none")
    argv = run_argv("/opt/py thon/bin/python", s)
    assert argv[:5] == ["/opt/py thon/bin/python", "-m", "backend", "run", "--jsonl"]
    assert s.video in argv and argv[argv.index("--out") + 1] == s.out_dir
    assert argv[argv.index("--data-dir") + 1] == "/data with space"
    assert argv[argv.index("--start") + 1] == "5" and argv[argv.index("--end") + 1] == "40"
    assert argv[argv.index("--device") + 1] == "cpu"
    assert argv[argv.index("--main-person") + 1] == "largest"
    assert argv[argv.index("--smooth") + 1] == "none"


def test_run_argv_omits_unset_options_and_rejects_bad_choices():
    argv = run_argv("py", RunSettings(video="v.mp4", out_dir="o"))
    assert "--start" not in argv and "--end" not in argv and "--data-dir" not in argv
    assert "--main-person" not in argv and argv[argv.index("--smooth") + 1] == "oneeuro"
    with pytest.raises(ValueError):
        run_argv("py", RunSettings(video="v", out_dir="o", main_person="everyone"))
    with pytest.raises(ValueError):
        run_argv("py", RunSettings(video="v", out_dir="o", device="tpu"))


def test_argv_reaches_a_real_child_unchanged(tmp_path):
    weird = str(tmp_path / "a b" / "ü 'q' \"x\".mp4")
    argv = [sys.executable, "-c", "import json,sys; print(json.dumps(sys.argv[1:]))", weird, "--out", "x y"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [weird, "--out", "x y"]


def test_backend_root_found_for_checkout_and_installed_layout(tmp_path):
    assert find_backend_root(REPO / "addon") == REPO
    installed = tmp_path / "tcmr_mocap"
    (installed / "backend").mkdir(parents=True)
    (installed / "backend" / "__main__.py").write_text("")
    assert find_backend_root(installed) == installed
    with pytest.raises(FileNotFoundError):
        find_backend_root(tmp_path / "elsewhere")


def test_backend_env_puts_root_first_and_drops_blender_python_home():
    blender = {"PYTHONHOME": "/blender/python", "PYTHONPATH": "/blender/lib", "A": "1"}
    env = backend_env("/root dir", base=blender)
    assert env["PYTHONPATH"] == "/root dir" and "PYTHONHOME" not in env
    assert env["PYTHONIOENCODING"] == "utf-8" and env["A"] == "1"


def test_check_argv_runs_the_real_backend_cli():
    argv = check_argv(sys.executable, "/nonexistent folder")
    assert argv[-2:] == ["--data-dir", "/nonexistent folder"]
    proc = subprocess.run([*argv[:3], "--help"], cwd=REPO, env=backend_env(REPO), capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "check" in proc.stdout


def test_short_data_root_per_platform():
    win = short_data_root("win32", {"LOCALAPPDATA": r"C:\Users\a\AppData\Local"}, "C:/Users/a")
    assert win.name == "tcmr-mocap" and "Local" in str(win)
    assert str(short_data_root("linux", {}, "/home/a")) == "/home/a/.local/share/tcmr-mocap"
    assert str(short_data_root("linux", {"XDG_DATA_HOME": "/x"}, "/home/a")) == "/x/tcmr-mocap"
    assert str(short_data_root("darwin", {}, "/Users/a")) == "/Users/a/Library/Application Support/tcmr-mocap"
    assert venv_python("/e", "win32") == Path("/e/Scripts/python.exe")
    assert venv_python("/e", "linux") == Path("/e/bin/python")


_TREE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print('{"event": "stage", "stage": "detect"}', flush=True)
print('{"event": "progress", "stage": "detect", "done": 1, "total": 9, "child": %d}' % child.pid, flush=True)
sys.stderr.write("log line\\n"); sys.stderr.flush()
time.sleep(60)
"""


def test_kill_tree_stops_the_child_and_its_grandchild(tmp_path):
    proc = BackendProcess([sys.executable, "-c", _TREE], cwd=str(tmp_path), env=backend_env(tmp_path),
                          log_path=tmp_path / "logs" / "backend.log")
    lines, deadline = [], time.monotonic() + 20
    while len(lines) < 2 and time.monotonic() < deadline:
        new, done = proc.poll()
        lines += new
        assert not done
        time.sleep(0.02)
    grandchild = json.loads(lines[1])["child"]
    assert pid_alive(proc.pid) and pid_alive(grandchild)
    proc.kill_tree(grace_s=1.0)
    time.sleep(0.2)
    assert not pid_alive(proc.pid)
    assert not pid_alive(grandchild)
    assert "log line" in (tmp_path / "logs" / "backend.log").read_text()


def test_process_reports_lines_then_finished(tmp_path):
    code = "print('a'); print('b', flush=True); import sys; sys.exit(3)"
    proc = BackendProcess([sys.executable, "-c", code], cwd=str(tmp_path), env=backend_env(tmp_path),
                          log_path=tmp_path / "b.log")
    got, done, deadline = [], False, time.monotonic() + 20
    while not done and time.monotonic() < deadline:
        new, done = proc.poll()
        got += new
        time.sleep(0.01)
    assert [g.strip() for g in got] == ["a", "b"] and done and proc.returncode == 3


def test_process_refuses_a_shell_string(tmp_path):
    with pytest.raises(TypeError):
        BackendProcess("python -m backend run x", cwd=str(tmp_path), env={}, log_path=tmp_path / "l")


def test_every_run_argv_the_addon_builds_is_accepted_by_the_backend_parser():
    """Contract 1 from both sides: the real backend CLI parses what the add-on sends."""
    from backend.cli import build_parser

    parser = build_parser()
    for s in (RunSettings(video="/v w/clip.mp4", out_dir="/o d"),
              RunSettings(video="v.mp4", out_dir="o", data_dir="/d", device="cuda", start=3, end=9,
                          main_person="longest", smooth="slerp", bbox=(1, 2, 30, 40)),
              RunSettings(video="v.mp4", out_dir="o", smooth="none"),
              RunSettings(video="v.mp4", out_dir="o", detector="/models/yolo v8n.onnx")):
        args = parser.parse_args(run_argv("python", s)[3:])
        assert args.command == "run" and args.device == s.device
        assert args.detector == (s.detector or None)
    for argv in (check_argv("python", "/d"), selftest_argv("python")):
        assert parser.parse_args(argv[3:]).command == argv[3]


def test_parse_bbox():
    from addon.core.backend_cmd import parse_bbox

    assert parse_bbox("") is None
    assert parse_bbox(" 10, 20,30 ,40 ") == (10, 20, 30, 40)
    assert parse_bbox("10 20 30.6 40") == (10, 20, 31, 40)
    for bad in ("1,2,3", "1,2,0,4", "-1,2,3,4", "a,b,c,d"):
        with pytest.raises(ValueError):
            parse_bbox(bad)


def test_the_detector_choice_reaches_the_backend_and_the_cache_key():
    hog = RunSettings(video="v.mp4", out_dir="o")
    onnx = RunSettings(video="v.mp4", out_dir="o", detector="/m/yolov8n.onnx")
    assert "--detector" not in run_argv("py", hog)
    argv = run_argv("py", onnx)
    assert argv[argv.index("--detector") + 1] == "/m/yolov8n.onnx"
    assert hog.key_fields()["detector"] is None  # every run option of the table enters the key
    assert onnx.key_fields() != hog.key_fields()


def test_a_changed_backend_default_changes_the_cache_fields(monkeypatch):
    """An option the add-on does not send still enters the cache key through the table's default:
    after a backend update that changes it, an older cached result no longer matches."""
    from dataclasses import replace

    from addon.core import run_options as table

    settings = RunSettings(video="v.mp4", out_dir="o")
    before = settings.cache_fields()
    assert before["backend_defaults"]["detect_every"] == table.option("detect_every").default
    assert "input" not in before["backend_defaults"] and "detect_every" not in settings.key_fields()
    changed = dict(table.options())
    changed["detect_every"] = replace(changed["detect_every"], default=changed["detect_every"].default + 1)
    monkeypatch.setattr(table, "options", lambda path=None: changed)
    assert settings.cache_fields() != before
    assert settings.key_fields() == {k: v for k, v in before.items() if k != "backend_defaults"}
