"""`python -m backend run INPUT --out DIR`: a video or image folder -> a Contract 3 result directory.

See backend/pipeline.py for the stages. Progress: stages load, decode|detect, features, regress,
write, each with done/total. Errors: INPUT_NOT_FOUND, INPUT_UNREADABLE, VIDEO_CORRUPT, VIDEO_EMPTY,
NO_PERSON, DATA_MISSING/DATA_INVALID/CHECKPOINT_INVALID (before decoding), OUT_OF_MEMORY,
OUTPUT_UNWRITABLE, BAD_ARGUMENT; nothing half-written is left behind.
"""

from __future__ import annotations

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
    parser.add_argument("input", help="video file, or folder of .png/.jpg frames (sorted by name)")
    parser.add_argument("--out", required=True, help="result directory (created; an older result is replaced "
                                                     "only when the new one is complete)")
    parser.add_argument("--bbox", default=None,
                        help="X,Y,W,H: one person's box in pixels (top-left, size) in every frame; "
                             "skips detection")
    parser.add_argument("--detector", default=None, help="ONNX person detector (default: the embedded one)")
    parser.add_argument("--start", type=int, default=0, help="first frame to process (0-based)")
    parser.add_argument("--end", type=int, default=None, help="stop before this frame (exclusive)")
    parser.add_argument("--focal", type=float, default=None,
                        help="camera focal length in pixels (default: the image diagonal, ~53 deg "
                             "field of view)")
    parser.add_argument("--smooth", default="none", choices=("none", "oneeuro", "slerp"),
                        help="temporal smoothing of rotations and translation (default none, as the "
                             "official demo)")
    parser.add_argument("--save-features", action="store_true",
                        help="add features (T,2048) to each track file")
    parser.add_argument("--main-person", default="none", choices=("none", "longest", "largest"),
                        help="keep only one person (default none: every person)")
    parser.add_argument("--min-track-length", type=int, default=25,
                        help="drop detected tracks shorter than this many frames (default 25, as the demo)")
    parser.add_argument("--batch-size", type=int, default=32, help="crops per backbone batch (default 32)")
    parser.add_argument("--regress-batch-size", type=int, default=64,
                        help="windows per TCMR batch (default 64)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of an image folder (default 30)")
    parser.add_argument("--engine", default="auto", choices=("auto", "torch", "onnxruntime"),
                        help="backbone engine (default auto: ONNX Runtime on CPU when installed, else torch; "
                             "torch on a GPU); see docs/performance.md")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "int8"),
                        help="backbone precision (default fp32; bf16 only with native support; int8 on CPU, "
                             "checked against fp32 on the clip's own crops)")


def config_from_args(args):
    from backend.pipeline import RunConfig

    return RunConfig(
        input=str(args.input), out=str(args.out), data_dir=args.data_dir, device=args.device,
        bbox=_bbox(args.bbox) if args.bbox else None, detector=args.detector, start=args.start, end=args.end,
        focal=args.focal, smooth=args.smooth, save_features=args.save_features, main_person=args.main_person,
        min_track_length=args.min_track_length, batch_size=args.batch_size,
        regress_batch_size=args.regress_batch_size, image_fps=args.fps,
        engine=getattr(args, "engine", "auto"), precision=getattr(args, "precision", "fp32"))


def execute(args, reporter):
    from backend.pipeline import run

    return run(config_from_args(args), reporter)
