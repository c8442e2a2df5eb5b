"""Track edits on a result directory: merge, split, swap, delete (docs/confidence_and_editing.md).

Pure numpy; the network comes in as `regress(features (N,2048)) -> regress_track outputs`, so
the maths is testable without a model. A track is a dict of its Contract 3 arrays (T rows).

Seams. Joining two pieces of motion puts a seam between rows s-1 and s of the new track (for a
merge with a gap, one seam on each side of the bridge). Output row t reads the window
[t-8, t+7], so only rows within half a window of a seam (s-8 <= t <= s+7, clipped to the track)
see different frames than before; exactly those rows (and the bridge) are re-solved, from the
saved features, with the real windows of the new track. Every other row is copied unchanged.

Bridge. The frames between two merged tracks get linearly interpolated features and boxes
(`interpolated` = True); their motion is what TCMR predicts on those windows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.camera import crop_cam_to_transl
from backend.confidence import track_confidence
from backend.errors import BackendError, Code
from backend.grounding.world import GROUNDED_KEYS
from backend.result import FORMAT_VERSION, RESULT_FILE, track_file_name
from backend.windowing import MID, SEQLEN

HALF_BEFORE, HALF_AFTER = MID, SEQLEN - MID - 1  # 8 frames before a row's own, 7 after
STATIC_KEYS = ("betas", "joints_rest", "parents")  # per-track, not per-row
WORLD_TRACK_KEYS = GROUNDED_KEYS  # what `ground` adds; dropped when rows are re-solved
FEATURES_HINT = ("Run the video again with `python -m backend run VIDEO --out DIR --save-features` (the "
                 "add-on saves features for the results it caches), then edit that result.")
Regress = Callable[[np.ndarray], dict]


@dataclass(frozen=True)
class Edit:
    """One edit. kind: merge (a, b) | split (a @ frame) | swap (a, b @ frame) | delete (a)."""

    kind: str
    a: int
    b: int | None = None
    frame: int | None = None

    def __str__(self) -> str:
        pair = f"{self.a},{self.b}" if self.b is not None else f"{self.a}"
        return f"{self.kind} {pair}" + (f"@{self.frame}" if self.frame is not None else "")

    @property
    def needs_network(self) -> bool:
        return self.kind != "delete"


@dataclass
class Result:
    """A loaded result directory: result.json `meta` and `tracks` {id: arrays}, in file order."""

    path: Path
    meta: dict
    tracks: dict[int, dict[str, np.ndarray]]

    @property
    def frame_size(self) -> tuple[int, int]:
        return int(self.meta["video"]["width"]), int(self.meta["video"]["height"])

    @property
    def focal(self) -> float:
        return float(self.meta["camera"]["focal_length_px"])


def _invalid(message: str) -> BackendError:
    return BackendError(Code.RESULT_INVALID, message,
                        "Give a complete result folder written by `python -m backend run`.")


def load_result(path: str | Path) -> Result:
    """Read result.json and every track file (no pickle); coded errors for anything missing."""
    path = Path(path).expanduser().resolve()
    if not (path / RESULT_FILE).is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"no {RESULT_FILE} in {path}",
                           "Give a result folder written by `python -m backend run`.")
    try:
        meta = json.loads((path / RESULT_FILE).read_text(encoding="utf-8"))
        version = int(meta["format_version"])
        entries = list(meta["tracks"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _invalid(f"{path / RESULT_FILE} is not a readable result ({exc})") from None
    if version > FORMAT_VERSION:
        raise BackendError(Code.RESULT_TOO_NEW, f"{path} has format_version {version}, newer than "
                                                f"{FORMAT_VERSION}", "Update the backend.")
    tracks = {}
    for entry in entries:
        file = path / str(entry.get("file", ""))
        try:
            with np.load(file, allow_pickle=False) as npz:
                tracks[int(entry["id"])] = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, KeyError) as exc:
            raise _invalid(f"track file {file} cannot be read ({exc})") from None
    return Result(path, meta, tracks)


def _missing(result: Result, track_id: int) -> BackendError:
    return BackendError(Code.BAD_ARGUMENT, f"there is no track {track_id} in {result.path}",
                        f"The tracks are {', '.join(map(str, result.tracks)) or 'none'}.")


def validate(result: Result, edits: list[Edit]) -> None:
    """Check all edits against the tracks they will meet (in order); raises before anything runs."""
    ranges = {i: (int(t["frame_index"][0]), int(t["frame_index"][-1])) for i, t in result.tracks.items()}
    has_features = {i: "features" in t for i, t in result.tracks.items()}
    next_id = max(ranges, default=0) + 1
    for edit in edits:
        for tid in (edit.a, edit.b):
            if tid is not None and tid not in ranges:
                raise _missing(result, tid)
        if edit.b is not None and edit.a == edit.b:
            raise BackendError(Code.BAD_ARGUMENT, f"{edit}: a track cannot be edited with itself",
                               "Name two different tracks.")
        used = [t for t in (edit.a, edit.b) if t is not None]
        if edit.needs_network and not all(has_features[t] for t in used):
            raise BackendError(Code.FEATURES_MISSING, f"{edit}: {result.path} has no saved features for "
                                                      f"track(s) {', '.join(map(str, used))}", FEATURES_HINT)
        if edit.frame is not None:
            for tid in used:
                lo, hi = ranges[tid]
                if not lo < edit.frame <= hi:
                    raise BackendError(Code.BAD_ARGUMENT, f"{edit}: frame {edit.frame} is not inside track "
                                                          f"{tid} (frames {lo}..{hi}, the cut needs a frame "
                                                          "after its first)",
                                       f"Pick a frame in {lo + 1}..{hi}.")
        if edit.kind == "merge":
            (a0, a1), (b0, b1) = ranges[edit.a], ranges[edit.b]
            if a0 <= b1 and b0 <= a1:
                raise BackendError(Code.BAD_ARGUMENT, f"{edit}: tracks {edit.a} ({a0}..{a1}) and {edit.b} "
                                                      f"({b0}..{b1}) overlap in time", "Merge only tracks "
                                   "that follow each other; split one first, or swap from a frame.")
            ranges[edit.a] = (min(a0, b0), max(a1, b1))
            del ranges[edit.b], has_features[edit.b]
        elif edit.kind == "split":
            ranges[next_id], has_features[next_id] = (edit.frame, ranges[edit.a][1]), True
            ranges[edit.a] = (ranges[edit.a][0], edit.frame - 1)
            next_id += 1
        elif edit.kind == "swap":
            (a0, a1), (b0, b1) = ranges[edit.a], ranges[edit.b]
            ranges[edit.a], ranges[edit.b] = (a0, b1), (b0, a1)
        elif edit.kind == "delete":
            if len(ranges) == 1:
                raise BackendError(Code.BAD_ARGUMENT, f"{edit}: it is the result's only track",
                                   "Keep at least one track.")
            del ranges[edit.a], has_features[edit.a]


def _rows(track: dict, rows: np.ndarray | slice) -> dict:
    return {k: (v if k in STATIC_KEYS else v[rows]) for k, v in track.items()}


def _concat(first: dict, second: dict) -> dict:
    keys = [k for k in first if k in second]  # optional keys survive only when both pieces have them
    return {k: (first[k] if k in STATIC_KEYS else np.concatenate([first[k], second[k]])) for k in keys}


def _bridge(first: dict, second: dict) -> dict:
    """Rows for the frames strictly between two pieces: features and boxes interpolated linearly,
    motion copied from the nearer side (re-solved afterwards), flagged `interpolated`."""
    f0, f1 = int(first["frame_index"][-1]), int(second["frame_index"][0])
    n = f1 - f0 - 1
    w = (np.arange(1, n + 1) / (n + 1))[:, None]  # (n, 1) in (0, 1)
    rows = {}
    for k in first:
        if k in STATIC_KEYS or k not in second:
            continue
        if k in ("features", "bbox_xywh"):
            a, b = first[k][-1].astype(np.float64), second[k][0].astype(np.float64)
            rows[k] = ((1 - w) * a + w * b).astype(first[k].dtype)
        elif k == "frame_index":
            rows[k] = np.arange(f0 + 1, f1, dtype=np.int64)
        elif k == "interpolated":
            rows[k] = np.ones(n, dtype=bool)
        else:
            near = np.where(w[:, 0] < 0.5, 0, 1)
            rows[k] = np.stack([first[k][-1], second[k][0]])[near]
    return rows


def join(first: dict, second: dict) -> tuple[dict, list[int]]:
    """Two pieces of one person, `first` ending before `second` starts -> (track, seam rows s)."""
    gap = int(second["frame_index"][0]) - int(first["frame_index"][-1]) - 1
    if gap < 0:
        raise ValueError("the pieces overlap")
    s0 = len(first["frame_index"])
    if gap == 0:
        return _concat(first, second), [s0]
    return _concat(_concat(first, _bridge(first, second)), second), [s0, s0 + gap]


def seam_rows(num_rows: int, seams: list[int], extra: np.ndarray | None = None) -> np.ndarray:
    """Rows whose window crosses a seam (s-8 <= t <= s+7), plus `extra` rows -> sorted (R,) int64."""
    mask = np.zeros(num_rows, dtype=bool)
    for s in seams:
        mask[max(0, s - HALF_BEFORE):min(num_rows, s + HALF_AFTER + 1)] = True
    if extra is not None:
        mask[extra] = True
    return np.flatnonzero(mask)


def resolve(track: dict, rows: np.ndarray, regress: Regress, frame_size: tuple[int, int],
            focal: float) -> dict:
    """Re-solve `rows` of `track` from its features with the track's own windows; other rows kept.

    Each run of rows r0..r1 is regressed on the feature slice [r0-8, r1+7] clipped to the track:
    inside it, rows r0..r1 get exactly the windows (real or static) they have in the whole track.
    """
    out = {k: (v if k in STATIC_KEYS else v.copy()) for k, v in track.items()}
    num = len(track["frame_index"])
    if len(rows) == 0:
        return out
    breaks = np.flatnonzero(np.diff(rows) > 1)
    for r0, r1 in zip(np.r_[rows[0], rows[breaks + 1]], np.r_[rows[breaks], rows[-1]]):
        lo, hi = max(0, int(r0) - HALF_BEFORE), min(num, int(r1) + HALF_AFTER + 1)
        pred = regress(track["features"][lo:hi])
        sel, take = slice(int(r0), int(r1) + 1), slice(int(r0) - lo, int(r1) + 1 - lo)
        pose = pred["pose"][take].reshape(-1, 24, 3)
        out["global_orient"][sel] = pose[:, 0]
        out["body_pose"][sel] = pose[:, 1:]
        out["betas_per_frame"][sel] = pred["betas"][take]
        out["cam_weak"][sel] = pred["pred_cam"][take]
        out["joints3d"][sel] = pred["joints3d"][take]
        box = out["bbox_xywh"][sel].astype(np.float64)
        centre = np.c_[box[:, 0] + box[:, 2] / 2, box[:, 1] + box[:, 3] / 2, box[:, 2:]]
        out["transl"][sel] = crop_cam_to_transl(pred["pred_cam"][take], centre, *frame_size, focal)
        if "confidence" in out and "branch_rotmat" in pred:
            interp = out["interpolated"][sel] if "interpolated" in out else None
            out["confidence"][sel] = track_confidence(pred["branch_rotmat"][take], interp, box, frame_size)
    out["betas"] = out["betas_per_frame"].astype(np.float64).mean(axis=0).astype(np.float32)
    return out


def _split_rows(track: dict, frame: int) -> tuple[dict, dict]:
    cut = int(np.searchsorted(track["frame_index"], frame))
    return _rows(track, slice(0, cut)), _rows(track, slice(cut, None))


def _joined(first: dict, second: dict, ctx: _Context) -> dict:
    """join + re-solve the rows near its seams (and the bridge)."""
    track, seams = join(first, second)
    bridge = np.arange(seams[0], seams[-1]) if len(seams) == 2 else None
    return ctx.resolve(track, seam_rows(len(track["frame_index"]), seams, bridge))


@dataclass
class _Context:
    regress: Regress | None
    frame_size: tuple[int, int]
    focal: float
    rest: Callable[[np.ndarray], np.ndarray] | None

    def resolve(self, track: dict, rows: np.ndarray) -> dict:
        out = resolve(track, rows, self.regress, self.frame_size, self.focal)
        if self.rest is not None:
            out["joints_rest"] = np.asarray(self.rest(out["betas"]), dtype=np.float32)
        return out


def _apply_one(tracks: dict[int, dict], edit: Edit, ctx: _Context) -> None:
    if edit.kind == "delete":
        del tracks[edit.a]
    elif edit.kind == "merge":
        a, b = tracks[edit.a], tracks.pop(edit.b)
        first, second = (a, b) if a["frame_index"][0] < b["frame_index"][0] else (b, a)
        tracks[edit.a] = _joined(first, second, ctx)
    elif edit.kind == "split":
        head, tail = _split_rows(tracks[edit.a], edit.frame)
        n_head, n_tail = len(head["frame_index"]), len(tail["frame_index"])
        tracks[edit.a] = ctx.resolve(head, seam_rows(n_head, [n_head]))
        tracks[max(tracks) + 1] = ctx.resolve(tail, seam_rows(n_tail, [0]))
    elif edit.kind == "swap":
        a_head, a_tail = _split_rows(tracks[edit.a], edit.frame)
        b_head, b_tail = _split_rows(tracks[edit.b], edit.frame)
        tracks[edit.a] = _joined(a_head, b_tail, ctx)
        tracks[edit.b] = _joined(b_head, a_tail, ctx)
    else:
        raise ValueError(f"unknown edit {edit.kind}")


def apply_edits(result: Result, edits: list[Edit], regress: Regress | None,
                rest: Callable[[np.ndarray], np.ndarray] | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict[int, dict]:
    """Validate, then apply `edits` in order -> the new tracks {id: arrays} (result untouched).

    regress: features (N,2048) -> regress_track outputs (needed unless every edit is a delete);
    rest: betas (10,) -> joints_rest (24,3), for tracks whose mean shape changed (None: kept).
    """
    validate(result, edits)
    ctx = _Context(regress, result.frame_size, result.focal, rest)
    tracks = {i: dict(t) for i, t in result.tracks.items()}
    for n, edit in enumerate(edits, start=1):
        _apply_one(tracks, edit, ctx)
        if progress is not None:
            progress(n, len(edits))
    return tracks


def drop_world(meta: dict, tracks: dict[int, dict]) -> bool:
    """Remove a grounded result's world block and per-track world keys (stale once rows are
    re-solved; `python -m backend ground` makes them again). True when there were any."""
    had = meta.pop("world", None) is not None
    for track in tracks.values():
        for key in WORLD_TRACK_KEYS:
            had |= track.pop(key, None) is not None
    return had


def track_entry(track_id: int, track: dict, file: str | None = None) -> dict:
    """The result.json `tracks` entry of one track (file: the name the writer gave it)."""
    frames = track["frame_index"]
    interp = track.get("interpolated")
    return {"id": int(track_id), "file": file or track_file_name(track_id), "num_frames": len(frames),
            "first_frame": int(frames[0]), "last_frame": int(frames[-1]),
            "interpolated_frames": int(np.count_nonzero(interp)) if interp is not None else 0}
