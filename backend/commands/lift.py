"""`python -m backend lift KEYPOINTS --out OUT.npz`: 2D COCO keypoints -> 3D H36M joints (VideoPose3D).

The second route (docs/lifting.md): no images, no SMPL; the official in-the-wild inference of
VideoPose3D (backend.lifting.inference) with its released COCO checkpoint, read strictly.
OUT.npz holds pose (T,17,3) root-relative m, trajectory (T,3) m (only when the checkpoint has a
trajectory model), joints3d (T,17,3) camera-space m (pose + trajectory), joint_names (17,),
parents (17,), keypoints (T,17,2) px as lifted (missing ones filled), confidence (T,17) (NaN
when the input has none), missing (T,17) bool (filled by interpolation), width, height, fps,
flip, has_trajectory, synthetic. With --fit-smpl (or --smpl-out DIR) also the SMPL body fitted
to the joints (backend.lifting.smpl_fit): `smpl_*` keys, and with --smpl-out a result directory
that Import Result drives an SMPL character with (backend.lifting.smpl_result).
Written atomically: a failed run leaves nothing behind.
Stages: load, lift, fit (with the SMPL fit), write. Warnings: KEYPOINTS_FILLED, SYNTHETIC_DATA.
Errors: INPUT_NOT_FOUND, INPUT_UNREADABLE, KEYPOINTS_INVALID, BAD_ARGUMENT, DATA_MISSING,
DATA_INVALID, CHECKPOINT_INVALID, OUTPUT_UNWRITABLE, OUTPUT_BUSY (--smpl-out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.errors import BackendError, Code
from backend.fileio import write_atomic

# Mean focal length / image width of the four Human3.6M cameras (VideoPose3D h36m_dataset.py:
# fx 1145.0, 1149.7, 1149.1, 1145.5 px at 1000 px width): the trajectory model learned depth for them.
H36M_FOCAL_PER_WIDTH = 1.147
HELP = "lift 2D COCO keypoints (array, COCO JSON or OpenPose folder) to 3D H36M joints with VideoPose3D"
NEEDS_DEVICE = True


def add_arguments(parser) -> None:
    parser.add_argument("keypoints",
                        help="(T,17,2|3) .npy/.npz, COCO keypoint JSON, or an OpenPose JSON folder")
    parser.add_argument("--out", required=True, help="output .npz file")
    parser.add_argument("--width", type=float, default=None,
                        help="image width in pixels (when the file has none)")
    parser.add_argument("--height", type=float, default=None, help="image height in pixels")
    parser.add_argument("--fps", type=float, default=30.0,
                        help="frame rate stored for the import (default 30)")
    parser.add_argument("--focal", type=float, default=None,
                        help="camera focal length in pixels stored for the import (default: 1.147 x width, "
                             "the Human3.6M cameras the trajectory was trained on)")
    parser.add_argument("--no-flip", action="store_true", help="no test-time flip augmentation")
    parser.add_argument("--min-confidence", type=float, default=0.1,
                        help="keypoints below this confidence are treated as missing (default 0.1)")
    parser.add_argument("--checkpoint", default=None,
                        help="VideoPose3D checkpoint (default: pretrained_h36m_detectron_coco.bin of the "
                             "model data folder)")
    parser.add_argument("--fit-smpl", action="store_true",
                        help="also fit SMPL to the lifted joints (needs SMPL_NEUTRAL.pkl and "
                             "J_regressor_h36m.npy in the model data folder); adds smpl_* keys")
    parser.add_argument("--smpl-out", default=None,
                        help="with the fit: also write it as a result directory for Import Result "
                             "(implies --fit-smpl; needs J_regressor_extra.npy too)")
    parser.add_argument("--smpl-prior", default=None,
                        help="with the fit: a result track file (track_<id>.npz of `run` on the same video) "
                             "whose body pose steers what the joints leave open (limb twist, hands, feet)")
    parser.add_argument("--smpl-iterations", type=int, default=300,
                        help="L-BFGS iterations of the SMPL fit (default 300)")


def image_size(args, file_w: float | None, file_h: float | None) -> tuple[float, float]:
    """--width/--height override the file's size; both must end up known and > 0."""
    width = args.width if args.width is not None else file_w
    height = args.height if args.height is not None else file_h
    if width is None or height is None:
        raise BackendError(Code.BAD_ARGUMENT,
                           "the image size is unknown: this keypoint file does not carry it",
                           "Give --width and --height in pixels (the video's frame size).")
    if not (width > 0 and height > 0):
        raise BackendError(Code.BAD_ARGUMENT, f"image size must be > 0, got {width} x {height}",
                           "Give the video's frame size in pixels.")
    return float(width), float(height)


def checkpoint_path(args) -> Path:
    from backend.datafiles import VIDEOPOSE3D_CHECKPOINT, resolve_data_dir

    if args.checkpoint:
        return Path(args.checkpoint).expanduser().resolve()
    return resolve_data_dir(args.data_dir) / VIDEOPOSE3D_CHECKPOINT.name


def _check_options(args) -> Path:
    from backend.fileio import npz_output

    out = npz_output(args.out, "lifted.npz")
    if not args.fps > 0:
        raise BackendError(Code.BAD_ARGUMENT, f"--fps must be > 0, got {args.fps}",
                           "Use the video's frame rate.")
    if args.focal is not None and not args.focal > 0:
        raise BackendError(Code.BAD_ARGUMENT, f"--focal must be > 0 pixels, got {args.focal}",
                           "Leave it out to use the Human3.6M-like default.")
    if args.smpl_iterations < 1:
        raise BackendError(Code.BAD_ARGUMENT, f"--smpl-iterations must be >= 1, got {args.smpl_iterations}",
                           "Use e.g. 300.")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise BackendError(Code.BAD_ARGUMENT,
                           f"--min-confidence must be in [0, 1], got {args.min_confidence}",
                           "Use e.g. 0.1.")
    return out


def execute(args, reporter):
    from backend.device import resolve_device
    from backend.lifting.checkpoint import build_models, load_lift_weights
    from backend.lifting.inference import lift
    from backend.lifting.keypoints import read_keypoints
    from backend.lifting.skeleton import H36M_NAMES, H36M_PARENTS
    from backend.synthetic import is_synthetic

    out = _check_options(args)
    reporter.stage("load", f"Reading {args.keypoints}")
    kp = read_keypoints(args.keypoints, args.min_confidence)
    width, height = image_size(args, kp.width, kp.height)
    filled = int(kp.missing.sum())
    if filled:
        reporter.warning("KEYPOINTS_FILLED", f"{filled} missing or low-confidence keypoint(s) in "
                         f"{int(kp.missing.any(axis=1).sum())} frame(s) were interpolated",
                         "They are flagged in `missing` of the output.")
    ckpt = checkpoint_path(args)
    weights = load_lift_weights(ckpt)
    synthetic = is_synthetic(ckpt.parent)
    if synthetic:
        reporter.warning("SYNTHETIC_DATA", f"{ckpt} is synthetic (random weights): the output is meaningless",
                         "Install the real VideoPose3D checkpoint (docs/lifting.md).")
    device = resolve_device(args.device)
    pos_model, traj_model = build_models(weights, device=device)
    reporter.progress("load", 1, 1)
    frames = kp.xy.shape[0]
    reporter.stage("lift", f"Lifting {frames} frames")
    result = lift(kp.xy, width, height, pos_model, traj_model, flip=not args.no_flip, device=device)
    reporter.progress("lift", frames, frames)
    arrays = {"pose": result.pose.astype(np.float32), "joints3d": result.joints3d.astype(np.float32),
              "joint_names": np.array(H36M_NAMES), "parents": np.array(H36M_PARENTS, dtype=np.int32),
              "keypoints": kp.xy.astype(np.float32), "confidence": kp.confidence.astype(np.float32),
              "missing": kp.missing, "width": np.float64(width), "height": np.float64(height),
              "fps": np.float64(args.fps),
              "focal_px": np.float64(args.focal if args.focal else H36M_FOCAL_PER_WIDTH * width),
              "flip": np.bool_(not args.no_flip),
              "has_trajectory": np.bool_(result.trajectory is not None), "synthetic": np.bool_(synthetic),
              "source_format": np.array(kp.source_format)}
    if result.trajectory is not None:
        arrays["trajectory"] = result.trajectory.astype(np.float32)
    fit = _fit_smpl(args, reporter, result.joints3d, synthetic) if args.fit_smpl or args.smpl_out else None
    fields = {}
    if fit is not None:
        arrays.update(fit.arrays)
        fields["smpl_fit_mpjpe_mm"] = float(fit.fit.mpjpe_mm.mean())
    reporter.stage("write", f"Writing {out}")
    write_atomic(out, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")
    if args.smpl_out:  # after OUT.npz: the result directory is the optional extra
        video = {"path": str(Path(args.keypoints).resolve()), "fps": float(args.fps), "width": width,
                 "height": height}
        config = {"route": "lift", "keypoints": video["path"], "smpl_iterations": args.smpl_iterations}
        focal = float(arrays["focal_px"])
        path = fit.write_result(args.smpl_out, kp.xy, video, focal, args.focal is not None, config)
        fields["smpl_result"] = str(path)
    return out.resolve(), {"frames": frames, "trajectory": result.trajectory is not None,
                           "filled_keypoints": filled, "synthetic": synthetic, "format": kp.source_format,
                           **fields}


def _fit_smpl(args, reporter, joints3d, synthetic):
    """The SMPL fit of the lifted joints (backend.lifting.smpl_result.FittedBody)."""
    from backend import datafiles
    from backend.lifting.smpl_fit import FitConfig, fit_smpl
    from backend.lifting.smpl_result import FittedBody
    from backend.models.loading import load_regressor_npy
    from backend.smpl_file import load_smpl
    from backend.synthetic import is_synthetic

    folder = datafiles.resolve_data_dir(args.data_dir)
    smpl = load_smpl(folder / datafiles.SMPL_NEUTRAL.name)
    h36m = load_regressor_npy(folder / datafiles.J_REGRESSOR_H36M.name, 17)
    extra = load_regressor_npy(folder / datafiles.J_REGRESSOR_EXTRA.name, 9) if args.smpl_out else None
    if is_synthetic(folder) and not synthetic:
        reporter.warning("SYNTHETIC_DATA", f"{folder} holds SYNTHETIC SMPL data: the fitted body is "
                         "meaningless",
                         "Install the real SMPL model and TCMR base data for real results.")
    frames = len(joints3d)
    reporter.stage("fit", f"Fitting SMPL to {frames} frames of lifted joints")
    prior = read_prior(args.smpl_prior, frames) if args.smpl_prior else None
    fit = fit_smpl(smpl, h36m, joints3d, FitConfig(iterations=args.smpl_iterations), prior_pose=prior,
                   progress=lambda done, total: reporter.progress("fit", done, total))
    return FittedBody(fit, smpl, extra, synthetic or is_synthetic(folder))


def read_prior(path: str, frames: int) -> np.ndarray:
    """(frames,72) pose of a Contract 3 track file for keypoint frames 0..frames-1 (its
    frame_index rows); BackendError when it is unreadable or misses a frame."""
    hint = "Give a track_<id>.npz of a `run` result on the same video (its frames numbered as the keypoints)."
    try:
        with np.load(Path(path).expanduser(), allow_pickle=False) as data:
            index = np.asarray(data["frame_index"], dtype=np.int64)
            root = np.asarray(data["global_orient"], dtype=np.float64).reshape(-1, 1, 3)
            body = np.asarray(data["body_pose"], dtype=np.float64).reshape(-1, 23, 3)
            pose = np.concatenate([root, body], axis=1)
    except FileNotFoundError:
        raise BackendError(Code.INPUT_NOT_FOUND, f"--smpl-prior file not found: {path}", hint) from None
    except (OSError, ValueError, KeyError) as exc:
        raise BackendError(Code.INPUT_UNREADABLE, f"--smpl-prior {path} is not a result track file ({exc})",
                           hint) from None
    if len(index) != len(pose):
        raise BackendError(Code.INPUT_UNREADABLE, f"--smpl-prior {path}: {len(index)} frame numbers for "
                           f"{len(pose)} poses", hint)
    rows = {int(f): r for r, f in enumerate(index)}
    missing = [t for t in range(frames) if t not in rows]
    if missing:
        raise BackendError(Code.BAD_ARGUMENT, f"--smpl-prior {path} has no pose for {len(missing)} of the "
                           f"{frames} keypoint frames (first: frame {missing[0]})", hint)
    return pose[[rows[t] for t in range(frames)]].reshape(frames, 72)
