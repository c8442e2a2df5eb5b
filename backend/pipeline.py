"""`run`: a video or image folder -> a Contract 3 result directory, streaming, for every person
(docs/contracts.md).

    load    models first: a missing or broken data file fails before any decoding
    pass 1  decode -> detect -> track (only boxes are kept); with --bbox: decode to count frames
    pass 2  decode again -> crop each track's box -> backbone features in batches, (F,2048) per track
    regress TCMR per track (official windowing inside `regress_track`)
    camera  crop camera -> translation in metres (one focal length for the video), optional smoothing
    write   staged track files, result.json last (backend.result.ResultWriter)

Peak memory is the models plus per-frame results (boxes, then 8 KB of features per tracked frame),
never the frames: each pass holds one decoded frame and one batch of crops at a time.
Shapes: F frames of a track, B batch.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend import __version__, run_options
from backend.camera import crop_cam_to_transl, default_focal
from backend.confidence import confidence_arrays
from backend.crops import crop_batch
from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.result import FORMAT_VERSION, ResultWriter, track_arrays
from backend.smoothing import METHODS as SMOOTH_METHODS
from backend.smoothing import SmoothingConfig, smooth_rotations, smooth_translation
from backend.tracking import Track, fixed_track
from backend.video import FrameSource

MAIN_PERSON_MODES = run_options.OPTIONS["main_person"].choices  # ("none", "longest", "largest")
REGRESS_KEYS = ("pose", "betas", "pred_cam", "joints3d", "branch_rotmat")  # the per-frame outputs kept
FOCAL_RULE = ("sqrt(W^2 + H^2) px: the image diagonal, a ~53 degree diagonal field of view (CLIFF's "
              "assumption for an unknown camera); TCMR's own 5000 px on a 224 crop is a near-orthographic "
              "stand-in, not a lens")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's output; saved as result.json "config"."""

    input: str
    out: str
    data_dir: str | None = None
    device: str = "auto"
    # Defaults: backend/run_options.json, the one table the CLI and the add-on read too.
    bbox: tuple[float, float, float, float] | None = run_options.default("bbox")  # X,Y,W,H px: no detector
    detector: str | None = run_options.default("detector")  # ONNX person detector; None: the embedded one
    start: int = run_options.default("start")  # first source frame (0-based, inclusive)
    end: int | None = run_options.default("end")  # stop before this source frame (exclusive); None: the end
    focal: float | None = run_options.default("focal")  # pixels; None: default_focal(W, H)
    smooth: str = run_options.default("smooth")  # none (the official demo) | oneeuro | slerp
    save_features: bool = run_options.default("save_features")
    main_person: str = run_options.default("main_person")  # none: every person; longest | largest
    min_track_length: int = run_options.default("min_track_length")  # frames; shorter tracks dropped
    batch_size: int = run_options.default("batch_size")  # crops per backbone batch
    regress_batch_size: int = run_options.default("regress_batch_size")  # windows per TCMR batch
    image_fps: float = run_options.default("image_fps")  # frame rate recorded for an image folder

    def __post_init__(self) -> None:
        def bad(message: str, hint: str) -> BackendError:
            return BackendError(Code.BAD_ARGUMENT, message, hint)

        if self.start < 0:
            raise bad(f"--start must be >= 0, got {self.start}", "Frame numbers start at 0.")
        if self.end is not None and self.end <= self.start:
            raise bad(f"--end ({self.end}) must be greater than --start ({self.start})",
                      "--end is exclusive: --start 10 --end 20 processes frames 10..19.")
        if self.bbox is not None and (len(self.bbox) != 4 or not (self.bbox[2] > 0 and self.bbox[3] > 0)):
            raise bad(f"--bbox needs X,Y,W,H with W and H > 0, got {self.bbox}",
                      "E.g. --bbox 100,50,200,400.")
        if self.focal is not None and not self.focal > 0:
            raise bad(f"--focal must be > 0 pixels, got {self.focal}", "Leave it out to use the default.")
        if self.smooth not in SMOOTH_METHODS:
            raise bad(f"unknown --smooth '{self.smooth}'", f"Use one of {', '.join(SMOOTH_METHODS)}.")
        if self.main_person not in MAIN_PERSON_MODES:
            raise bad(f"unknown --main-person '{self.main_person}'",
                      f"Use one of {', '.join(MAIN_PERSON_MODES)}.")
        for name in ("min_track_length", "batch_size", "regress_batch_size"):
            if getattr(self, name) < 1:
                raise bad(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}",
                          "Use e.g. 16.")
        if not self.image_fps > 0:
            raise bad(f"--fps must be > 0, got {self.image_fps}", "E.g. --fps 30.")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["bbox"] = list(self.bbox) if self.bbox is not None else None
        return d


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (isinstance(exc, RuntimeError)
                                                          and "out of memory" in str(exc).lower())


def _free_device_memory(models) -> None:
    import torch

    if models.device.type == "cuda":
        torch.cuda.empty_cache()


def _oom_error(stage: str) -> BackendError:
    return BackendError(Code.OUT_OF_MEMORY, f"out of memory in the {stage} stage, even one item at a time",
                        "Close other programs using the GPU, or run with --device cpu.")


class _Batches:
    """Current batch sizes; halved on out-of-memory and kept small for the rest of the run."""

    def __init__(self, features: int, regress: int, reporter: Reporter) -> None:
        self.features = features
        self.regress = regress
        self.reporter = reporter
        self.backbone_s = 0.0  # time inside the backbone calls (benchmarks: the rest is the overhead)

    def shrink(self, which: str) -> None:
        value = getattr(self, which)
        if value <= 1:
            raise _oom_error(which)
        setattr(self, which, value // 2)
        self.reporter.warning("OUT_OF_MEMORY_RETRY",
                              f"out of memory in the {which} stage: retrying with batches of {value // 2}",
                              "Smaller --batch-size avoids this.")


def _backbone(models, crops: np.ndarray, batches: _Batches) -> np.ndarray:
    """crops (B,3,224,224) float32 -> (B,2048) float32, halving the batch on out-of-memory."""
    import torch

    from backend.models.inference import extract_features

    out = []
    i = 0
    while i < len(crops):
        size = batches.features
        try:
            t0 = time.perf_counter()
            out.append(extract_features(models, torch.from_numpy(crops[i:i + size])).cpu().numpy())
            batches.backbone_s += time.perf_counter() - t0
        except (RuntimeError, MemoryError) as exc:
            if not (_is_oom(exc) or isinstance(exc, MemoryError)):
                raise
            _free_device_memory(models)
            batches.shrink("features")
            continue
        i += size
    return np.concatenate(out, axis=0)


def _regress(models, features: np.ndarray, batches: _Batches, progress: Callable[[int, int], None]) -> dict:
    """One track's features (F,2048) -> regress_track's outputs (F, ...), retried with smaller
    window batches on out-of-memory. Time and memory are linear in F (backend.models.temporal)."""
    from backend.models.inference import regress_track

    while True:
        try:
            out = regress_track(models, features, batch_size=batches.regress, progress=progress)
            return {key: out[key] for key in REGRESS_KEYS if key in out}
        except (RuntimeError, MemoryError) as exc:
            if not (_is_oom(exc) or isinstance(exc, MemoryError)):
                raise
            _free_device_memory(models)
            batches.shrink("regress")


def _tracking_api(name: str):
    """One name of the tracking interface (backend.tracking, or backend.detection)."""
    import backend.detection as detection
    import backend.tracking as tracking

    obj = getattr(tracking, name, None) or getattr(detection, name, None)
    if obj is None:
        raise BackendError(Code.INTERNAL, f"person tracking is not available in this build ({name} missing)",
                           "Use --bbox X,Y,W,H to give the person's box.")
    return obj


def _select_main(tracks: list[Track], mode: str, select_main) -> list[Track]:
    if mode == "none" or not tracks:
        return tracks
    chosen = select_main(tracks, mode)
    if chosen is None:
        return []
    return list(chosen) if isinstance(chosen, list | tuple) else [chosen]


def _pass1(source: FrameSource, config: RunConfig, reporter: Reporter, detector, tracker_factory):
    """Decode (+ detect + track) the range -> (tracks, decoded frame count, detected track count)."""
    stage = "decode" if config.bbox is not None else "detect"
    reporter.stage(stage, "Counting frames" if config.bbox is not None else "Detecting and tracking people")
    expected = source.expected_frames(config.start, config.end)
    tracker = tracker_factory() if config.bbox is None else None
    count = 0
    for index, frame in source.frames(config.start, config.end):
        if tracker is not None:
            tracker.update(index, np.asarray(detector(frame), dtype=np.float32).reshape(-1, 5))
        count += 1
        reporter.progress(stage, count, max(expected, count))
    reporter.progress(stage, count, count)
    if count == 0:
        raise BackendError(Code.VIDEO_EMPTY, f"no frames in the range --start {config.start}"
                           + (f" --end {config.end}" if config.end is not None else "")
                           + f" of {source.info.path}",
                           f"The clip has about {source.info.reported_frames} frames; "
                           "choose a range inside it.")
    if config.bbox is not None:
        return [fixed_track(np.arange(config.start, config.start + count), config.bbox)], count
    return list(tracker.finish()), count


def _filter_tracks(tracks: list[Track], config: RunConfig, reporter: Reporter, select_main,
                   decoded: int) -> list[Track]:
    """Drop tracks shorter than --min-track-length (capped at the decoded frames, so a person seen
    throughout a shorter clip is kept), then keep the main person if asked."""
    min_length = min(config.min_track_length, decoded)
    kept = [t for t in tracks if len(t) >= min_length]
    dropped = len(tracks) - len(kept)
    if dropped:
        reporter.warning("SHORT_TRACKS_DROPPED",
                         f"{dropped} track(s) shorter than {min_length} frames were dropped",
                         "Lower --min-track-length to keep them.")
    kept = _select_main(kept, config.main_person, select_main)
    if not kept:
        extra = f" ({dropped} shorter than {min_length} frames were dropped)" if dropped else ""
        raise BackendError(Code.NO_PERSON, f"no person was found in {config.input}{extra}",
                           "Give the person's box with --bbox X,Y,W,H (pixels, top-left and size)"
                           + (", or lower --min-track-length" if dropped else "") + ".")
    return kept


def _pass2(source: FrameSource, tracks: list[Track], models, batches: _Batches,
           reporter: Reporter) -> list[np.ndarray]:
    """Decode again, crop every track's box, backbone in batches -> per track (F,2048) float32."""
    total = sum(len(t) for t in tracks)
    reporter.stage("features", f"Extracting image features ({total} person-frames)")
    features = [np.zeros((len(t), 2048), dtype=np.float32) for t in tracks]
    wanted: dict[int, list[tuple[int, int]]] = {}  # frame -> [(track position, row)]
    for ti, track in enumerate(tracks):
        for row, frame_index in enumerate(track.frames.tolist()):
            wanted.setdefault(frame_index, []).append((ti, row))
    first = min(int(t.frames[0]) for t in tracks)
    last = max(int(t.frames[-1]) for t in tracks)
    pending_crops: list[np.ndarray] = []
    pending_rows: list[tuple[int, int]] = []
    done = 0

    def flush() -> None:
        nonlocal done
        if not pending_crops:
            return
        crops = np.concatenate(pending_crops, axis=0)  # (B, 3, 224, 224)
        feats = _backbone(models, crops, batches)  # (B, 2048)
        for (ti, row), f in zip(pending_rows, feats):
            features[ti][row] = f
        done += len(pending_rows)
        pending_crops.clear()
        pending_rows.clear()
        reporter.progress("features", done, total)

    for index, frame in source.frames(first, last + 1):
        targets = wanted.pop(index, None)
        if not targets:
            continue
        boxes = np.stack([tracks[ti].boxes[row] for ti, row in targets])
        pending_crops.append(crop_batch(frame, boxes))
        pending_rows.extend(targets)
        if len(pending_rows) >= batches.features:
            flush()
    flush()
    if wanted:
        raise BackendError(Code.VIDEO_CORRUPT, f"{source.info.path} decoded fewer frames the second time "
                                               f"(frame {min(wanted)} is missing)",
                           "The file may be damaged or still being written; re-encode it and run again.")
    return features


def _smoothed_joints(models, pose: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """pose (F,72) axis-angle, betas (F,10) -> joints3d (F,49,3) of the SMPL layer (after smoothing)."""
    import torch
    from scipy.spatial.transform import Rotation

    rotmat = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(-1, 24, 3, 3)
    out = []
    with torch.inference_mode():
        for i in range(0, len(pose), 256):
            r = torch.from_numpy(rotmat[i:i + 256].astype(np.float32)).to(models.device)
            b = torch.from_numpy(betas[i:i + 256].astype(np.float32)).to(models.device)
            out.append(models.smpl(r, b)[1].float().cpu().numpy())
    return np.concatenate(out, axis=0)


def run(config: RunConfig, reporter: Reporter, detector=None, tracker_factory=None) -> tuple[Path, dict]:
    """Run the whole pipeline; returns (result directory, result event fields).

    detector: callable frame_bgr -> (N,5) [x1,y1,x2,y2,score] (default: backend.detection.make_detector);
    tracker_factory: () -> object with update(frame_index, dets) and finish() -> list[Track].
    Both are ignored with config.bbox. Raises BackendError; leaves nothing behind on failure.
    """
    from backend.device import resolve_device
    from backend.models.loading import load_models
    from backend.models.smpl import rest_joints

    timings: dict[str, float] = {}
    source = FrameSource(config.input, config.image_fps)
    info = source.info
    if info.kind == "images" and config.start >= info.reported_frames:
        raise BackendError(Code.VIDEO_EMPTY,
                           f"--start {config.start} is past the last of {info.reported_frames} images in "
                           f"{info.path}",
                           "Choose a range inside the folder.")
    if config.bbox is not None:
        x, y, w, h = config.bbox
        if x >= info.width or y >= info.height or x + w <= 0 or y + h <= 0:
            raise BackendError(Code.BAD_ARGUMENT,
                               f"--bbox {config.bbox} lies outside the {info.width}x{info.height} frame",
                               "Give X,Y,W,H in pixels of the video frame.")

    t0 = time.perf_counter()
    reporter.stage("load", "Loading the TCMR model")
    models = load_models(config.data_dir, resolve_device(config.device), backbone=True)
    if models.synthetic:
        reporter.warning("SYNTHETIC_DATA",
                         f"the model data in {models.data_dir} is synthetic (random weights): "
                         "the output is meaningless",
                         "Install the real model data (see `python -m backend check`).")
    select_main = None
    if config.bbox is None:
        if config.main_person != "none":
            select_main = _tracking_api("select_main")
        if detector is None:
            detector_config = _tracking_api("DetectorConfig")(onnx_path=config.detector)
            detector = _tracking_api("make_detector")(detector_config)
        if tracker_factory is None:
            tracker_class, tracker_config = _tracking_api("Tracker"), _tracking_api("TrackerConfig")

            def tracker_factory():  # length filtering is ours (_filter_tracks), to report what is dropped
                return tracker_class(tracker_config(min_track_length=1))
    timings["load"] = time.perf_counter() - t0

    with ResultWriter(config.out) as writer:
        t0 = time.perf_counter()
        tracks, decoded = _pass1(source, config, reporter, detector, tracker_factory)
        timings["pass1"] = time.perf_counter() - t0
        reached_end = config.end is None or config.start + decoded < config.end
        if info.kind == "video" and reached_end and config.start + decoded != info.reported_frames:
            reporter.warning("FRAME_COUNT_MISMATCH",
                             f"the file claims {info.reported_frames} frames but {config.start + decoded} "
                             "could be decoded; using the decoded frames",
                             "Nothing to do unless frames are missing at the end.")
        if config.bbox is None:
            tracks = _filter_tracks(tracks, config, reporter, select_main, decoded)
        batches = _Batches(config.batch_size, config.regress_batch_size, reporter)

        t0 = time.perf_counter()
        features = _pass2(source, tracks, models, batches, reporter)
        timings["features"] = time.perf_counter() - t0
        timings["backbone_in_features"] = batches.backbone_s

        t0 = time.perf_counter()
        total = sum(len(t) for t in tracks)
        reporter.stage("regress", f"Regressing SMPL for {len(tracks)} person(s)")
        outputs = []
        offset = 0
        for n, track in enumerate(tracks):
            def progress(done, _total, base=offset):
                reporter.progress("regress", base + done, total)
            outputs.append(_regress(models, features[n], batches, progress))
            if not config.save_features:
                features[n] = None  # (F,2048) no longer needed: free it before the next track
            offset += len(track)
        timings["regress"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        focal = float(config.focal) if config.focal is not None else default_focal(info.width, info.height)
        smoothing = SmoothingConfig(method=config.smooth)
        reporter.stage("write", f"Writing {len(tracks)} track(s) to {writer.out_dir}")
        entries = []
        for n, (track, feats, out) in enumerate(zip(tracks, features, outputs), start=1):
            pose = out["pose"]  # (F, 72)
            joints3d = out["joints3d"]  # (F, 49, 3)
            transl = crop_cam_to_transl(out["pred_cam"], track.boxes, info.width, info.height, focal)  # (F,3)
            if smoothing.method != "none":
                pose = smooth_rotations(pose.reshape(-1, 24, 3), smoothing).reshape(-1, 72)
                transl = smooth_translation(transl, smoothing)
                joints3d = _smoothed_joints(models, pose, out["betas"])
            betas = out["betas"].astype(np.float64).mean(axis=0)
            arrays = track_arrays(track.frames, pose, out["betas"], transl, out["pred_cam"], track.boxes,
                                  joints3d, rest_joints(models.smpl_data, betas),
                                  feats if config.save_features else None)
            arrays.update(confidence_arrays(out, arrays, track.interpolated, (info.width, info.height)))
            name = writer.write_track(track.id, arrays)
            entries.append({"id": int(track.id), "file": name, "num_frames": len(track),
                            "first_frame": int(track.frames[0]), "last_frame": int(track.frames[-1]),
                            "interpolated_frames": int(np.count_nonzero(track.interpolated))})
            reporter.progress("write", n, len(tracks))
        end_frame = config.start + decoded
        frame_count = end_frame if reached_end else max(info.reported_frames, end_frame)
        meta = {
            "format_version": FORMAT_VERSION,
            "producer": {"name": "tcmr-mocap-backend", "version": __version__,
                         "synthetic_model_data": bool(models.synthetic)},
            "config": config.to_dict(),
            "video": {"path": info.path, "kind": info.kind, "fps": info.fps, "frame_count": int(frame_count),
                      "frame_count_source": "decoded" if reached_end else "container",
                      "width": info.width, "height": info.height,
                      "processed_frames": [config.start, config.start + decoded]},
            "camera": {"model": "pinhole", "focal_length_px": focal,
                       "principal_point_px": [info.width / 2.0, info.height / 2.0],
                       "focal_source": "user" if config.focal is not None else "default",
                       "focal_rule": "--focal" if config.focal is not None else FOCAL_RULE,
                       "crop_box_scale": 1.2},
            "conventions": {"rotation": "axis-angle", "camera_frame": "opencv: x right, y down, z forward",
                            "units": "metres", "transl": "posed SMPL vertices + transl (smplx convention)",
                            "bbox_xywh": "top-left x, y and size of the square person box before the x1.2 "
                                         "crop margin, pixels"},
            "tracks": entries,
        }
        out_dir = writer.commit(meta)
        timings["write"] = time.perf_counter() - t0
    fields = {"tracks": len(entries), "frames": int(decoded), "person_frames": int(total),
              "synthetic": bool(models.synthetic),
              "timings_s": {k: round(v, 3) for k, v in timings.items()}}
    return out_dir, fields
