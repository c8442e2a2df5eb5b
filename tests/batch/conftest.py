"""Fixtures for the batch tests: tiny generated clips (tests/pipeline/clips.py) and a subprocess runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.clips import BBOX, write_images, write_mp4
from tests.pipeline.conftest import REPO, Run, backend_env, parse

BBOX_ARG = ",".join(str(v) for v in BBOX)
FAST = ("--bbox", BBOX_ARG, "--ground", "off", "--batch-size", "8")  # tiny clips: seconds per input


def batch_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "backend", "batch", *map(str, args), "--jsonl"]


def run_batch(*args, env_extra: dict | None = None, timeout: float = 300) -> Run:
    env = backend_env()
    env["OMP_NUM_THREADS"] = "1"
    env.update(env_extra or {})
    proc = subprocess.run(batch_cmd(*args), cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return Run(proc.returncode, parse(proc.stdout), proc.stderr)


def batch_config(*args):
    """The shared RunConfig that `batch ARGS...` would use (parsed as the command parses them)."""
    import argparse

    from backend.cli import add_common_arguments
    from backend.commands import batch

    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    batch.add_arguments(parser)
    return batch.base_config(parser.parse_args([str(a) for a in args]))


@pytest.fixture
def inputs(tmp_path) -> Path:
    """A folder with a 5-frame video, a 4-image folder and a corrupt .mp4."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    write_mp4(folder / "walk.mp4", 5, fps=25.0)
    write_images(folder / "frames", 4)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under folder -> (mtime_ns, bytes)."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


__all__ = ["FAST", "REPO", "batch_cmd", "batch_config", "run_batch", "snapshot"]
