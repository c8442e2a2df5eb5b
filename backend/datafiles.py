"""The model data folder: where it is and which files it must hold.

The folder uses the official TCMR `data/base_data` file names, so a user can point
`--data-dir` at an official `base_data` folder as it is. Order of precedence for the folder:
`--data-dir` > `$TCMR_DATA_DIR` > platformdirs' user data dir for "tcmr-mocap" (+ "/base_data").
The deep validation of each file lives with its loader (`backend.models.loading`); this
module only knows names, purposes and where a user gets each file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "tcmr-mocap"
ENV_DATA_DIR = "TCMR_DATA_DIR"

SMPL_SITE = "https://smplify.is.tue.mpg.de (SMPLify: basicModel_neutral_lbs_10_207_0_v1.0.0.pkl)"
TCMR_RELEASE = "the TCMR release (hongsukchoi/TCMR_RELEASE, scripts/get_base_data.sh -> base_data.zip)"


@dataclass(frozen=True)
class DataFile:
    name: str  # file name inside the data folder (official base_data name)
    purpose: str  # what it is used for
    source: str  # where a user gets it
    required_for: tuple[str, ...]  # commands that need it: "run", "regress", "evaluate"


SMPL_NEUTRAL = DataFile(
    "SMPL_NEUTRAL.pkl", "SMPL neutral body model (mesh, shape and pose blend shapes, skinning)",
    f"register and download from {SMPL_SITE}, rename it to SMPL_NEUTRAL.pkl",
    ("run", "regress", "evaluate"))
J_REGRESSOR_EXTRA = DataFile(
    "J_regressor_extra.npy", "9 extra joint regressors for the 49 TCMR joints", TCMR_RELEASE,
    ("run", "regress", "evaluate"))
J_REGRESSOR_H36M = DataFile(
    "J_regressor_h36m.npy", "Human3.6M joint regressor for the 14 evaluation joints", TCMR_RELEASE,
    ("evaluate",))
SMPL_MEAN_PARAMS = DataFile(
    "smpl_mean_params.npz", "mean pose/shape/camera that start the iterative regressor", TCMR_RELEASE,
    ("run", "regress", "evaluate"))
SPIN_CHECKPOINT = DataFile(
    "spin_model_checkpoint.pth.tar", "SPIN ResNet-50 backbone weights (image features)", TCMR_RELEASE,
    ("run",))
TCMR_CHECKPOINT = DataFile(
    "tcmr_demo_model.pth.tar", "TCMR temporal encoder and regressor weights", TCMR_RELEASE,
    ("run", "regress", "evaluate"))

ALL_FILES: tuple[DataFile, ...] = (
    SMPL_NEUTRAL, J_REGRESSOR_EXTRA, J_REGRESSOR_H36M, SMPL_MEAN_PARAMS, SPIN_CHECKPOINT, TCMR_CHECKPOINT,
)

# Optional files: not needed by the default TCMR model, so `check` reports them without failing.
VIBE_RELEASE = ("the VIBE release (mkocabas/VIBE: demo.py downloads it via lib/utils/demo_utils.py "
                "download_ckpt into data/vibe_data/)")
VIBE_CHECKPOINT = DataFile(
    "vibe_model_wo_3dpw.pth.tar", "VIBE temporal encoder and regressor weights (--model vibe; the "
    "official demo's model, trained without 3DPW)", VIBE_RELEASE, ())
VIBE_CHECKPOINT_3DPW = DataFile(
    "vibe_model_w_3dpw.pth.tar", "VIBE weights trained with 3DPW (--model vibe uses it when the "
    "wo_3dpw file is absent)", VIBE_RELEASE, ())
OPTIONAL_FILES: tuple[DataFile, ...] = (VIBE_CHECKPOINT, VIBE_CHECKPOINT_3DPW)


def vibe_checkpoint(folder: Path) -> Path:
    """The VIBE checkpoint `--model vibe` uses in a data folder: the demo's vibe_model_wo_3dpw,
    else vibe_model_w_3dpw (the path of the former when neither exists)."""
    for file in OPTIONAL_FILES:
        if (folder / file.name).is_file():
            return folder / file.name
    return folder / VIBE_CHECKPOINT.name


# The lifting route's checkpoint: used by `lift` when present (or given with --checkpoint); the
# SMPL route never needs it, so `check` lists it as optional (absent: no failure).
VIDEOPOSE3D_CHECKPOINT = DataFile(
    "pretrained_h36m_detectron_coco.bin", "VideoPose3D 2D->3D lifting model for COCO keypoints (`lift`)",
    "the VideoPose3D release (facebookresearch/VideoPose3D INFERENCE.md, 'Inference in the wild': "
    "https://dl.fbaipublicfiles.com/video-pose-3d/pretrained_h36m_detectron_coco.bin), unchanged", ("lift",))

# Every optional file `check` reports, and what each one is for.
CHECKED_OPTIONAL_FILES: tuple[DataFile, ...] = (*OPTIONAL_FILES, VIDEOPOSE3D_CHECKPOINT)
OPTIONAL_USE = {VIBE_CHECKPOINT.name: "--model vibe", VIBE_CHECKPOINT_3DPW.name: "--model vibe",
                VIDEOPOSE3D_CHECKPOINT.name: "`lift` (or pass lift --checkpoint PATH)"}


def default_data_dir() -> Path:
    """$TCMR_DATA_DIR if set, else the per-user data folder (platformdirs) + /base_data."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "base_data"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The data folder a command should use; accepts a TCMR checkout's `data` folder too."""
    path = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if not (path / SMPL_NEUTRAL.name).exists() and (path / "base_data").is_dir():
        path = path / "base_data"
    elif not (path / SMPL_NEUTRAL.name).exists() and (path / "vibe_data").is_dir():
        path = path / "vibe_data"  # a VIBE checkout's `data` folder
    return path.resolve()


def files_for(command: str) -> tuple[DataFile, ...]:
    return tuple(f for f in ALL_FILES if command in f.required_for)


def checkpoint_path(checkpoint: str | os.PathLike | None) -> Path | None:
    """`--checkpoint PATH` of run/regress -> the resolved file, or None for the folder's default."""
    if not checkpoint:
        return None
    from backend.errors import BackendError, Code

    path = Path(checkpoint).expanduser().resolve()
    if not path.is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"checkpoint not found: {path}",
                           "Pass a TCMR checkpoint's path, e.g. a `train` run's checkpoint_best.pth.tar.")
    return path
