"""Safe, strict reading of the released torch checkpoints.

* `torch.load(weights_only=True)`: no pickled code runs. The only non-tensor globals allowed
  are the numpy scalar/dtype reconstructors the trainer's `performance` value (a numpy
  float64) needs, under the names numpy 1.x wrote them with (and numpy 2's `_core` spelling).
  Legacy (pre-1.6, non-zip) and zip serializations both load.
* Explicit key mapping with shape checks: every key our modules need must be present with
  the right shape, every key in the file must be used or on a named ignore list, otherwise a
  `BackendError(CHECKPOINT_INVALID)` names the file and the keys. Nothing ever runs on random
  weights by accident.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch

from backend.errors import BackendError, Code

# numpy objects that may appear outside tensors (TCMR: `performance`, a numpy float64).
_SCALAR = np.core.multiarray.scalar
SAFE_NUMPY_GLOBALS: list = [
    (_SCALAR, "numpy.core.multiarray.scalar"),  # numpy 1.x writers (the released files)
    (_SCALAR, "numpy._core.multiarray.scalar"),  # numpy 2.x writers
    (np.dtype, "numpy.dtype"),
    # numpy >= 1.25 pickles a dtype whose class (BUILD target) is one of these.
    np.dtypes.Float64DType, np.dtypes.Float32DType, np.dtypes.Float16DType,
    np.dtypes.Int64DType, np.dtypes.Int32DType, np.dtypes.BoolDType,
]

# The 12 SMPL buffers TCMR's gen_state_dict carries (smplx 0.1.13 SMPL inside the regressor).
# Ignored on purpose: like the official demo (demo.py replaces model.regressor.smpl), the SMPL
# data used is the pkl on disk (SMPL_NEUTRAL.pkl via backend.smpl_file.load_smpl).
TCMR_IGNORED_KEYS = tuple("regressor.smpl." + k for k in (
    "betas", "global_orient", "body_pose", "faces_tensor", "v_template", "shapedirs", "J_regressor",
    "posedirs", "parents", "lbs_weights", "J_regressor_extra", "vertex_joint_selector.extra_joints_idxs"))

# SPIN's HMR head in spin_model_checkpoint.pth.tar['model']. Ignored on purpose: only the
# ResNet-50 trunk is used from SPIN; TCMR's own regressor (and its init_*) comes from the TCMR
# checkpoint, which overwrites what the official constructor copied from SPIN.
SPIN_IGNORED_KEYS = ("init_pose", "init_shape", "init_cam",
                     *(f"{m}.{p}" for m in ("fc1", "fc2", "decpose", "decshape", "deccam")
                       for p in ("weight", "bias")))

HINT_REDOWNLOAD = ("Download the official TCMR base data again (TCMR_RELEASE scripts/get_base_data.sh -> "
                   "base_data.zip) and put {name} unchanged into the model data folder ({folder}); "
                   "run `python -m backend check` to verify.")


def _hint(path: Path) -> str:
    return HINT_REDOWNLOAD.format(name=path.name, folder=path.parent)


def invalid(path: Path, problem: str) -> BackendError:
    return BackendError(Code.CHECKPOINT_INVALID, f"{path}: {problem}", _hint(path))


def read_checkpoint(path: str | Path, safe_globals=None, invalid=invalid, hint: str | None = None) -> dict:
    """torch.load the file safely (CPU, weights_only) -> its top-level dict.

    safe_globals: what the unpickler may construct besides tensors (default: the numpy scalar
    and dtype the official trainers store); invalid(path, problem) -> BackendError of the caller's
    file kind; hint: what to do about a missing file (default: download it again)."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(Code.DATA_MISSING, f"checkpoint not found: {path}", hint or _hint(path))
    if path.stat().st_size == 0:
        raise invalid(path, "the file is empty")
    allowed = SAFE_NUMPY_GLOBALS if safe_globals is None else safe_globals
    try:
        with torch.serialization.safe_globals(allowed), warnings.catch_warnings():
            # torch warns about pickle protocols it did not write; the error below says more.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = _weights_only_detail(str(exc))
        if "GLOBAL" in detail:
            raise invalid(path, "refused to load: it contains a Python object that is not plain weights "
                                f"({detail}); not an official checkpoint, or tampered with") from None
        raise invalid(path, f"not a readable torch checkpoint ({detail})") from None
    except MemoryError:
        raise
    except Exception as exc:  # truncated zip/legacy streams raise many different types
        raise invalid(path, f"not a readable torch checkpoint, truncated or corrupt "
                            f"({type(exc).__name__}: {_first_line(exc)})") from None
    if not isinstance(obj, dict):
        raise invalid(path, f"top level is a {type(obj).__name__}, expected a checkpoint dict")
    return obj


def _weights_only_detail(message: str) -> str:
    """The informative line of torch's weights_only error (it starts with generic advice)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    for line in lines:
        if "GLOBAL" in line:
            return line[:300]
    for line in lines:
        if line.startswith(("WeightsUnpickler error", "Unsupported", "Trying to load")):
            return line[:300]
    return lines[-1][:300] if lines else "unpickling failed"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def section(ckpt: Mapping, key: str, path: Path, other_files: Mapping[str, str]) -> Mapping:
    """ckpt[key] as a state dict; when missing, say which file it looks like instead."""
    if key not in ckpt:
        for marker, looks_like in other_files.items():
            if marker in ckpt:
                raise invalid(path, f"has no '{key}' entry; it looks like {looks_like} "
                                    "(wrong file under this name)")
        keys = ", ".join(sorted(map(str, ckpt))[:8]) or "none"
        raise invalid(path, f"has no '{key}' entry (top-level keys: {keys}); not the expected checkpoint")
    state = ckpt[key]
    if not isinstance(state, Mapping):
        raise invalid(path, f"'{key}' is a {type(state).__name__}, expected a state dict")
    return state


def map_state(state: Mapping, expected: Mapping[str, torch.Size], path: Path, where: str,
              ignored: Iterable[str] = ()) -> dict[str, torch.Tensor]:
    """Check `state` against the module's expected keys/shapes -> the tensors to load.

    The mapping is the identity on names (our modules use the official parameter names);
    `ignored` keys are dropped on purpose. Missing, unexpected, non-tensor, wrongly shaped or
    non-finite entries raise CHECKPOINT_INVALID naming them.
    """
    ignored = set(ignored)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected and k not in ignored]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_names(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_names(unexpected)}")
    if problems:
        raise invalid(path, f"{where} does not match the network: " + "; ".join(problems))
    out = {}
    for key, shape in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            raise invalid(path, f"{where}['{key}'] is a {type(value).__name__}, expected a tensor")
        if value.shape != shape:
            raise invalid(path, f"{where}['{key}'] has shape {tuple(value.shape)}, expected {tuple(shape)}")
        if value.is_floating_point():
            if not bool(torch.isfinite(value).all()):
                raise invalid(path, f"{where}['{key}'] contains NaN or infinite values")
            value = value.float()
        elif not key.endswith("num_batches_tracked"):
            raise invalid(path, f"{where}['{key}'] has dtype {value.dtype}, expected floating point")
        out[key] = value
    return out


def _names(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")


def expected_shapes(module_factory) -> dict[str, torch.Size]:
    """Key -> shape of a module's state dict, built on the meta device (no memory, no init)."""
    with torch.device("meta"):
        module = module_factory()
    return {k: v.shape for k, v in module.state_dict().items()}


def load_tcmr_state(path: str | Path) -> dict[str, torch.Tensor]:
    """tcmr_demo_model.pth.tar -> validated state dict for `backend.models.tcmr.TCMR`."""
    from backend.models.tcmr import TCMR

    path = Path(path)
    ckpt = read_checkpoint(path)
    state = section(ckpt, "gen_state_dict", path,
                    {"model": "the SPIN checkpoint (spin_model_checkpoint.pth.tar)"})
    _reject_other_model(state, path, "tcmr")
    return map_state(state, expected_shapes(TCMR), path, "gen_state_dict", ignored=TCMR_IGNORED_KEYS)


def load_backbone_state(path: str | Path) -> dict[str, torch.Tensor]:
    """spin_model_checkpoint.pth.tar -> validated state dict for the ResNet-50 trunk."""
    from backend.models.resnet import ResNet50Trunk

    path = Path(path)
    ckpt = read_checkpoint(path)
    state = section(ckpt, "model", path,
                    {"gen_state_dict": "the TCMR checkpoint (tcmr_demo_model.pth.tar)"})
    return map_state(state, expected_shapes(ResNet50Trunk), path, "model", ignored=SPIN_IGNORED_KEYS)


# ----------------------------------------------------------------------------------------------
# VIBE (mkocabas/VIBE release: vibe_model_wo_3dpw.pth.tar / vibe_model_w_3dpw.pth.tar)
# ----------------------------------------------------------------------------------------------
# VIBE's Trainer.save_model writes the same top-level keys as TCMR's (epoch, gen_state_dict,
# performance (numpy float64), gen_optimizer, disc_motion_state_dict, disc_motion_optimizer).
# Its gen_state_dict holds encoder.gru.* (8), encoder.linear.* (2), regressor.* (13) and the
# same smplx SMPL buffers as TCMR's (regressor.smpl.*, ignored: the pkl on disk is used).
# The motion discriminator is a training-time critic: inference never reads it.
VIBE_IGNORED_KEYS = TCMR_IGNORED_KEYS

HINT_VIBE = ("Download the official VIBE checkpoint again (mkocabas/VIBE: the demo's download_ckpt, "
             "or the release's prepare_data script -> data/vibe_data/) and put {name} unchanged into the "
             "model data folder ({folder}); run `python -m backend check` to verify.")

# Encoder key prefixes that tell the two temporal models apart, and how each is described.
_MODEL_MARKERS = {
    "tcmr": (("encoder.gru_cur.", "encoder.gru_bef.", "encoder.gru_aft.", "encoder.attention."),
             "TCMR checkpoint (encoder.gru_cur/gru_bef/gru_aft + attention)"),
    "vibe": (("encoder.gru.", "encoder.linear."), "VIBE checkpoint (encoder.gru + encoder.linear)"),
}


def _looks_like(state: Mapping, model: str) -> bool:
    return any(str(k).startswith(_MODEL_MARKERS[model][0]) for k in state)


def _reject_other_model(state: Mapping, path: Path, wanted: str) -> None:
    """CHECKPOINT_INVALID when `state` is clearly the other temporal model's (wanted: tcmr | vibe)."""
    other = "vibe" if wanted == "tcmr" else "tcmr"
    if _looks_like(state, other) and not _looks_like(state, wanted):
        raise invalid(path, f"is a {_MODEL_MARKERS[other][1]}, not a {_MODEL_MARKERS[wanted][1]}; "
                            f"use it with --model {other}")


def load_vibe_state(path: str | Path) -> dict[str, torch.Tensor]:
    """vibe_model_w(o)_3dpw.pth.tar -> validated state dict for `backend.models.vibe.VIBE`.

    Problems raise CHECKPOINT_INVALID naming the file, with a hint about the VIBE release
    (a TCMR checkpoint given here is named as such)."""
    from backend.models.vibe import VIBE

    path = Path(path)
    try:
        ckpt = read_checkpoint(path)
        state = section(ckpt, "gen_state_dict", path,
                        {"model": "the SPIN checkpoint (spin_model_checkpoint.pth.tar)"})
        _reject_other_model(state, path, "vibe")
        return map_state(state, expected_shapes(VIBE), path, "gen_state_dict", ignored=VIBE_IGNORED_KEYS)
    except BackendError as exc:
        if exc.code == Code.CHECKPOINT_INVALID:
            exc.hint = HINT_VIBE.format(name=path.name, folder=path.parent)
        raise
