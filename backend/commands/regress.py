"""`python -m backend regress FEATURES.npy --out OUT.npz [--verts]`: temporal model + regressor only.

FEATURES.npy holds one person's per-frame ResNet features (F,2048) float32, any F >= 1.
OUT.npz gets pose (F,72), betas (F,10), pred_cam (F,3), joints3d (F,49,3), confidence (F,24)
(backend.confidence, from the network alone) [+ verts (F,6890,3)],
written to a temporary file first and renamed, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from backend.errors import BackendError, Code
from backend.fileio import write_atomic

HELP = "run the temporal model (TCMR or VIBE) + regressor on precomputed (F,2048) features of one person"
NEEDS_DEVICE = True
FEATURE_DIM = 2048
OUTPUT_KEYS = ("pose", "betas", "pred_cam", "joints3d", "confidence")


def add_arguments(parser) -> None:
    parser.add_argument("features", help="per-frame features of one person: .npy, (F,2048) float32")
    parser.add_argument("--out", required=True, help="output .npz file")
    parser.add_argument("--verts", action="store_true", help="also write verts (F,6890,3)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="windows (TCMR) or frames (VIBE) per batch (default 64)")
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint of the model (default: the data folder's), e.g. from train")
    parser.add_argument("--engine", default="auto", choices=("auto", "torch", "onnxruntime"),
                        help="temporal stage engine (default auto: ONNX Runtime on CPU for TCMR when "
                             "installed, else torch; see docs/performance.md)")
    parser.add_argument("--model", default="tcmr", choices=("tcmr", "vibe"),
                        help="temporal model (default tcmr; vibe needs vibe_model_wo_3dpw.pth.tar, "
                             "see `check`)")


def load_features(path: str | Path) -> np.ndarray:
    """Read and validate a features file -> (F,2048) float32."""
    path = Path(path)
    hint = "Give a .npy file holding a (frames, 2048) float32 array, e.g. a track's `features` from " \
           "`run --save-features`."
    if not path.is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"features file not found: {path}", hint)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise BackendError(Code.INPUT_UNREADABLE, f"{path} is not a readable .npy array ({exc})",
                           hint) from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        with contextlib.suppress(Exception):
            array.close()
        raise BackendError(Code.INPUT_UNREADABLE, f"{path} is an .npz archive, not a single .npy array", hint)
    if array.ndim != 2 or array.shape[1] != FEATURE_DIM or array.shape[0] < 1:
        raise BackendError(Code.INPUT_UNREADABLE,
                           f"{path} has shape {array.shape}, expected (frames, {FEATURE_DIM})", hint)
    if not np.issubdtype(array.dtype, np.floating):
        raise BackendError(Code.INPUT_UNREADABLE, f"{path} has dtype {array.dtype}, expected float32", hint)
    array = array.astype(np.float32)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise BackendError(Code.INPUT_UNREADABLE,
                           f"{path} contains NaN or infinite values in {len(rows)} frame(s), "
                           f"first at frame {int(rows[0])}", hint)
    return array


def write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez to a temporary file in the same folder, then rename over `path`."""
    write_atomic(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")


def execute(args, reporter):
    from backend.datafiles import checkpoint_path
    from backend.device import resolve_device
    from backend.models.inference import regress_track
    from backend.models.loading import load_models

    if args.batch_size < 1:
        raise BackendError(Code.BAD_ARGUMENT, f"--batch-size must be >= 1, got {args.batch_size}",
                           "Use e.g. --batch-size 64.")
    from backend.fileio import npz_output

    out = npz_output(args.out, "result.npz")
    features = load_features(args.features)
    num_frames = features.shape[0]

    model = getattr(args, "model", "tcmr")
    reporter.stage("load", f"Loading the {model.upper()} model")
    models = load_models(args.data_dir, resolve_device(args.device), backbone=False, model=model,
                         checkpoint=checkpoint_path(args.checkpoint))
    if models.synthetic:
        reporter.warning("SYNTHETIC_DATA", f"the model data in {models.data_dir} is synthetic (random "
                                           "weights): the output is meaningless",
                         "Install the real model data (see `python -m backend check`).")

    from backend.engines import EngineConfig
    from backend.engines.temporal_choice import with_temporal_engine

    models = with_temporal_engine(models, EngineConfig(getattr(args, "engine", "auto")), reporter,
                                  frames=num_frames)
    reporter.stage("regress", f"Regressing SMPL for {num_frames} frames")
    result = regress_track(models, features, batch_size=args.batch_size, with_verts=args.verts,
                           progress=lambda done, total: reporter.progress("regress", done, total))

    from backend.confidence import track_confidence

    if "branch_rotmat" in result:  # TCMR's three branches (VIBE has none)
        result["confidence"] = track_confidence(result["branch_rotmat"])
    reporter.stage("write", f"Writing {out}")
    keys = OUTPUT_KEYS + (("verts",) if args.verts else ())
    write_npz_atomic(out, {k: result[k] for k in keys if k in result})
    return out.resolve(), {"frames": num_frames, "synthetic": models.synthetic, "model": models.model_name}
