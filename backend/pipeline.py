"""`run`: a video or image folder -> a Contract 3 result directory, streaming, for every person
(docs/contracts.md).

    load    models first: a missing or broken data file fails before any decoding
    pass 1  decode -> detect -> track (only boxes are kept); with --bbox: decode to count frames
    pass 2  decode again -> crop each track's box -> backbone features in batches, (F,2048) per track
    regress TCMR per track (official windowing inside `regress_track`)
    camera  crop camera -> translation in metres (one focal length for the video), optional smoothing
    write   staged track files, result.json last, in one rename (backend.result.ResultWriter,
            which also holds --out's lock from before loading until the end)

Peak memory is the models plus per-frame results (boxes, then 8 KB of features per tracked frame),
never the frames: each pass holds one decoded frame and one batch of crops at a time.
Shapes: F frames of a track, B batch.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend import datafiles, run_options
from backend.box_smoothing import BoxSmoothingConfig, raw_box_arrays, smooth_tracks
from backend.camera import crop_cam_to_transl, default_focal
from backend.confidence import confidence_arrays
from backend.crops import crop_batch
from backend.detection import DetectorConfig, check_frame_size, make_detector
from backend.engines import EngineConfig, make_feature_engine
from backend.engines.temporal_choice import with_temporal_engine
from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.frame_rate import window_span_s, window_stride
from backend.prefetch import Prefetch
from backend.result import ResultWriter, result_meta, track_arrays, track_entry
from backend.smoothing import METHODS as SMOOTH_METHODS
from backend.smoothing import SmoothingConfig, smooth_rotations, smooth_translation
from backend.tracking import (
    Track,
    Tracker,
    TrackerConfig,
    feed,
    fixed_track,
    missed_frames,
    select_main,
    strided_config,
)
from backend.video import FrameSource, SourceInfo
from backend.windowing import SEQLEN

MAIN_PERSON_MODES = run_options.OPTIONS["main_person"].choices  # ("none", "longest", "largest")
REGRESS_KEYS = ("pose", "betas", "pred_cam", "joints3d", "branch_rotmat")  # per-frame outputs kept (if made)
MAX_PIXELS = 1e6  # bound of --bbox coordinates and --focal (pixels)
MAX_FPS = 1000.0
PREFETCH_FRAMES = 8  # decoded frames read ahead in a background thread (backend.prefetch); 0: none


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
    ground: str = run_options.default("ground")  # auto: add the world keys (docs/world.md); off: camera frame
    foot_lock: str = run_options.default("foot_lock")  # with ground auto: foot contact + locking (off | auto)
    checkpoint: str | None = run_options.default("checkpoint")  # TCMR checkpoint; None: the folder's
    model: str = run_options.default("model")  # temporal model: tcmr | vibe (docs/models.md)
    box_smoothing: bool = run_options.default("box_smoothing")  # zero-lag crop-box smoothing; False: official
    native_windows: bool = run_options.default("native_windows")  # True: 16 consecutive frames at any fps
    min_person_height: float = run_options.default("min_person_height")  # HOG: smallest person, frame height
    detect_every: int = run_options.default("detect_every")  # detector on every K-th frame; tracker between
    hog_full_every: int = run_options.default("hog_full_every")  # HOG: whole frame every N-th call
    engine: str = run_options.default("engine")  # auto | torch | onnxruntime (backend.engines)
    precision: str = run_options.default("precision")  # backbone precision: fp32 | bf16 | int8

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
        if self.bbox is not None and not all(math.isfinite(v) and abs(v) <= MAX_PIXELS for v in self.bbox):
            raise bad(f"--bbox needs finite pixel values within +-{MAX_PIXELS:g}, got {self.bbox}",
                      "E.g. --bbox 100,50,200,400.")
        if self.focal is not None and not 0 < self.focal <= MAX_PIXELS:
            raise bad(f"--focal must be a finite number of pixels in (0, {MAX_PIXELS:g}], got {self.focal}",
                      "Leave it out to use the default.")
        if self.smooth not in SMOOTH_METHODS:
            raise bad(f"unknown --smooth '{self.smooth}'", f"Use one of {', '.join(SMOOTH_METHODS)}.")
        if self.main_person not in MAIN_PERSON_MODES:
            raise bad(f"unknown --main-person '{self.main_person}'",
                      f"Use one of {', '.join(MAIN_PERSON_MODES)}.")
        for name in ("min_track_length", "batch_size", "regress_batch_size"):
            if getattr(self, name) < 1:
                raise bad(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}",
                          "Use e.g. 16.")
        if not 0 < self.image_fps <= MAX_FPS:
            raise bad(f"--fps must be a finite frame rate in (0, {MAX_FPS:g}], got {self.image_fps}",
                      "E.g. --fps 30.")
        for name in ("ground", "foot_lock", "model"):
            choices = run_options.OPTIONS[name].choices
            if getattr(self, name) not in choices:
                raise bad(f"unknown --{name.replace('_', '-')} '{getattr(self, name)}'",
                          f"Use one of {', '.join(choices)}.")
        if not 0.05 <= self.min_person_height <= 1.0:
            raise bad(f"--min-person-height must be between 0.05 and 1, got {self.min_person_height}",
                      "E.g. 0.3 (a third of the frame height); smaller finds smaller people, slower.")
        if self.detect_every < 1:
            raise bad(f"--detect-every must be >= 1, got {self.detect_every}",
                      "Use 1 to detect on every frame, 2 (the default) for every other frame.")
        if self.hog_full_every < 1:
            raise bad(f"--hog-full-every must be >= 1, got {self.hog_full_every}",
                      "Use 1 to search the whole frame on every detector call, or a larger number.")
        from backend.engines import check_choice

        check_choice(self.engine, self.precision)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["bbox"] = list(self.bbox) if self.bbox is not None else None
        return d


def _oom_warning(reporter: Reporter) -> Callable[[str, int], None]:
    def on_shrink(stage: str, size: int) -> None:
        reporter.warning("OUT_OF_MEMORY_RETRY", f"out of memory in the {stage} stage: retrying with batches "
                                                f"of {size}", "Smaller --batch-size avoids this.")

    return on_shrink


def _check_source(config: RunConfig, info: SourceInfo, detector) -> None:
    """What can be told from the source's header, before anything loads."""
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
    elif detector is None:
        check_frame_size(info.width, info.height, DetectorConfig(onnx_path=config.detector))


def _load_models(config: RunConfig, reporter: Reporter):
    from backend.device import resolve_device
    from backend.models.loading import load_models

    reporter.stage("load", f"Loading the {config.model.upper()} model")
    models = load_models(config.data_dir, resolve_device(config.device), backbone=True, model=config.model,
                         checkpoint=datafiles.checkpoint_path(config.checkpoint))
    if models.synthetic:
        reporter.warning("SYNTHETIC_DATA",
                         f"the model data in {models.data_dir} is synthetic (random weights): "
                         "the output is meaningless",
                         "Install the real model data (see `python -m backend check`).")
    return models


def _default_tracker(detect_every: int = 1) -> Tracker:
    # Length filtering is ours (_filter_tracks); the miss counts are rescaled to the detector's stride.
    return Tracker(strided_config(TrackerConfig(min_track_length=1), detect_every))


def _detect(tracker, detector, index: int, frame: np.ndarray) -> None:
    feed(tracker, index, np.asarray(detector(frame), dtype=np.float32).reshape(-1, 5), frame)


def _pass1(source: FrameSource, config: RunConfig, reporter: Reporter, detector, tracker_factory):
    """Decode (+ detect + track) the range -> (tracks, decoded frame count). The detector runs on
    every --detect-every'th frame of the range and on its last frame (so tracks reach the end);
    the tracker interpolates the boxes of the frames between (backend.tracking)."""
    stage = "decode" if config.bbox is not None else "detect"
    reporter.stage(stage, "Counting frames" if config.bbox is not None else "Detecting and tracking people")
    expected = source.expected_frames(config.start, config.end)
    tracker = tracker_factory() if config.bbox is None else None
    count = 0
    skipped = None  # (index, frame): the latest frame, when the detector skipped it
    with Prefetch(source.frames(config.start, config.end), PREFETCH_FRAMES) as frames:
        for index, frame in frames:
            if tracker is not None:
                if count % config.detect_every == 0:
                    _detect(tracker, detector, index, frame)
                    skipped = None
                else:
                    skipped = (index, frame)
            count += 1
            reporter.progress(stage, count, max(expected, count))
    if skipped is not None:
        _detect(tracker, detector, *skipped)
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


def _filter_tracks(tracks: list[Track], config: RunConfig, reporter: Reporter, decoded: int) -> list[Track]:
    """Drop tracks detected in fewer than --min-track-length frames (gap-filled frames do not count;
    capped at the decoded frames, so a person seen throughout a shorter clip is kept), then keep the
    main person if asked."""
    # With --detect-every K the detector sees at most every K-th frame: the threshold counts
    # frames of the clip, so a track needs ceil(min_length / K) detected frames.
    min_length = min(config.min_track_length, decoded)
    needed = -(-min_length // config.detect_every)
    kept = [t for t in tracks if t.observed >= needed]
    dropped = len(tracks) - len(kept)
    if dropped:
        seen = f" ({needed} detections at --detect-every {config.detect_every})" if needed < min_length \
            else ""
        reporter.warning("SHORT_TRACKS_DROPPED",
                         f"{dropped} track(s) detected in fewer than {min_length} frames{seen} were dropped",
                         "Lower --min-track-length to keep them.")
    if config.main_person != "none":
        kept = select_main(kept, config.main_person)
    if not kept:
        extra = f" ({dropped} detected in fewer than {min_length} frames were dropped)" if dropped else ""
        raise BackendError(Code.NO_PERSON, f"no person was found in {config.input}{extra}",
                           "Give the person's box with --bbox X,Y,W,H (pixels, top-left and size)"
                           + (", or lower --min-track-length" if dropped else "") + ".")
    return kept


class _FeatureStage:
    """Pass 2: crops of every track's boxes, through the backbone in batches of batching.features."""

    def __init__(self, tracks: list[Track], engine, batching, reporter: Reporter) -> None:
        """engine: backend.engines feature engine, (crops (B,3,224,224) np, batching) -> (B,2048) np."""
        self.tracks, self.engine, self.batching, self.reporter = tracks, engine, batching, reporter
        self.features = [np.zeros((len(t), 2048), dtype=np.float32) for t in tracks]
        self.total = sum(len(t) for t in tracks)
        self.done = 0
        self.backbone_s = 0.0  # time inside the backbone calls (benchmarks: the rest is the overhead)
        self.crops: list[np.ndarray] = []
        self.rows: list[tuple[int, int]] = []  # (track position, row) of each pending crop

    def add(self, frame: np.ndarray, targets: list[tuple[int, int]]) -> None:
        boxes = np.stack([self.tracks[ti].boxes[row] for ti, row in targets])
        self.crops.append(crop_batch(frame, boxes))
        self.rows.extend(targets)
        if len(self.rows) >= self.batching.features:
            self.flush()

    def flush(self) -> None:
        if not self.crops:
            return
        crops = np.concatenate(self.crops, axis=0)  # (B, 3, 224, 224)
        t0 = time.perf_counter()
        feats = self.engine(crops, self.batching)  # (B, 2048)
        self.backbone_s += time.perf_counter() - t0
        for (ti, row), f in zip(self.rows, feats):
            self.features[ti][row] = f
        self.done += len(self.rows)
        self.crops.clear()
        self.rows.clear()
        self.reporter.progress("features", self.done, self.total)


def _pass2(source: FrameSource, stage: _FeatureStage) -> list[np.ndarray]:
    """Decode again, crop every track's box, backbone in batches -> per track (F,2048) float32."""
    tracks = stage.tracks
    stage.reporter.stage("features", f"Extracting image features ({stage.total} person-frames)")
    wanted: dict[int, list[tuple[int, int]]] = {}  # frame -> [(track position, row)]
    for ti, track in enumerate(tracks):
        for row, frame_index in enumerate(track.frames.tolist()):
            wanted.setdefault(frame_index, []).append((ti, row))
    first = min(int(t.frames[0]) for t in tracks)
    last = max(int(t.frames[-1]) for t in tracks)
    with Prefetch(source.frames(first, last + 1), PREFETCH_FRAMES) as frames:  # decode ahead
        for index, frame in frames:
            targets = wanted.pop(index, None)
            if targets:
                stage.add(frame, targets)
    stage.flush()
    if wanted:
        raise BackendError(Code.VIDEO_CORRUPT, f"{source.info.path} decoded fewer frames the second time "
                                               f"(frame {min(wanted)} is missing)",
                           "The file may be damaged or still being written; re-encode it and run again.")
    return stage.features


def _regress_all(models, tracks: list[Track], features: list, batching, config: RunConfig,
                 reporter: Reporter, stride: int = 1) -> list[dict]:
    """Per track: features (F,2048) -> regress_track's outputs (F, ...). Linear in F. stride: frames
    between a window's frames (backend.frame_rate: 2 at 60 fps so a window spans ~0.5 s)."""
    from backend.models.inference import regress_track

    total = sum(len(t) for t in tracks)
    reporter.stage("regress", f"Regressing SMPL for {len(tracks)} person(s)")
    outputs = []
    offset = 0
    for n, track in enumerate(tracks):
        def progress(done, _total, base=offset):
            reporter.progress("regress", base + done, total)
        out = regress_track(models, features[n], progress=progress, batching=batching, stride=stride)
        outputs.append({key: out[key] for key in REGRESS_KEYS if key in out})
        if not config.save_features:
            features[n] = None  # (F,2048) no longer needed: free it before the next track
        offset += len(track)
    return outputs


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


def _write_tracks(writer: ResultWriter, models, tracks: list[Track], features: list, outputs: list[dict],
                  info: SourceInfo, focal: float, config: RunConfig, reporter: Reporter) -> list[dict]:
    """Camera translation, optional smoothing, Contract 3 arrays -> staged track files; entries."""
    from backend.models.smpl import rest_joints

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
                              feats if config.save_features else None) | raw_box_arrays(track)
        missed = missed_frames(track, config.detect_every)  # not the frames skipped by --detect-every
        arrays.update(confidence_arrays(out, arrays, missed, (info.width, info.height)))
        name = writer.write_track(track.id, arrays)
        entries.append(track_entry(track.id, name, track.frames, missed))
        reporter.progress("write", n, len(tracks))
    return entries


def _warn_frame_count(reporter: Reporter, info: SourceInfo, decoded: int, config: RunConfig) -> bool:
    """True when the decode reached the end of the clip; warns when the container's count lied."""
    reached_end = config.end is None or config.start + decoded < config.end
    if info.kind == "video" and reached_end and config.start + decoded != info.reported_frames:
        reporter.warning("FRAME_COUNT_MISMATCH",
                         f"the file claims {info.reported_frames} frames but {config.start + decoded} "
                         "could be decoded; using the decoded frames",
                         "Nothing to do unless frames are missing at the end.")
    return reached_end


def run(config: RunConfig, reporter: Reporter, detector=None, tracker_factory=None,
        models=None) -> tuple[Path, dict]:
    """Run the whole pipeline; returns (result directory, result event fields).

    detector: callable frame_bgr -> (N,5) [x1,y1,x2,y2,score] (default: backend.detection.make_detector);
    tracker_factory: () -> object with update(frame_index, dets) and finish() -> list[Track].
    Both are ignored with config.bbox. models: already loaded `load_models(...)` output to reuse
    (backend/batch: once per worker); None loads them here. Raises BackendError; leaves nothing
    behind on failure.
    """
    from backend.models.inference import Batching

    timings: dict[str, float] = {}
    source = FrameSource(config.input, config.image_fps)
    info = source.info
    _check_source(config, info, detector)
    with ResultWriter(config.out) as writer:  # takes --out's lock before the slow part
        t0 = time.perf_counter()
        models = _load_models(config, reporter) if models is None else models
        engine = make_feature_engine(models, EngineConfig(config.engine, config.precision), reporter)
        if config.bbox is None:
            detector = detector or make_detector(DetectorConfig(onnx_path=config.detector,
                                                                full_every=config.hog_full_every,
                                                                min_person_height=config.min_person_height))
            tracker_factory = tracker_factory or (lambda: _default_tracker(config.detect_every))
        timings["load"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        tracks, decoded = _pass1(source, config, reporter, detector, tracker_factory)
        timings["pass1"] = time.perf_counter() - t0
        reached_end = _warn_frame_count(reporter, info, decoded, config)
        if config.bbox is None:
            tracks = _filter_tracks(tracks, config, reporter, decoded)
            tracks = smooth_tracks(tracks, info.fps, BoxSmoothingConfig(enabled=config.box_smoothing))
        batching = Batching(config.batch_size, config.regress_batch_size, _oom_warning(reporter))

        t0 = time.perf_counter()
        stage = _FeatureStage(tracks, engine, batching, reporter)
        features = _pass2(source, stage)
        timings["features"] = time.perf_counter() - t0
        timings["backbone_in_features"] = stage.backbone_s

        t0 = time.perf_counter()
        person_frames = int(sum(len(t) for t in tracks))
        models = with_temporal_engine(models, EngineConfig(config.engine), reporter, frames=person_frames)
        stride = window_stride(info.fps, config.native_windows)
        outputs = _regress_all(models, tracks, features, batching, config, reporter, stride)
        timings["regress"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        focal = float(config.focal) if config.focal is not None else default_focal(info.width, info.height)
        entries = _write_tracks(writer, models, tracks, features, outputs, info, focal, config, reporter)
        end_frame = config.start + decoded
        meta = result_meta(config.to_dict(), info, (config.start, end_frame),
                           end_frame if reached_end else max(info.reported_frames, end_frame), reached_end,
                           focal, config.focal is not None, models.synthetic, entries,
                           producer_extra={"model": models.model_name, "checkpoint": models.checkpoint.name})
        meta["temporal_window"] = {"frames": SEQLEN, "stride": stride,
                                   "span_s": window_span_s(info.fps, stride)}
        if config.ground == "auto":  # the world keys (docs/world.md), on the staged tracks
            from backend.grounding.result_step import ground_staged, options_for

            meta = ground_staged(writer, meta, models.smpl_data, options_for(config.foot_lock), reporter)
        out_dir = writer.commit(meta)
        timings["write"] = time.perf_counter() - t0
    fields = {"tracks": len(entries), "frames": int(decoded), "person_frames": person_frames,
              "synthetic": bool(models.synthetic), "engine": engine.describe(),
              "temporal_engine": models.temporal.describe() if models.temporal is not None else "torch",
              "timings_s": {k: round(v, 3) for k, v in timings.items()}}
    return out_dir, fields

