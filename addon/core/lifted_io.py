"""Reading a `lift` output (.npz, docs/lifting.md) for the import: pure numpy, no bpy.

The scene convention is the SMPL route's (scene_camera.py): the video camera sits at the
origin looking along +Y with Z up, and a camera-space point (x right, y down, z forward) is at
Blender (x, z, -y).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AddonError
from .lifted_rig import NAMES, PARENTS

HINT = "Give a .npz written by `python -m backend lift` (docs/lifting.md)."
REQUIRED = ("joints3d", "joint_names", "parents", "width", "height", "fps", "focal_px")


@dataclass
class Lifted:
    """joints_cam (T,J,3) camera-space metres, names (J,), parents (J,), image size, fps, focal."""

    joints_cam: np.ndarray
    names: tuple[str, ...]
    parents: tuple[int, ...]
    width: int
    height: int
    fps: float
    focal_px: float
    synthetic: bool


def camera_to_blender(points: np.ndarray) -> np.ndarray:
    """(..., 3) camera space (x right, y down, z forward) -> Blender scene (x, z, -y)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def read_lifted(path: str | Path) -> Lifted:
    """Validate and read a lift output; AddonError names the problem."""
    path = Path(path)
    if not path.is_file():
        raise AddonError(f"lifted file not found: {path}", HINT)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in REQUIRED if k not in data.files]
            if missing:
                raise AddonError(f"{path.name} lacks {', '.join(missing)}: not a `lift` output", HINT)
            arrays = {k: data[k] for k in (*REQUIRED, "synthetic") if k in data.files}
    except AddonError:
        raise
    except (OSError, ValueError) as exc:
        raise AddonError(f"cannot read {path}: {exc}", HINT) from None
    joints = np.asarray(arrays["joints3d"], dtype=np.float64)
    names, parents = [str(n) for n in arrays["joint_names"]], \
        [int(p) for p in arrays["parents"]]
    shape_ok = joints.ndim == 3 and joints.shape[1:] == (len(names), 3) and len(joints) > 0
    if not shape_ok or len(parents) != len(names):
        raise AddonError(f"{path.name}: joints3d has shape {joints.shape} for {len(names)} joint names", HINT)
    if tuple(names) != NAMES or tuple(parents) != PARENTS:
        raise AddonError(f"{path.name}: the joints are not the 17 H36M joints of a `lift` output "
                         f"({', '.join(names[:4])}...)", HINT)
    if not np.isfinite(joints).all():
        raise AddonError(f"{path.name}: joints3d contains NaN or infinite values", HINT)
    size = [float(arrays[k]) for k in ("width", "height", "fps", "focal_px")]
    if not all(np.isfinite(v) and v > 0 for v in size):
        raise AddonError(f"{path.name}: width/height/fps/focal_px must be > 0, got {size}", HINT)
    return Lifted(joints, tuple(names), tuple(parents), round(size[0]), round(size[1]), size[2],
                  size[3], bool(arrays.get("synthetic", False)))
