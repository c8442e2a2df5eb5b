"""`python -m backend run INPUT --out DIR`: a video or image folder -> a result directory (docs/contracts.md).

See backend/pipeline.py for the stages. Progress: stages load, decode|detect, features, regress,
write, each with done/total. Errors: INPUT_NOT_FOUND, INPUT_UNREADABLE, VIDEO_CORRUPT, VIDEO_EMPTY,
NO_PERSON, DATA_MISSING/DATA_INVALID/CHECKPOINT_INVALID (before decoding), OUT_OF_MEMORY,
OUTPUT_UNWRITABLE, OUTPUT_BUSY (another run holds --out), BAD_ARGUMENT; nothing half-written is left behind
and an older result in --out stays as it was until the new one replaces it in one rename.
"""

from __future__ import annotations

from backend import run_options
from backend.errors import BackendError, Code

HELP = "reconstruct every person of a video (or image folder) as SMPL motion: writes a result directory"
NEEDS_DEVICE = True


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise BackendError(Code.BAD_ARGUMENT, f"--bbox needs four numbers X,Y,W,H, got '{text}'",
                           "E.g. --bbox 100,50,200,400 (pixels: top-left x, y, width, height).")
    return values  # type: ignore[return-value]


def add_arguments(parser) -> None:
    """The options of backend/run_options.json (names, types, defaults, choices, help)."""
    run_options.add_arguments(parser)


def config_from_args(args):
    from backend.pipeline import RunConfig

    values = {opt.name: getattr(args, opt.dest) for opt in run_options.OPTIONS.values()}
    values["input"], values["out"] = str(values["input"]), str(values["out"])
    values["bbox"] = _bbox(args.bbox) if args.bbox else None
    return RunConfig(data_dir=args.data_dir, device=args.device, **values)


def execute(args, reporter):
    from backend.pipeline import run

    return run(config_from_args(args), reporter)
