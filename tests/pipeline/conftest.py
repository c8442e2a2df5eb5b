"""Fixtures for the `run` end-to-end tests: synthetic clips and a subprocess runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pipeline.clips import write_images, write_mp4

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    rc: int
    events: list[dict]
    stderr: str

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]


def backend_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("TCMR_DATA_DIR", None)
    return env


def parse(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def run_backend(*args, timeout: float = 300) -> Run:
    """`python -m backend run ... --jsonl` in a subprocess; stdout must hold only protocol lines."""
    proc = subprocess.run([sys.executable, "-m", "backend", "run", *map(str, args), "--jsonl"], cwd=REPO,
                          env=backend_env(), capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, parse(proc.stdout), proc.stderr)


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "mp4": write_mp4(folder / "walk.mp4", 24, fps=25.0),
        "long_mp4": write_mp4(folder / "walk_long.mp4", 60, fps=25.0),
        "images": write_images(folder / "frames", 20),
    }
