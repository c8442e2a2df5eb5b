"""`python -m backend selftest` (synthetic, labelled) and the managed-environment builder
(offline, from a local wheel folder)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_selftest_passes_on_synthetic_data_and_says_so(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "backend", "selftest", "--device", "cpu", "--frames", "18",
                           "--data-dir", str(tmp_path / "no data here"), "--jsonl"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    events = _events(proc.stdout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = events[-1]
    assert result["event"] == "result" and result["synthetic"] is True
    assert "SYNTHETIC" in result["summary"] and result["frames"] == 18
    stages = [e for e in events if e["event"] == "stage"]
    assert {"check", "load", "features", "regress"} <= {e["stage"] for e in stages}
    assert all("SYNTHETIC" in e["message"] for e in stages)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert lines and all("SYNTHETIC" in line for line in lines)
    assert not (tmp_path / "no data here").exists()  # it never touches the user's data folder


def _tiny_wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel (tcmrprobe 1.0) for an offline install."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tcmrprobe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tcmrprobe/__init__.py", "VALUE = 42\n")
        info = "tcmrprobe-1.0.dist-info/"
        zf.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: tcmrprobe\nVersion: 1.0\n")
        zf.writestr(info + "WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                    "Tag: py3-none-any\n")
        zf.writestr("tcmrprobe-1.0.dist-info/RECORD", "")
    return path


def test_envsetup_creates_a_venv_offline_from_a_wheel_folder(tmp_path):
    wheels = tmp_path / "wheels"
    _tiny_wheel(wheels)
    env = tmp_path / "env dir"
    script = REPO / "addon" / "core" / "envsetup.py"
    proc = subprocess.run([sys.executable, str(script), "--env", str(env), "--wheels", str(wheels),
                           "--torch", "", "--package", "tcmrprobe",
                           "--verify", "import tcmrprobe; print(tcmrprobe.VALUE)"],
                          capture_output=True, text=True, timeout=300)
    events = _events(proc.stdout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert events[-1]["event"] == "result" and events[-1]["torch"] == "42"
    assert Path(events[-1]["path"]).is_file()
    assert [e["done"] for e in events if e["event"] == "progress"] == [1, 2, 3]
    # the new env is separate from this interpreter: it has the probe package
    out = subprocess.run([events[-1]["path"], "-c", "import sys, tcmrprobe; print(sys.prefix)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out).resolve() == env.resolve()


def test_envsetup_offline_failure_is_one_error_event_with_a_hint(tmp_path):
    wheels = tmp_path / "empty wheels"
    wheels.mkdir()
    script = REPO / "addon" / "core" / "envsetup.py"
    proc = subprocess.run([sys.executable, str(script), "--env", str(tmp_path / "env"), "--wheels",
                           str(wheels), "--torch", "", "--package", "tcmrprobe"],
                          capture_output=True, text=True, timeout=300)
    events = _events(proc.stdout)
    assert proc.returncode == 2
    ends = [e for e in events if e["event"] in ("result", "error")]
    assert len(ends) == 1 and ends[0]["code"] == "INSTALL_FAILED" and "wheel folder" in ends[0]["hint"]
    proc = subprocess.run([sys.executable, str(script), "--env", str(tmp_path / "env2"), "--wheels",
                           str(tmp_path / "missing")], capture_output=True, text=True, timeout=60)
    assert _events(proc.stdout)[-1]["code"] == "INPUT_NOT_FOUND"
