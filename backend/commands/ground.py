"""`python -m backend ground RESULT_DIR --out DIR`: put a finished result into a world.

Reads a Contract 3 result (the network's camera-frame output), fits the floor under everyone's
planted feet, derives the static camera's pose and writes a new complete result with the world
keys (docs/world.md) added; the input is never touched and nothing is written on failure. No
network runs: seconds, not minutes. Stages: load, ground, write. Warnings: GROUND_NOT_FOUND (the
world is then the camera frame turned to Z up), SYNTHETIC_DATA. Errors: INPUT_NOT_FOUND,
RESULT_INVALID (no boxes or focal, NaN/inf, broken files), RESULT_TOO_NEW, BAD_ARGUMENT (--out is
the input), DATA_MISSING/DATA_INVALID (SMPL_NEUTRAL.pkl), OUTPUT_UNWRITABLE.
"""

from __future__ import annotations

import time
from pathlib import Path

from backend.errors import BackendError, Code

HELP = "fit the floor and the camera pose to a result and write it again in a world (Z up, floor z = 0)"
NEEDS_DEVICE = False


def add_arguments(parser) -> None:
    parser.add_argument("input", help="a result directory written by `run`")
    parser.add_argument("--out", required=True, help="the grounded result's directory (not the input)")
    parser.add_argument("--foot-lock", default="auto", choices=("off", "auto"),
                        help="foot contact + locking on the world motion (default auto)")
    parser.add_argument("--focal", type=float, default=None,
                        help="camera focal length in pixels (default: the result's); translations are "
                             "recomputed from the crop camera")


def load_smpl_for(data_dir, reporter):
    """SMPL_NEUTRAL.pkl of the model data folder (the only file grounding needs)."""
    from backend.datafiles import SMPL_NEUTRAL, resolve_data_dir
    from backend.smpl_file import load_smpl
    from backend.synthetic import is_synthetic

    folder = resolve_data_dir(data_dir)
    smpl = load_smpl(folder / SMPL_NEUTRAL.name)
    if is_synthetic(folder):
        reporter.warning("SYNTHETIC_DATA", f"the SMPL model in {folder} is synthetic (a made-up body)",
                         "Install the real model data to ground real results.")
    return smpl


def execute(args, reporter):
    from backend.grounding.ground import GroundOptions
    from backend.grounding.reader import read_result
    from backend.grounding.result_step import ground_arrays, refocus
    from backend.result import ResultWriter

    src, out = Path(args.input).expanduser().resolve(), Path(args.out).expanduser().resolve()
    if src == out:
        raise BackendError(Code.BAD_ARGUMENT, f"--out {out} is the input result",
                           "Write the grounded result to another folder, e.g. --out RESULT_grounded.")
    if args.focal is not None and not args.focal > 0:
        raise BackendError(Code.BAD_ARGUMENT, f"--focal must be > 0 pixels, got {args.focal}",
                           "Leave it out to keep the result's focal length.")
    t0 = time.perf_counter()
    reporter.stage("load", f"Reading {src}")
    loaded = read_result(src, args.focal)
    smpl = load_smpl_for(args.data_dir, reporter)
    meta = refocus(loaded.arrays, loaded.meta, loaded.view) if args.focal is not None else loaded.meta
    reporter.progress("load", 1, 1)
    t1 = time.perf_counter()
    meta, arrays, grounded = ground_arrays(meta, loaded.arrays, loaded.view, loaded.fps, smpl,
                                           GroundOptions(foot_lock=args.foot_lock), reporter)
    t2 = time.perf_counter()
    reporter.stage("write", f"Writing {len(arrays)} track(s) to {out}")
    with ResultWriter(out) as writer:
        for n, (entry, a) in enumerate(zip(loaded.entries, arrays), start=1):
            writer.write_track(int(entry["id"]), a)
            reporter.progress("write", n, len(arrays))
        path = writer.commit(meta)
    world = grounded.world
    return path, {"tracks": len(arrays), "ground_found": world["ground_found"],
                  "camera_height_m": world.get("camera_height_m"),
                  "timings_s": {"load": round(t1 - t0, 3), "ground": round(t2 - t1, 3),
                                "write": round(time.perf_counter() - t2, 3)}}
