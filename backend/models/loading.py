"""Load everything the network needs from a model data folder -> `Models`.

Files (official `data/base_data` names, see backend.datafiles):
    tcmr_demo_model.pth.tar        gen_state_dict -> temporal encoder + regressor (incl. init_*)
    spin_model_checkpoint.pth.tar  model -> ResNet-50 trunk (only with backbone=True)
    SMPL_NEUTRAL.pkl               SMPL layer (replaces the checkpoint's regressor.smpl copy)
    J_regressor_extra.npy          (9, V) rows for the 49 joints
    J_regressor_h36m.npy           (17, V) evaluation regressor (optional here: None if absent)
    vibe_model_wo_3dpw.pth.tar     (--model vibe, optional file) gen_state_dict -> VIBE's GRU
                                   encoder + regressor; else vibe_model_w_3dpw.pth.tar
`smpl_mean_params.npz` is validated by `check` but not read: the checkpoint's init_* buffers
overwrite it in the official code too.

Every problem raises one BackendError naming the file and the problem.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from backend import datafiles
from backend.errors import BackendError, Code
from backend.models.checkpoint import load_backbone_state, load_tcmr_state, load_vibe_state
from backend.models.resnet import ResNet50Trunk
from backend.models.smpl import SmplLayer
from backend.models.tcmr import TCMR
from backend.models.vibe import VIBE
from backend.smpl_file import NUM_VERTS, SmplData, load_smpl
from backend.synthetic import is_synthetic

PRECISIONS = ("fp32", "bf16", "fp16")
TEMPORAL_MODELS = ("tcmr", "vibe")  # --model: which temporal network runs on the features


@dataclass(frozen=True)
class ModelConfig:
    """How the network runs. fp32 everywhere is the default and the reference.

    backbone_precision: autocast dtype for the ResNet (bf16 on CPU or CUDA, fp16 on CUDA only);
                        the temporal model, regressor and SMPL always run in fp32.
    channels_last:      memory format of the ResNet (a speed option, mostly for CUDA).
    allow_tf32:         let CUDA matmuls/convs/RNNs use TF32 (faster on Ampere+, ~1e-3 relative
                        deviations, see docs/tcmr_facts.md). Off by default.
    """

    backbone_precision: str = "fp32"
    channels_last: bool = False
    allow_tf32: bool = False

    def __post_init__(self) -> None:
        if self.backbone_precision not in PRECISIONS:
            raise BackendError(Code.BAD_ARGUMENT, f"unknown backbone precision '{self.backbone_precision}'",
                               f"Use one of {', '.join(PRECISIONS)}.")


@dataclass
class Models:
    """The loaded network, ready for `backend.models.inference`.

    Exactly one temporal model is loaded: `tcmr` (model_name "tcmr") or `vibe` ("vibe")."""

    tcmr: TCMR | None
    smpl: SmplLayer
    smpl_data: SmplData
    backbone: ResNet50Trunk | None
    device: torch.device
    synthetic: bool
    data_dir: Path
    config: ModelConfig = field(default_factory=ModelConfig)
    j_regressor_h36m: np.ndarray | None = None  # (17, V) float64 when the file is there
    vibe: VIBE | None = None
    model_name: str = "tcmr"  # one of TEMPORAL_MODELS
    checkpoint: Path | None = None  # the temporal model's checkpoint file
    # TCMR's temporal stage on another engine (backend.engines.temporal_choice); None: torch
    temporal: object | None = None


class _NpyShape(ValueError):
    """A .npy header that announces another shape or more data than the file holds."""


def _check_npy_header(path: Path, shape: tuple[int, ...]) -> None:
    """Read only the .npy header: the announced shape must be `shape` and the data must fit in the
    file, so a header that claims terabytes is refused before anything is allocated."""
    with path.open("rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        found, _, dtype = read_header(f)
        offset = f.tell()
    if tuple(found) != shape:
        raise _NpyShape(f"shape {tuple(found)}, expected {shape}")
    needed = offset + int(np.prod(found, dtype=np.int64)) * dtype.itemsize
    if dtype.hasobject or needed > path.stat().st_size:
        raise _NpyShape(f"the header announces {needed} bytes of {dtype} but the file has "
                        f"{path.stat().st_size}")


def load_regressor_npy(path: Path, rows: int) -> np.ndarray:
    """J_regressor_extra.npy (9,V) / J_regressor_h36m.npy (17,V) -> float64 array."""
    hint = (f"Put the official {path.name} (TCMR base_data.zip) into {path.parent}; "
            "run `python -m backend check` to verify.")
    if not path.is_file():
        raise BackendError(Code.DATA_MISSING, f"{path} not found", hint)
    try:
        _check_npy_header(path, (rows, NUM_VERTS))
        array = np.load(path, allow_pickle=False)
    except _NpyShape as exc:
        raise BackendError(Code.DATA_INVALID, f"{path}: {exc}", hint) from None
    except (ValueError, OSError, EOFError, MemoryError) as exc:
        raise BackendError(Code.DATA_INVALID, f"{path}: not a readable .npy array ({exc})", hint) from None
    if not isinstance(array, np.ndarray) or array.shape != (rows, NUM_VERTS):
        shape = getattr(array, "shape", "?")
        raise BackendError(Code.DATA_INVALID, f"{path}: shape {shape}, expected {(rows, NUM_VERTS)}", hint)
    if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
        raise BackendError(Code.DATA_INVALID, f"{path}: expected finite floating-point values "
                                              f"(dtype {array.dtype})", hint)
    return array.astype(np.float64)


_MAX_MEAN_PARAMS_MEMBER = 1 << 20  # the official members are a few hundred bytes each


def load_mean_params(path: Path) -> dict[str, np.ndarray]:
    """smpl_mean_params.npz -> pose (144,), shape (10,), cam (3,)."""
    hint = (f"Put the official {path.name} (TCMR base_data.zip) into {path.parent}; "
            "run `python -m backend check` to verify.")
    if not path.is_file():
        raise BackendError(Code.DATA_MISSING, f"{path} not found", hint)
    expect = {"pose": (144,), "shape": (10,), "cam": (3,)}
    try:
        with zipfile.ZipFile(path) as archive:  # an .npz: refuse a member that would expand hugely
            big = [i.filename for i in archive.infolist() if i.file_size > _MAX_MEAN_PARAMS_MEMBER]
        if big:
            raise BackendError(Code.DATA_INVALID, f"{path}: member(s) {', '.join(big)} larger than "
                                                  f"{_MAX_MEAN_PARAMS_MEMBER} bytes", hint)
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in expect if k not in npz.files]
            if missing:
                raise BackendError(Code.DATA_INVALID, f"{path}: missing key(s) {', '.join(missing)}", hint)
            arrays = {k: np.asarray(npz[k]) for k in expect}
    except BackendError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled object arrays), OSError
        raise BackendError(Code.DATA_INVALID, f"{path}: not a readable .npz archive ({exc})", hint) from None
    for key, shape in expect.items():
        if arrays[key].shape != shape:
            raise BackendError(Code.DATA_INVALID, f"{path}: '{key}' has shape {arrays[key].shape}, "
                                                  f"expected {shape}", hint)
    return arrays


def _as_device(device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    from backend.device import resolve_device

    return resolve_device(str(device))


def _build(factory, state: dict[str, torch.Tensor], device: torch.device) -> torch.nn.Module:
    """Module on the meta device, then the checked tensors assigned (strict), then moved."""
    with torch.device("meta"):
        module = factory()
    module.load_state_dict(state, strict=True, assign=True)
    module = module.to(device).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def _temporal_checkpoint(folder: Path, model: str, checkpoint) -> Path:
    """The checkpoint file of the chosen temporal model; DATA_MISSING names where to get it."""
    if model not in TEMPORAL_MODELS:
        raise BackendError(Code.BAD_ARGUMENT, f"unknown temporal model '{model}'",
                           f"Use --model {' or --model '.join(TEMPORAL_MODELS)}.")
    if checkpoint:
        return Path(checkpoint)
    if model == "tcmr":
        return folder / datafiles.TCMR_CHECKPOINT.name
    path = datafiles.vibe_checkpoint(folder)
    if not path.is_file():
        file = datafiles.VIBE_CHECKPOINT
        raise BackendError(Code.DATA_MISSING, f"--model vibe needs {file.name} (or "
                                              f"{datafiles.VIBE_CHECKPOINT_3DPW.name}) in {folder}",
                           f"Get it from {file.source} and put it into {folder} unchanged; "
                           "`python -m backend check` lists it among the optional files.")
    return path


def load_models(data_dir: str | os.PathLike | None, device="cpu", backbone: bool = True,
                config: ModelConfig | None = None,
                tcmr_checkpoint: str | os.PathLike | None = None, model: str = "tcmr",
                checkpoint: str | os.PathLike | None = None) -> Models:
    """Load the temporal network `model` ("tcmr" | "vibe") + the ResNet trunk when `backbone`,
    and the SMPL layer.

    data_dir: a model data folder (None: $TCMR_DATA_DIR or the per-user default);
    device: torch.device or "auto" | "cpu" | "cuda"; checkpoint (or, for TCMR, tcmr_checkpoint):
    another checkpoint of that model (e.g. the paper's tcmr_table4_3dpw_test.pth.tar) instead of
    the folder's (tcmr_demo_model.pth.tar; for VIBE vibe_model_wo_3dpw.pth.tar, else
    vibe_model_w_3dpw.pth.tar), which is then not needed. Raises BackendError naming file + problem.
    """
    config = config or ModelConfig()
    folder = datafiles.resolve_data_dir(data_dir)
    device = _as_device(device)
    checkpoint = checkpoint or (tcmr_checkpoint if model == "tcmr" else None)
    needed = [f for f in datafiles.files_for("run" if backbone else "regress")
              if not (f is datafiles.TCMR_CHECKPOINT and (checkpoint or model != "tcmr"))]
    missing = [f for f in needed if not (folder / f.name).is_file()]
    if missing:
        names = ", ".join(f.name for f in missing)
        raise BackendError(Code.DATA_MISSING, f"model data missing in {folder}: {names}",
                           f"Put them into {folder} ({missing[0].name}: {missing[0].source}); "
                           "`python -m backend check` lists every file and where to get it.")
    temporal_path = _temporal_checkpoint(folder, model, checkpoint)
    smpl_data = load_smpl(folder / datafiles.SMPL_NEUTRAL.name)
    j_extra = load_regressor_npy(folder / datafiles.J_REGRESSOR_EXTRA.name, 9)
    h36m_path = folder / datafiles.J_REGRESSOR_H36M.name
    j_h36m = load_regressor_npy(h36m_path, 17) if h36m_path.exists() else None
    tcmr = _build(TCMR, load_tcmr_state(temporal_path), device) if model == "tcmr" else None
    vibe = _build(VIBE, load_vibe_state(temporal_path), device) if model == "vibe" else None
    trunk = None
    if backbone:
        trunk = _build(ResNet50Trunk, load_backbone_state(folder / datafiles.SPIN_CHECKPOINT.name), device)
        if config.channels_last:
            trunk = trunk.to(memory_format=torch.channels_last)
    smpl = SmplLayer(smpl_data, j_extra).to(device).eval()
    return Models(tcmr=tcmr, smpl=smpl, smpl_data=smpl_data, backbone=trunk, device=device,
                  synthetic=is_synthetic(folder), data_dir=folder, config=config, j_regressor_h36m=j_h36m,
                  vibe=vibe, model_name=model, checkpoint=temporal_path)
