"""`apply_foot_lock`: contacts, depth along the viewing ray and leg IK on one world track.

Pipeline (docs/footlock.md):
1. numpy SMPL forward: contact joints and sole vertices in the world;
2. stabilise the distance along the ray (Gaussian), detect contacts;
3. `iterations` times: solve the depth from the planted feet, re-detect on the corrected motion;
4. mode "auto": pin planted feet, two-bone leg IK, flat feet (legs.py).

Mode "off" only detects contacts: the motion is returned unchanged. Frames with non-finite
values are left as they are (contact 0) and reported; tracks too short or without any planted
frame come back unchanged with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial.transform import Rotation

from backend import smpl_np
from backend.errors import BackendError, Code

from . import body, contacts, depth, legs

MODES = ("off", "auto")
MIN_FRAMES = 3
LEVEL_DEAD_ZONE = 0.03  # m: a track level closer to the floor than this is noise, not an offset
KEYS = ("world_global_orient", "world_body_pose", "world_transl", "betas")


@dataclass(frozen=True)
class FootLockConfig:
    contacts: contacts.ContactConfig = field(default_factory=lambda: contacts.ContactConfig(along_speed=0.6))
    first_pass: contacts.ContactConfig = field(
        default_factory=lambda: contacts.ContactConfig(along_speed=1.0))
    depth: depth.DepthConfig = field(default_factory=depth.DepthConfig)
    iterations: int = 2
    max_level: float = 0.3  # m: a track whose feet float or sink by up to this is still detected
    blend_frames: int = 4
    flat_feet: bool = True


REFERENCE_FPS = 30.0  # frame counts in the configs are meant at this rate


def at_frame_rate(cfg: FootLockConfig, fps: float) -> FootLockConfig:
    """The config with its frame counts (blends, shortest run, smoothing) scaled from 30 fps to
    `fps`, so they keep their duration in seconds."""
    k = fps / REFERENCE_FPS

    def frames(cc: contacts.ContactConfig) -> contacts.ContactConfig:
        return replace(cc, min_frames=max(2, round(cc.min_frames * k)), smooth_sigma=cc.smooth_sigma * k)

    return replace(cfg, contacts=frames(cfg.contacts), first_pass=frames(cfg.first_pass),
                   depth=replace(cfg.depth, stabilise_sigma=cfg.depth.stabilise_sigma * k),
                   blend_frames=max(1, round(cfg.blend_frames * k)))


def _warning(code: str, message: str, hint: str) -> dict:
    return {"code": code, "message": message, "hint": hint}


def _checked(track: dict) -> dict:
    missing = [k for k in KEYS if k not in track]
    if missing:
        raise BackendError(Code.RESULT_INVALID, f"track has no {', '.join(missing)}",
                           "run the ground command first: foot locking needs the world keys")
    arr = {k: np.asarray(track[k], dtype=np.float64) for k in KEYS}
    t = arr["world_transl"].reshape(-1, 3).shape[0]
    shapes = {"world_global_orient": (t, 3), "world_body_pose": (t, 23, 3), "world_transl": (t, 3)}
    for k, shape in shapes.items():
        if arr[k].size != int(np.prod(shape)):
            raise BackendError(Code.RESULT_INVALID, f"{k} has shape {arr[k].shape}, expected {shape}",
                               "the track arrays must all have the same number of frames")
        arr[k] = arr[k].reshape(shape)
    if arr["betas"].size < body.NUM_BETAS or not np.all(np.isfinite(arr["betas"])):
        raise BackendError(Code.RESULT_INVALID, "betas must be 10 finite values",
                           "re-run the reconstruction; the track's body shape is damaged")
    return arr


def _fill(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Copy of values (T,...) with invalid frames replaced by the nearest valid frame."""
    idx = np.nonzero(valid)[0]
    near = idx[np.clip(np.searchsorted(idx, np.arange(len(valid))), 0, len(idx) - 1)]
    prev = idx[np.clip(np.searchsorted(idx, np.arange(len(valid))) - 1, 0, len(idx) - 1)]
    pick = np.where(np.abs(prev - np.arange(len(valid))) < np.abs(near - np.arange(len(valid))), prev, near)
    return values[pick]


def _sliding_mm(points: np.ndarray, planted: np.ndarray) -> float:
    """Mean displacement (mm/frame) of points (T,J,3) over frames planted at t-1 and t."""
    both = planted[1:] & planted[:-1]
    if not both.any():
        return 0.0
    step = np.linalg.norm(points[1:] - points[:-1], axis=-1)
    return float(step[both].mean() * 1000.0)


class _Posed:
    """Joints and sole heights of a track in the world, for any translation offset."""

    def __init__(self, model: body.BodyModel, local: np.ndarray, transl: np.ndarray) -> None:
        self.model, self.local = model, local
        self.pos, self.glob = body.forward(model, local)
        soles = body.sole_points(model, local, self.pos, self.glob)  # (T,4,S,3)
        self.sole_z = soles[..., 2].min(axis=-1)  # (T,4), without transl
        self.transl = transl

    def contact_joints(self, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T,4,3) contact joints and (T,4) sole heights, world, with transl + offset (T,3)."""
        shift = self.transl + offset
        return self.pos[:, smpl_np.CONTACT_JOINTS] + shift[:, None], self.sole_z + shift[:, 2:3]


def floor_heights(heights: np.ndarray, planted: np.ndarray) -> np.ndarray:
    """(T,4) heights the floor term pulls to 0: while both joints of a foot are planted, the
    foot's lowest vertex (heel or toe may sit above the floor on a flat foot), else the joint's."""
    out = heights.copy()
    for a, f in ((0, 2), (1, 3)):
        both = planted[:, a] & planted[:, f]
        low = np.minimum(heights[:, a], heights[:, f])
        out[both, a], out[both, f] = low[both], low[both]
    return out


def track_level(heights: np.ndarray, valid: np.ndarray, max_level: float) -> float:
    """The track's own floor level (m): the median of its lowest sole vertex over valid
    frames; 0 within LEVEL_DEAD_ZONE or beyond +-max_level (then the feet really are off the
    floor). A depth error along a downward ray lifts or sinks the whole track; the first
    detection looks past that level and the depth solve's floor term then brings the track
    down to z = 0."""
    low = heights.min(axis=1)[valid > 0]
    level = float(np.median(low)) if len(low) else 0.0
    return level if LEVEL_DEAD_ZONE <= abs(level) <= max_level else 0.0


def _detect(posed: _Posed, offset: np.ndarray, fps: float, cc: contacts.ContactConfig, max_level: float,
            valid, rays):
    joints, heights = posed.contact_joints(offset)
    heights = heights - track_level(heights, valid, max_level)
    return contacts.detect(heights, joints, fps, cc, rays) * valid[:, None]


def _detect_and_depth(posed: _Posed, centre: np.ndarray, fps: float, cfg: FootLockConfig, valid):
    """Contacts (T,4) and the depth offsets (T,3) after cfg.iterations rounds."""
    pelvis = posed.pos[:, 0] + posed.transl
    u, dist = depth.rays(pelvis, centre)
    delta = depth.stabilise(dist, cfg.depth.stabilise_sigma)
    contact = _detect(posed, delta[:, None] * u, fps, cfg.first_pass, cfg.max_level, valid, u)
    for _ in range(max(0, cfg.iterations)):
        if not (contact > 0.5).any():
            break
        raw_joints, raw_heights = posed.contact_joints(np.zeros_like(u))
        planted = contact > 0.5
        delta = depth.solve(raw_joints, floor_heights(raw_heights, planted), planted.astype(float), u, dist,
                            cfg.depth)
        contact = _detect(posed, delta[:, None] * u, fps, cfg.contacts, 0.0, valid, u)
    return contact, delta[:, None] * u


def apply_foot_lock(track: dict, camera_to_world, smpl_data, fps: float, mode: str = "auto",
                    config: FootLockConfig | None = None) -> tuple[dict, np.ndarray, dict]:
    """track: world_global_orient (T,3), world_body_pose (T,23,3), world_transl (T,3),
    betas (10,) (+ any other keys, copied). camera_to_world (4,4): OpenCV camera metres -> world
    (Z up, floor z = 0). smpl_data: SMPL arrays (backend.smpl_file.SmplData). fps > 0.
    Returns (new track dict: world_transl and world_body_pose changed in mode "auto",
    contact (T,4) in [0,1] for SMPL joints 7, 8, 10, 11, > 0.5 where planted, report dict with
    figures and `warnings`: [{code, message, hint}] for the caller to emit)."""
    if mode not in MODES:
        raise BackendError(Code.BAD_ARGUMENT, f"unknown foot-lock mode {mode!r}",
                           "use --foot-lock off or auto")
    if not np.isfinite(fps) or fps <= 0:
        raise BackendError(Code.RESULT_INVALID, f"fps must be positive, got {fps}", "check the result's fps")
    cfg = at_frame_rate(config or FootLockConfig(), fps)
    arr = _checked(track)
    out = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in track.items()}
    t_count = arr["world_transl"].shape[0]
    contact = np.zeros((t_count, 4))
    report = {"mode": mode, "frames": t_count, "locked": False, "warnings": []}
    valid = np.all(np.isfinite(arr["world_global_orient"]), 1) & np.all(np.isfinite(arr["world_transl"]), 1) \
        & np.all(np.isfinite(arr["world_body_pose"]), axis=(1, 2))
    if not valid.all():
        report["warnings"].append(_warning(
            "FOOT_LOCK_NONFINITE", f"{int((~valid).sum())} of {t_count} frames have non-finite values",
            "those frames are left as they are, without contacts; re-run the reconstruction to fix them"))
    if valid.sum() < MIN_FRAMES:
        report["warnings"].append(_warning(
            "FOOT_LOCK_SKIPPED",
            f"{int(valid.sum())} usable frames: foot locking needs at least {MIN_FRAMES}",
            "nothing to lock on so short a track; the motion is unchanged"))
        return out, contact, report
    go, bp, tr = (_fill(arr[k], valid) for k in ("world_global_orient", "world_body_pose", "world_transl"))
    cam = np.asarray(camera_to_world, dtype=np.float64).reshape(4, 4)
    model = body.body_model(smpl_data, arr["betas"])
    local = smpl_np.pose_rotations(go, bp)
    posed = _Posed(model, local, tr)
    contact, offset = _detect_and_depth(posed, cam[:3, 3], fps, cfg, valid.astype(float))
    planted = contact > 0.5
    report["planted_fraction"] = [float(x) for x in planted.mean(axis=0)]
    before = posed.contact_joints(np.zeros_like(offset))[0]
    report["sliding_before_mm"] = _sliding_mm(before, planted)
    if not planted.any():
        report["warnings"].append(_warning(
            "FOOT_LOCK_NO_CONTACT", "no foot is ever planted on the floor in this track",
            "nothing was locked (jumping, swimming or feet out of view?); use --foot-lock off to skip"))
        return out, contact, report
    if mode == "off":
        return out, contact, report
    new_local, stats = _lock(posed, offset, planted, cfg)
    relocked = _Posed(model, new_local, tr + offset).contact_joints(np.zeros_like(offset))[0]
    report.update(locked=True, sliding_after_mm=_sliding_mm(relocked, planted), ik=stats,
                  depth_correction_m={"median": float(np.median(np.linalg.norm(offset, axis=1))),
                                      "max": float(np.linalg.norm(offset, axis=1).max())})
    body_pose = Rotation.from_matrix(new_local[:, 1:].reshape(-1, 3, 3)).as_rotvec().reshape(t_count, 23, 3)
    out["world_transl"] = np.where(valid[:, None], tr + offset, arr["world_transl"])
    out["world_body_pose"] = np.where(valid[:, None, None], body_pose, arr["world_body_pose"])
    return out, contact, report


def _lock(posed: _Posed, offset: np.ndarray, planted: np.ndarray, cfg: FootLockConfig):
    """New local rotations (T,24,3,3) with both legs locked, and per-leg IK stats."""
    local = posed.local.copy()
    pos = posed.pos + (posed.transl + offset)[:, None]
    heights = posed.sole_z + (posed.transl + offset)[:, 2:3]
    stats = {side: legs.lock_leg(side, posed.model, local, pos, posed.glob, heights, planted,
                                 cfg.blend_frames, cfg.flat_feet) for side in ("left", "right")}
    return local, stats
