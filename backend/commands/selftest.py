"""`python -m backend selftest`: prove this installation works end to end, on SYNTHETIC data.

It writes a synthetic model data folder (backend.synthetic: official formats, random weights,
made-up body) into a temporary folder and runs the real code on it: `check` -> load models ->
a few synthetic frames through the ResNet-50 backbone and TCMR -> the SMPL layer. It never
reads the user's model data and never produces a usable result, so a failure here means the
installation (Python, torch, packages, this backend) is broken, while a pass followed by a
failing `check` means only the model data is missing. Every line it prints and its result are
labelled SYNTHETIC.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from backend.errors import BackendError, Code

HELP = "prove the installation end to end on SYNTHETIC model files (never real output)"
NEEDS_DEVICE = True
LABEL = "[SYNTHETIC selftest]"


def add_arguments(parser) -> None:
    parser.add_argument("--frames", type=int, default=20,
                        help="synthetic frames pushed through the network "
                             "(>= 17 uses a real 16-frame window)")


def _check(data_dir: Path, reporter) -> dict:
    """Run the real `check` command's code on the synthetic folder."""
    from backend.cli import add_common_arguments
    from backend.commands import check
    from backend.events import NullReporter

    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    check.add_arguments(parser)
    args = parser.parse_args(["--data-dir", str(data_dir)])
    _path, fields = check.execute(args, NullReporter())
    return fields


def execute(args, reporter):
    import torch

    from backend.device import resolve_device
    from backend.synthetic import is_synthetic, write_model_data

    if args.frames < 1 or args.frames > 200:
        raise BackendError(Code.BAD_ARGUMENT, f"--frames must be 1..200, not {args.frames}",
                           "Use e.g. --frames 20.")
    device = resolve_device(args.device)
    say = reporter.log
    timings = {}
    say(f"{LABEL} model files are SYNTHETIC (random weights): this checks the software, not your data")
    with tempfile.TemporaryDirectory(prefix="tcmr-selftest-") as tmp:
        data = Path(tmp) / "base_data"
        t0 = time.monotonic()
        reporter.stage("synthetic_data", f"{LABEL} writing SYNTHETIC model files")
        write_model_data(data, seed=0)
        timings["write_synthetic_data_s"] = time.monotonic() - t0
        say(f"{LABEL} wrote SYNTHETIC model files in {timings['write_synthetic_data_s']:.1f} s")

        t0 = time.monotonic()
        reporter.stage("check", f"{LABEL} check on the SYNTHETIC folder")
        _check(data, reporter)
        timings["check_s"] = time.monotonic() - t0
        say(f"{LABEL} check passed on the SYNTHETIC folder")

        t0 = time.monotonic()
        reporter.stage("load", f"{LABEL} loading SYNTHETIC models on {device}")
        from backend.models.loading import load_models

        models = load_models(data, device, backbone=True)
        if not models.synthetic or not is_synthetic(data):
            raise BackendError(Code.INTERNAL, "selftest models are not flagged synthetic",
                               "This is a bug: the selftest must only ever run on synthetic files.")
        timings["load_s"] = time.monotonic() - t0
        say(f"{LABEL} loaded SYNTHETIC models in {timings['load_s']:.1f} s")

        t0 = time.monotonic()
        reporter.stage("features", f"{LABEL} {args.frames} SYNTHETIC frames through the backbone")
        rng = np.random.default_rng(0)
        crops = rng.standard_normal((args.frames, 3, 224, 224)).astype(np.float32)  # (F,3,224,224)
        crops = torch.from_numpy(crops)
        feats = []
        with torch.no_grad():
            for i in range(0, args.frames, 8):
                feats.append(models.backbone(crops[i:i + 8].to(device)).float().cpu().numpy())  # (B,2048)
                reporter.progress("features", min(i + 8, args.frames), args.frames)
        features = np.concatenate(feats)  # (F,2048)
        _expect(features, (args.frames, 2048), "backbone features")
        timings["backbone_s"] = time.monotonic() - t0

        t0 = time.monotonic()
        reporter.stage("regress", f"{LABEL} TCMR + SMPL on SYNTHETIC features")
        from backend.models.inference import regress_track
        from backend.models.smpl import rest_joints

        out = regress_track(models, features, batch_size=8, with_verts=True)
        n = args.frames
        for key, shape in (("pose", (n, 72)), ("betas", (n, 10)), ("pred_cam", (n, 3)),
                           ("joints3d", (n, 49, 3)), ("verts", (n, 6890, 3))):
            _expect(out.get(key), shape, f"TCMR output '{key}'")
        joints = np.asarray(rest_joints(models.smpl_data, out["betas"].mean(0)))
        _expect(joints, (24, 3), "SMPL rest joints")
        timings["regress_smpl_s"] = time.monotonic() - t0
        say(f"{LABEL} TCMR + SMPL ran on {n} SYNTHETIC frames in {timings['regress_smpl_s']:.1f} s")

    summary = (f"SYNTHETIC selftest passed on {device}: the installation works "
               "(run `check` to test your real model data)")
    say(f"{LABEL} {summary}")
    return "", {"synthetic": True, "summary": summary, "device": str(device), "frames": n,
                "torch": torch.__version__, "timings_s": {k: round(v, 2) for k, v in timings.items()}}


def _expect(array, shape: tuple, what: str) -> None:
    if array is None or tuple(np.shape(array)) != shape:
        raise BackendError(Code.INTERNAL, f"selftest: {what} has shape {np.shape(array)}, expected {shape}",
                           "The installation is broken: reinstall the backend environment and report this.")
    if not np.all(np.isfinite(array)):
        raise BackendError(Code.INTERNAL, f"selftest: {what} holds NaN or infinite values",
                           "The installation is broken (torch build?): recreate the backend environment.")
