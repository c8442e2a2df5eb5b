"""Time `tcmr.import_result` for one long track (default 10,000 frames; goal < 10 s).

    TCMR_TEST_DATA_CACHE=/tmp/base_data python benchmarks/bench_import.py [--frames N]

Uses the synthetic SMPL model (the file format and sizes are the real ones). Prints the time of
the whole import, with and without the 207 pose-corrective shape keys, and of a baseline in the
same run: a 10-frame import (the fixed cost of building mesh, rig and shape keys), so the
per-frame cost is the difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "blender"))

from result_factory import random_track, write_result  # noqa: E402


def _data_dir(tmp: Path) -> Path:
    cache = os.environ.get("TCMR_TEST_DATA_CACHE")
    if cache and (Path(cache) / "SMPL_NEUTRAL.pkl").exists():
        return Path(cache)
    from backend.synthetic import write_smpl_pkl

    (tmp / "data").mkdir()
    write_smpl_pkl(tmp / "data" / "SMPL_NEUTRAL.pkl")
    return tmp / "data"


def _time_import(bpy, folder: Path, data_dir: Path, correctives: bool) -> float:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    start = time.perf_counter()
    result = bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(data_dir),
                                        pose_correctives=correctives)
    elapsed = time.perf_counter() - start
    assert result == {"FINISHED"}, result
    return elapsed


def _count_keys(bpy) -> int:
    from addon.anim_shim import action_fcurves

    arm = bpy.data.objects["TCMR track 1"]
    body = bpy.data.objects["TCMR track 1 body"]
    curves = action_fcurves(arm) + action_fcurves(body.data.shape_keys)
    return sum(len(fc.keyframe_points) for fc in curves)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    args = parser.parse_args()

    import bpy

    import addon

    addon.register()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data_dir = _data_dir(tmp)
        rng = np.random.default_rng(0)
        long = write_result(tmp / "long", {1: random_track(rng, np.arange(args.frames))},
                            frame_count=args.frames)
        short = write_result(tmp / "short", {1: random_track(rng, np.arange(10))}, frame_count=10)
        _time_import(bpy, short, data_dir, True)  # warm-up (first-call costs of bpy and numpy)
        base = _time_import(bpy, short, data_dir, True)
        full = _time_import(bpy, long, data_dir, True)
        keys = _count_keys(bpy)
        light = _time_import(bpy, long, data_dir, False)
    print(f"bpy {bpy.app.version_string}")
    print(f"baseline import, 10 frames:             {base:7.2f} s")
    print(f"import, {args.frames} frames, correctives on:  {full:7.2f} s  ({full / base:.1f}x baseline)")
    print(f"import, {args.frames} frames, correctives off: {light:7.2f} s  ({light / base:.1f}x baseline)")
    print(f"per-frame cost (correctives on): {(full - base) / max(args.frames - 10, 1) * 1000:.3f} ms; "
          f"keys written: {keys}")
    print(f"goal < 10 s for 10,000 frames: {'met' if full < 10.0 else 'NOT met'}"
          + ("" if args.frames == 10_000 else " (run with the default --frames for the goal)"))


if __name__ == "__main__":
    main()
