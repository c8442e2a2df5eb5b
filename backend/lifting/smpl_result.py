"""`lift --fit-smpl`: the fit's SMPL fields, for OUT.npz and as a Contract 3 result directory.

The result directory (`--smpl-out DIR`, docs/contracts.md Contract 3) is what `run` writes, so
the add-on's *Import Result* drives an SMPL character with the fitted motion: one track (id 0),
frame_index 0..T-1 (the keypoint frames), the fitted pose, shape (the same betas every frame)
and translation in the lift's camera frame, TCMR's 49 joints from the SMPL layer, the camera
with the lift's focal length. There is no crop: `bbox_xywh` is the square around each frame's
2D keypoints and `cam_weak` is zero.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from backend.lifting.smpl_fit import SmplFit


class FittedBody:
    """A fit with what writing it needs: smpl (SmplData), j_regressor_extra (9,V) or None (only
    the result directory needs it), synthetic (made from synthetic model data)."""

    def __init__(self, fit: SmplFit, smpl, j_regressor_extra, synthetic: bool) -> None:
        self.fit, self.smpl, self.extra, self.synthetic = fit, smpl, j_regressor_extra, synthetic
        self.arrays = npz_fields(fit, smpl)

    def write_result(self, out_dir, xy, video: dict, focal: float, focal_from_user: bool,
                     config: dict) -> Path:
        return write_result(out_dir, self.fit, self.smpl, self.extra, xy, video, focal, focal_from_user,
                            self.synthetic, config)



def npz_fields(fit: SmplFit, smpl) -> dict[str, np.ndarray]:
    """OUT.npz keys: Contract 3 track fields with an `smpl_` prefix, plus the fit's error."""
    from backend.models.smpl import rest_joints
    from backend.smpl_file import SMPL_PARENTS

    t = len(fit.pose)
    pose = fit.pose.reshape(t, 24, 3).astype(np.float32)
    return {"smpl_global_orient": pose[:, 0], "smpl_body_pose": pose[:, 1:],
            "smpl_betas": fit.betas.astype(np.float32), "smpl_transl": fit.transl.astype(np.float32),
            "smpl_joints_rest": rest_joints(smpl, fit.betas).astype(np.float32),
            "smpl_parents": np.array(SMPL_PARENTS, dtype=np.int64),
            "smpl_joints3d_h36m": fit.joints.astype(np.float32),
            "smpl_fit_mpjpe_mm": fit.mpjpe_mm.astype(np.float32)}


def _boxes(xy: np.ndarray) -> np.ndarray:
    """(T,4) [cx, cy, w, h] squares around each frame's keypoints (T,17,2), pixels."""
    lo, hi = xy.min(axis=1), xy.max(axis=1)
    size = np.maximum((hi - lo).max(axis=1), 1.0)
    centre = (lo + hi) / 2.0
    return np.stack([centre[:, 0], centre[:, 1], size, size], axis=1)


def write_result(out_dir: str | Path, fit: SmplFit, smpl, j_regressor_extra: np.ndarray, xy: np.ndarray,
                 video: dict, focal: float, focal_from_user: bool, synthetic: bool, config: dict) -> Path:
    """Write the fit as a Contract 3 result directory (atomic, ResultWriter). video: path, fps,
    width, height of the keypoint source. Returns result.json's path."""
    import torch
    from smplx.lbs import batch_rodrigues

    from backend.models.smpl import SmplLayer, rest_joints
    from backend.result import ResultWriter, result_meta, track_arrays, track_entry

    t = len(fit.pose)
    frames = np.arange(t)
    with torch.no_grad():
        aa = torch.from_numpy(fit.pose.reshape(-1, 3).astype(np.float32))
        rotmat = batch_rodrigues(aa).reshape(t, 24, 3, 3)
        betas = torch.from_numpy(np.tile(fit.betas.astype(np.float32), (t, 1)))
        _, joints49 = SmplLayer(smpl, j_regressor_extra)(rotmat, betas)
    arrays = track_arrays(frames, fit.pose, betas.numpy(), fit.transl, np.zeros((t, 3)), _boxes(xy),
                          joints49.numpy(), rest_joints(smpl, fit.betas))
    source = SimpleNamespace(kind="keypoints", **video)
    with ResultWriter(out_dir) as writer:
        name = writer.write_track(0, arrays)
        meta = result_meta(config, source, (0, t), t, True, focal, focal_from_user, synthetic,
                           [track_entry(0, name, frames, np.zeros(t, dtype=bool))],
                           producer_extra={"route": "lift --fit-smpl (VideoPose3D joints, SMPL fit)"})
        return writer.commit(meta)
