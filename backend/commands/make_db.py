"""`python -m backend make-db RESULT_DIR [...] --out DB.pt [--keypoints JSON ...] [--smpl-labels]`.

Builds a training database ("custom" kind, official key names) from `run --save-features`
result directories and optional 2D keypoints, for `train --db DB.pt`. See backend/training/owndb.py
and docs/training.md. Nothing is written unless the whole database could be built.
"""

from __future__ import annotations

from pathlib import Path

from backend.errors import BackendError, Code

HELP = "make a training database from your own result directories (run --save-features) + 2D keypoints"
NEEDS_DEVICE = False


def add_arguments(p) -> None:
    p.add_argument("results", nargs="+", help="result directories written by `run --save-features`")
    p.add_argument("--out", required=True, help="database file to write (e.g. my_clips_db.pt)")
    p.add_argument("--keypoints", action="append", default=None,
                   help="2D keypoint JSON per result directory, in the same order (default: "
                        "keypoints_2d.json inside each result directory, when present)")
    p.add_argument("--smpl-labels", action="store_true",
                   help="also store the result's own pose/shape/3D joints as (pseudo) labels")


def execute(args, reporter):
    from backend.training import owndb

    results = [Path(r).expanduser().resolve() for r in args.results]
    for r in results:
        if not r.is_dir():
            raise BackendError(Code.INPUT_NOT_FOUND, f"result directory not found: {r}",
                               "Pass folders written by `python -m backend run ... --save-features`.")
    kps = [Path(k).expanduser() for k in args.keypoints] if args.keypoints else [None] * len(results)
    if len(kps) != len(results):
        raise BackendError(Code.BAD_ARGUMENT, f"{len(kps)} --keypoints file(s) for {len(results)} result "
                           "directories", "Give one --keypoints per result directory, in order.")
    for k in kps:
        if k is not None and not k.is_file():
            raise BackendError(Code.INPUT_NOT_FOUND, f"keypoint file not found: {k}",
                               "Check the --keypoints path.")
    out = Path(args.out).expanduser().resolve()
    if out.is_dir():
        raise BackendError(Code.OUTPUT_UNWRITABLE, f"--out {out} is a folder",
                           "Give a file name such as my_db.pt.")
    reporter.stage("read", f"Reading {len(results)} result director{'y' if len(results) == 1 else 'ies'}")
    db = owndb.build(results, kps, args.smpl_labels)
    reporter.stage("write", f"Writing {out.name}")
    owndb.write(out, db)
    return out, {"rows": len(db["vid_name"]), "videos": len(set(db["vid_name"].tolist())),
                 "smpl_labels": bool(args.smpl_labels)}
