"""`python -m backend edit RESULT --out DIR [--merge A,B] [--split A@FRAME] [--swap A,B@FRAME] [--delete A]`.

Writes a new complete result directory (backend.result.ResultWriter, atomic); RESULT is never
changed. Edits apply in the order given; each may be repeated. Frames near a seam are re-solved
with TCMR from the saved features (backend/track_edit.py, docs/confidence_and_editing.md).
Errors: INPUT_NOT_FOUND, RESULT_INVALID, RESULT_TOO_NEW, BAD_ARGUMENT (missing tracks, overlapping
tracks for a merge, a frame outside a track), FEATURES_MISSING; nothing is written on error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.errors import BackendError, Code

HELP = "merge, split, swap or delete tracks of a result: writes a new result directory"
NEEDS_DEVICE = True


def _ids(text: str, count: int, flag: str) -> list[int]:
    try:
        ids = [int(v) for v in text.split(",")]
    except ValueError:
        ids = []
    if len(ids) != count:
        raise BackendError(Code.BAD_ARGUMENT, f"{flag} needs {count} track id(s), got '{text}'",
                           "E.g. --merge 1,2  --split 1@120  --swap 1,2@120  --delete 3.")
    return ids


def _parser(kind: str, count: int, with_frame: bool):
    from backend.track_edit import Edit

    def parse(text: str) -> Edit:
        frame = None
        if with_frame:
            ids_text, _, frame_text = text.partition("@")
            try:
                frame = int(frame_text)
            except ValueError:
                raise BackendError(Code.BAD_ARGUMENT, f"--{kind} needs ...@FRAME, got '{text}'",
                                   "E.g. --split 1@120 (a 0-based video frame).") from None
        else:
            ids_text = text
        ids = _ids(ids_text, count, f"--{kind}")
        return Edit(kind, ids[0], ids[1] if count == 2 else None, frame)

    parse.__name__ = kind
    return parse


def add_arguments(parser) -> None:
    parser.add_argument("result", help="a result directory written by `run` (with --save-features for "
                                       "merge, split and swap)")
    parser.add_argument("--out", required=True, help="the new result directory (not RESULT itself)")
    for kind, count, frame, text in (("merge", 2, False, "A,B: join two tracks of one person"),
                                     ("split", 1, True, "A@FRAME: cut track A; FRAME starts a new track"),
                                     ("swap", 2, True, "A,B@FRAME: exchange A's and B's rows from FRAME"),
                                     ("delete", 1, False, "A: remove track A")):
        parser.add_argument(f"--{kind}", dest="edits", action="append", type=_parser(kind, count, frame),
                            default=argparse.SUPPRESS, metavar=text.split(":")[0], help=text)
    parser.add_argument("--batch-size", type=int, default=64, help="windows per TCMR batch (default 64)")


def execute(args, reporter):
    from backend.result import ResultWriter
    from backend.track_edit import apply_edits, drop_world, load_result, track_entry, validate

    edits = list(getattr(args, "edits", []))
    if not edits:
        raise BackendError(Code.BAD_ARGUMENT, "no edit given",
                           "Add --merge A,B, --split A@FRAME, --swap A,B@FRAME or --delete A.")
    result = load_result(args.result)
    out = Path(args.out).expanduser().resolve()
    if out == result.path:
        raise BackendError(Code.BAD_ARGUMENT, "--out is the input result", "Choose a new --out folder; the "
                                                                          "input result is never changed.")
    validate(result, edits)  # every coded error before the model loads or anything is written
    regress, rest = _network(args, reporter) if any(e.needs_network for e in edits) else (None, None)
    reporter.stage("edit", f"Applying {len(edits)} edit(s)")
    tracks = apply_edits(result, edits, regress, rest,
                         progress=lambda done, total: reporter.progress("edit", done, total))
    smooth = (result.meta.get("config") or {}).get("smooth", "none")
    if smooth != "none" and regress is not None:
        reporter.warning("EDIT_UNSMOOTHED", f"the result was smoothed ({smooth}); re-solved rows near the "
                                            "seams are not", "Nothing to do unless the seam shows.")
    meta = dict(result.meta)
    if regress is not None and drop_world(meta, tracks):
        reporter.warning("EDIT_UNGROUNDED", "the result was grounded in a world; the edited result is in "
                                            "the camera frame only (its world keys would be stale)",
                         f"Run `python -m backend ground {out} --out DIR` to ground it again.")
    reporter.stage("write", f"Writing {len(tracks)} track(s) to {out}")
    meta["edited"] = {"from": str(result.path), "edits": [str(e) for e in edits]}
    with ResultWriter(out) as writer:
        entries = []
        for n, (track_id, arrays) in enumerate(sorted(tracks.items()), start=1):
            entries.append(track_entry(track_id, arrays, writer.write_track(track_id, arrays)))
            reporter.progress("write", n, len(tracks))
        meta["tracks"] = entries
        out_dir = writer.commit(meta)
    return out_dir, {"tracks": len(tracks), "edits": [str(e) for e in edits]}


def _network(args, reporter):
    """-> (regress(features) -> regress_track outputs, rest(betas) -> joints_rest)."""
    from backend.device import resolve_device
    from backend.models.inference import regress_track
    from backend.models.loading import load_models
    from backend.models.smpl import rest_joints

    reporter.stage("load", "Loading the TCMR model")
    models = load_models(args.data_dir, resolve_device(args.device), backbone=False)
    if models.synthetic:
        reporter.warning("SYNTHETIC_DATA", f"the model data in {models.data_dir} is synthetic (random "
                                           "weights): re-solved rows are meaningless",
                         "Install the real model data (see `python -m backend check`).")
    return (lambda feats: regress_track(models, feats, batch_size=args.batch_size),
            lambda betas: rest_joints(models.smpl_data, betas))
