"""The CLI envelope: coded errors for bad arguments, protocol lines only on stdout."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict | None = None) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, lines, proc.stderr


def test_unknown_command_is_one_coded_error():
    rc, lines, _ = _run("frobnicate", "--jsonl")
    assert rc == 2
    assert len(lines) == 1 and lines[0]["event"] == "error" and lines[0]["code"] == "BAD_ARGUMENT"
    assert "--help" in lines[0]["hint"]


def test_bad_option_value_is_one_coded_error():
    rc, lines, _ = _run("check", "--device", "tpu", "--jsonl")
    assert rc == 2
    assert [line["event"] for line in lines] == ["error"]
    assert lines[0]["code"] == "BAD_ARGUMENT" and "tpu" in lines[0]["message"]


def test_cuda_requested_without_cuda_is_a_coded_error(tmp_path):
    features = tmp_path / "f.npy"
    features.write_bytes(b"")
    no_gpu = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # hide any GPU so the check is the same everywhere
    rc, lines, _ = _run("regress", str(features), "--out", str(tmp_path / "o.npz"), "--device", "cuda",
                        "--jsonl", env=no_gpu)
    assert rc == 2
    assert lines[-1]["event"] == "error" and lines[-1]["code"] == "CUDA_UNAVAILABLE"
    assert "--device cpu" in lines[-1]["hint"]
