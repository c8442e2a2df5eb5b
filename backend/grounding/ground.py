"""Ground a whole result: perspective roots -> floor -> camera pose -> world motion (pure numpy).

    ground_tracks(view, tracks, smpl, fps, options) -> Grounded      (in memory, Contract 3 arrays in)
    grounded_arrays(arrays, world_track)                              (the track file with world keys)

`run --ground auto` and the `ground` command both go through `ground_tracks`. Foot contact and
foot locking (backend.footlock, docs/footlock.md) run at one call site when foot_lock is "auto";
with "off" the motion stays as grounded and `contact` stays zeros.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from backend import __version__
from backend.grounding.camera_pose import camera_angles, camera_frame_world, camera_to_world
from backend.grounding.feet import camera_track, foot_vertex_ids
from backend.grounding.floor import FloorConfig, FloorFit, fit_floor
from backend.grounding.perspective import camera_root_orient_rotvec
from backend.grounding.world import GROUNDED_KEYS, world_track
from backend.smpl_file import SmplData

ROOT_RULE = ("R_root_cam = R_virt2cam(box centre) . global_orient: the crop's virtual camera looks along "
             "the ray through the box centre with no roll (Perspective Crop Layers)")
NOT_FOUND_HINT = ("The motion stays in the camera frame turned to Z up. Grounding needs feet that rest on "
                  "the floor in view for a moment (walking or standing); trim the clip to such a part, "
                  "or place the floor by hand in Blender.")


@dataclass(frozen=True)
class View:
    """The result's pinhole camera: focal (px), principal point (px), image size (px)."""

    focal: float
    principal: tuple[float, float]
    width: int
    height: int


@dataclass(frozen=True)
class GroundOptions:
    foot_lock: str = "auto"  # off | auto: foot contacts + foot lock (backend.footlock); off: contact zeros
    floor: FloorConfig = field(default_factory=FloorConfig)


@dataclass
class Grounded:
    """world: the result.json "world" block (JSON-ready); tracks: per-track world arrays (dicts of
    plain numpy, backend.grounding.world.world_track) plus "camera_global_orient" (T,3);
    warnings: (code, message, hint) tuples for the reporter; fit: the floor fit."""

    world: dict
    tracks: list[dict]
    warnings: list[tuple[str, str, str]]
    fit: FloorFit


def camera_tracks(view: View, tracks: list[dict], smpl: SmplData):
    """Contract 3 arrays -> (CameraTrack list, perspective-corrected camera roots (T,3) list)."""
    foot_ids = foot_vertex_ids(smpl)
    out, roots = [], []
    for arrays in tracks:
        root = camera_root_orient_rotvec(arrays["global_orient"], arrays["bbox_xywh"], view.focal,
                                         np.asarray(view.principal))
        roots.append(root)
        out.append(camera_track(smpl, int(arrays["track_id"]), arrays["frame_index"], root,
                                arrays["body_pose"], arrays["betas"], arrays["transl"], view.focal,
                                view.principal, (view.width, view.height), foot_ids))
    return out, roots


def _world_block(view: View, fit: FloorFit, c2w: np.ndarray, options: GroundOptions) -> dict:
    block = {
        "camera_to_world": c2w.tolist(),
        "ground_found": bool(fit.found),
        "up": "+Z", "camera_forward": "+Y", "units": "metres",
        "floor": "z = 0, touched by the lowest mesh vertices of planted feet",
        "focal_length_px": float(view.focal), "principal_point_px": [float(v) for v in view.principal],
        "image_size": [int(view.width), int(view.height)],
        "root_orientation": ROOT_RULE,
        "foot_lock": options.foot_lock,
        "contact": ("per foot joint (7, 8, 10, 11) in [0,1] from height and speed; docs/footlock.md"
                    if options.foot_lock == "auto" else "zeros: --foot-lock off"),
        "grounded_by": f"tcmr-mocap-backend {__version__}",
    }
    fit_info = {"candidates": int(fit.candidates), "inliers": int(fit.inliers),
                "residual_rms_m": fit.residual_rms_m, "residual_median_m": fit.residual_median_m,
                "spread_m": fit.spread_m, "normal_source": fit.normal_source,
                "tracks_used": list(fit.tracks_used),
                "person_floor_offsets_m": {str(t): v for t, v in fit.person_offsets.items()}}
    if fit.found:
        pitch, roll = camera_angles(c2w)
        block |= {"camera_height_m": float(fit.offset), "camera_pitch_deg": pitch, "camera_roll_deg": roll,
                  "floor_normal_camera": [float(v) for v in fit.normal],
                  "body_tilt_deg": fit.body_tilt_deg, "fit": fit_info}
    else:
        block |= {"camera_height_m": None, "reason": fit.reason, "fit": fit_info}
    return block


def ground_tracks(view: View, tracks: list[dict], smpl: SmplData, fps: float,
                  options: GroundOptions | None = None) -> Grounded:
    """tracks: Contract 3 arrays per track plus "track_id" (frame_index, global_orient (raw,
    crop-relative), body_pose, betas, transl (camera frame), bbox_xywh). Nothing is modified."""
    options = options or GroundOptions()
    cams, roots = camera_tracks(view, tracks, smpl)
    fit = fit_floor(cams, fps, options.floor)
    warnings = []
    if fit.found:
        c2w = camera_to_world(fit.normal, fit.offset)
    else:
        c2w = camera_frame_world()
        warnings.append(("GROUND_NOT_FOUND", f"no floor was found: {fit.reason}", NOT_FOUND_HINT))
    world = _world_block(view, fit, c2w, options)
    out = []
    for cam, root in zip(cams, roots):
        wt = world_track(cam, c2w)
        wt["camera_global_orient"] = root
        out.append(wt)
    if options.foot_lock == "auto":
        from backend.footlock.result_step import lock_world_tracks

        out, lock_warnings = lock_world_tracks(out, world, smpl, fps, mode="auto")
        warnings += lock_warnings
    return Grounded(world, out, warnings, fit)


def grounded_arrays(arrays: dict[str, np.ndarray], wt: dict) -> dict[str, np.ndarray]:
    """The track file's arrays (untouched) plus the world keys (float32) and camera_global_orient."""
    out = {k: v for k, v in arrays.items() if k != "track_id"}
    for key in GROUNDED_KEYS:
        out[key] = np.asarray(wt[key], dtype=np.float32)
    return out


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two vectors, degrees."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    c = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))
