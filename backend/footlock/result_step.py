"""Foot lock over all tracks of a grounded result: the adapter the `ground` step calls.

`lock_world_tracks(tracks, world, smpl_data, fps, mode)` takes the per-track world dicts of the
grounding step (world_global_orient (T,3), world_body_pose (T,23,3), world_transl (T,3),
betas (10,), frame_index (T,), contact (T,4), any other keys) and the result.json "world"
block (camera_to_world 4x4 list, ground_found), and returns (new track dicts, warnings as
(code, message, hint) tuples naming the track). Without a floor (ground_found false) nothing
is done: contact stays zeros (GROUND_NOT_FOUND has already been reported).
"""

from __future__ import annotations

import numpy as np

from .lock import apply_foot_lock


def lock_world_tracks(tracks: list[dict], world: dict, smpl_data, fps: float,
                      mode: str = "auto") -> tuple[list[dict], list[tuple[str, str, str]]]:
    out, warnings = [], []
    if not world.get("ground_found", False):
        return [dict(t) for t in tracks], warnings
    c2w = np.asarray(world["camera_to_world"], dtype=np.float64)
    for index, track in enumerate(tracks):
        new, contact, report = apply_foot_lock(track, c2w, smpl_data, fps, mode=mode)
        new["contact"] = contact.astype(np.float32)
        out.append(new)
        name = track.get("track_id", index)
        for w in report["warnings"]:
            warnings.append((w["code"], f"track {name}: {w['message']}", w["hint"]))
    return out, warnings
