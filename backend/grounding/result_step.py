"""Grounding as a step on result arrays: shared by `ground` (a written result) and `run --ground`
(the staged tracks of a result being written). Adds the world keys, changes nothing else.
"""

from __future__ import annotations

import numpy as np

from backend.camera import crop_cam_to_transl
from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.grounding.ground import Grounded, GroundOptions, View, ground_tracks, grounded_arrays
from backend.smpl_file import SmplData


def refocus(arrays: list[dict], meta: dict, view: View) -> dict:
    """--focal: every track's transl from its crop camera with the new focal length (backend.camera),
    and the camera block updated. Returns the new meta (arrays are changed in place)."""
    for a in arrays:
        if "cam_weak" not in a or a["cam_weak"].shape != (len(a["frame_index"]), 3):
            raise BackendError(Code.RESULT_INVALID, "--focal needs each track's crop camera 'cam_weak'",
                               "Leave --focal out to keep the result's focal length, or re-run the video.")
        xywh = np.asarray(a["bbox_xywh"], dtype=np.float64)
        boxes = np.concatenate([xywh[:, :2] + xywh[:, 2:] / 2.0, xywh[:, 2:]], axis=1)
        a["transl"] = crop_cam_to_transl(a["cam_weak"], boxes, view.width, view.height,
                                         view.focal).astype(np.float32)
    meta = dict(meta)
    meta["camera"] = dict(meta["camera"], focal_length_px=view.focal, focal_source="user",
                          focal_rule="--focal")
    return meta


def ground_arrays(meta: dict, arrays: list[dict], view: View, fps: float, smpl: SmplData,
                  options: GroundOptions, reporter: Reporter) -> tuple[dict, list[dict], Grounded]:
    """-> (meta with "world", track arrays with the world keys, the grounding), warnings reported."""
    reporter.stage("ground", f"Fitting the floor under {len(arrays)} person(s)")
    grounded = ground_tracks(view, arrays, smpl, fps, options)
    for code, message, hint in grounded.warnings:
        reporter.warning(code, message, hint)
    reporter.progress("ground", 1, 1)
    meta = dict(meta, world=grounded.world)
    return meta, [grounded_arrays(a, wt) for a, wt in zip(arrays, grounded.tracks)], grounded


def options_for(foot_lock: str) -> GroundOptions:
    return GroundOptions(foot_lock=foot_lock)


def ground_staged(writer, meta: dict, smpl: SmplData, options: GroundOptions, reporter: Reporter) -> dict:
    """`run --ground auto`: ground the tracks already staged by a ResultWriter (rewritten there, so
    the commit stays all-or-nothing) and return the meta to commit."""
    camera, video = meta["camera"], meta["video"]
    view = View(float(camera["focal_length_px"]), tuple(float(v) for v in camera["principal_point_px"]),
                int(video["width"]), int(video["height"]))
    arrays = []
    for entry in meta["tracks"]:
        with np.load(writer.staging / entry["file"], allow_pickle=False) as npz:
            arrays.append({key: np.asarray(npz[key]) for key in npz.files} | {"track_id": entry["id"]})
    meta, out, _ = ground_arrays(meta, arrays, view, float(video["fps"]), smpl, options, reporter)
    for entry, a in zip(meta["tracks"], out):
        writer.files.remove(entry["file"])
        writer.write_track(int(entry["id"]), a)
    return meta
