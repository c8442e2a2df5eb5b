"""The detection path of the pipeline, in process, with a fake detector and tracker (the stream
of boxes is known): several people, gaps, short tracks dropped, nobody found."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.pipeline import RunConfig, run
from backend.tracking import Track, square_box
from tests.pipeline.clips import write_mp4

# person A: every frame, box around x 30..90; person B: frames 4..11 only, a box at the right
BOX_A = (30.0, 10.0, 90.0, 110.0, 0.9)
BOX_B = (100.0, 20.0, 150.0, 100.0, 0.8)


def fake_detector(frame_bgr):
    fake_detector.index += 1
    i = fake_detector.index
    boxes = [BOX_A] + ([BOX_B] if 4 <= i <= 11 else [])
    return np.array(boxes, dtype=np.float32)


class FakeTracker:
    """Groups boxes by their x1 (one person each), ids in order of appearance from 1."""

    def __init__(self):
        self.seen: dict[float, list] = {}

    def update(self, frame_index, dets):
        assert dets.shape[1] == 5 and dets.dtype == np.float32
        for det in dets:
            self.seen.setdefault(float(det[0]), []).append((frame_index, square_box(*det[:4])))

    def finish(self):
        tracks = []
        for n, rows in enumerate(self.seen.values(), start=1):
            frames = np.array([r[0] for r in rows], dtype=np.int64)
            tracks.append(Track(n, frames, np.stack([r[1] for r in rows]), np.zeros(len(rows), bool)))
        return tracks


def _run(clip, out, data_dir, **kw):
    """The fake detector counts its calls as frames: every frame is detected (--detect-every 1)."""
    fake_detector.index = -1
    kw.setdefault("detect_every", 1)
    stream = io.StringIO()
    config = RunConfig(input=str(clip), out=str(out), data_dir=str(data_dir), device="cpu", batch_size=8,
                       **kw)
    try:
        path, fields = run(config, Reporter(jsonl=True, out=stream), detector=fake_detector,
                           tracker_factory=FakeTracker)
    finally:
        events = [json.loads(line) for line in stream.getvalue().splitlines()]
    return path, fields, events


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_mp4(tmp_path_factory.mktemp("det") / "two.mp4", 16)


def test_every_person_gets_a_track(clip, model_data_dir, tmp_path):
    path, fields, events = _run(clip, tmp_path / "o", model_data_dir, min_track_length=5)
    assert fields["tracks"] == 2
    assert [e["stage"] for e in events if e["event"] == "stage"] == ["load", "detect", "features", "regress",
                                                                      "write", "ground"]
    meta = json.loads((path / "result.json").read_text())
    assert [(t["id"], t["first_frame"], t["last_frame"], t["num_frames"]) for t in meta["tracks"]] == [
        (1, 0, 15, 16), (2, 4, 11, 8)]
    with np.load(path / "track_2.npz", allow_pickle=False) as b:
        assert np.array_equal(b["frame_index"], np.arange(4, 12))
        # corner box 100..150 x 20..100 -> square side 80 around (125, 60) -> top-left (85, 20)
        assert np.allclose(b["bbox_xywh"], [85.0, 20.0, 80.0, 80.0])
    features = [e for e in events if e["event"] == "progress" and e["stage"] == "features"]
    assert features[-1]["done"] == features[-1]["total"] == 24  # 16 + 8 person-frames


def test_short_tracks_are_dropped_with_a_warning(clip, model_data_dir, tmp_path):
    path, fields, events = _run(clip, tmp_path / "o", model_data_dir, min_track_length=10)
    assert fields["tracks"] == 1
    assert any(e["event"] == "warning" and e["code"] == "SHORT_TRACKS_DROPPED" for e in events)
    assert sorted(p.name for p in path.iterdir()) == ["result.json", "track_1.npz"]


def test_min_length_is_capped_at_the_clip(clip, model_data_dir, tmp_path):
    """A person seen in every frame of a clip shorter than --min-track-length is kept."""
    _, fields, events = _run(clip, tmp_path / "o", model_data_dir, min_track_length=100)
    assert fields["tracks"] == 1  # person A (16 of 16 frames); B (8 frames) dropped
    assert any(e["event"] == "warning" and e["code"] == "SHORT_TRACKS_DROPPED" for e in events)


def test_nobody_found(clip, model_data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(FakeTracker, "update", lambda self, i, dets: None)  # the detector finds nobody
    with pytest.raises(BackendError) as info:
        _run(clip, tmp_path / "o", model_data_dir)
    assert info.value.code == Code.NO_PERSON and "--bbox" in info.value.hint
    assert not (tmp_path / "o").exists()


def test_real_detector_and_tracker_find_nobody_in_an_empty_scene(model_data_dir, tmp_path):
    """The default HOG detector and SORT tracker, end to end in process: a plain dark clip."""
    import cv2

    clip = tmp_path / "empty.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (160, 120))
    for _ in range(6):
        writer.write(np.full((120, 160, 3), 30, np.uint8))
    writer.release()
    config = RunConfig(input=str(clip), out=str(tmp_path / "o"), data_dir=str(model_data_dir), device="cpu")
    with pytest.raises(BackendError) as info:
        run(config, Reporter(jsonl=True, out=io.StringIO()))
    assert info.value.code == Code.NO_PERSON
    assert not (tmp_path / "o").exists()


class SparseTracker(FakeTracker):
    """Person A is detected in every frame; person B only in frames 2, 8 and 14, gap-filled between."""

    def finish(self):
        a = super().finish()[0]
        frames = np.arange(2, 15)
        boxes = np.tile(square_box(*BOX_B[:4]), (len(frames), 1))
        b = Track(2, frames, boxes, ~np.isin(frames, [2, 8, 14]))
        return [a, b]


def test_the_length_filter_counts_detected_frames(clip, model_data_dir, tmp_path):
    fake_detector.index = -1
    stream = io.StringIO()
    config = RunConfig(input=str(clip), out=str(tmp_path / "o"), data_dir=str(model_data_dir), device="cpu",
                       batch_size=8, min_track_length=10, detect_every=1)
    _, fields = run(config, Reporter(jsonl=True, out=stream), detector=fake_detector,
                    tracker_factory=SparseTracker)
    assert fields["tracks"] == 1  # B spans 13 frames but was detected in only 3
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(e.get("code") == "SHORT_TRACKS_DROPPED" and "detected in fewer" in e["message"]
               for e in events)


class JitterTracker(FakeTracker):
    """Person A only, its box side alternating 100 / 110 px: detector jitter."""

    def finish(self):
        a = super().finish()[0]
        boxes = a.boxes.copy()
        boxes[1::2, 2:] *= 1.1
        return [Track(1, a.frames, boxes, np.zeros(len(boxes), bool))]


@pytest.mark.parametrize("smoothing", [True, False])
def test_crop_boxes_are_smoothed_and_the_raw_boxes_kept(clip, model_data_dir, tmp_path, smoothing):
    fake_detector.index = -1
    config = RunConfig(input=str(clip), out=str(tmp_path / "o"), data_dir=str(model_data_dir), device="cpu",
                       batch_size=8, box_smoothing=smoothing, detect_every=1)
    path, _ = run(config, Reporter(jsonl=True, out=io.StringIO()), detector=fake_detector,
                  tracker_factory=JitterTracker)
    with np.load(path / "track_1.npz", allow_pickle=False) as b:
        raw, crop, detected = b["bbox_raw_xywh"], b["bbox_xywh"], b["detected"]
    assert detected.all()
    np.testing.assert_allclose(raw[:, 2], [100.0, 110.0] * 8, rtol=1e-6)  # the tracker's boxes
    change = np.abs(np.diff(crop[:, 2]) / crop[:-1, 2])
    if smoothing:
        assert change.max() < 0.02
    else:
        np.testing.assert_array_equal(crop, raw)


def test_a_60_fps_clip_gets_one_row_per_frame_and_half_second_windows(model_data_dir, tmp_path, monkeypatch):
    import backend.models.inference as inference

    clip60 = write_mp4(tmp_path / "sixty.mp4", 40, fps=60.0)
    seen = []
    real = inference._regress_windows

    def spy(models, feats, idx, with_verts):
        seen.append(idx.cpu().numpy())
        return real(models, feats, idx, with_verts)

    monkeypatch.setattr(inference, "_regress_windows", spy)
    path, _, _ = _run(clip60, tmp_path / "o", model_data_dir, min_track_length=5)
    meta = json.loads((path / "result.json").read_text())
    assert meta["video"]["fps"] == pytest.approx(60.0)
    with np.load(path / "track_1.npz", allow_pickle=False) as b:
        assert b["frame_index"].tolist() == list(range(40)) and b["body_pose"].shape == (40, 23, 3)
    windows = seen[0]  # person A's 40 windows, one batch; rows are track positions = frames here
    assert windows.shape == (40, 16)
    assert meta["temporal_window"] == {"frames": 16, "stride": 2, "span_s": pytest.approx(0.25 * 2)}
    assert windows[20].tolist() == list(range(4, 36, 2))  # every second frame, 20 at the centre
    assert windows[21].tolist() == list(range(5, 37, 2))  # the in-between frame: its own window
    assert windows[10].tolist() == [10] * 16  # too near the start for a 0.5 s window: static


def test_detect_every_2_writes_every_frame_with_honest_flags(clip, model_data_dir, tmp_path):
    """The default --detect-every 2 with the real tracker: the detector runs on frames 0, 2, .., 14
    and the last (15); the track still has all 16 rows; `detected` is false on the skipped
    frames, `interpolated` only marks misses (none here)."""
    calls = []

    def detector(frame):
        calls.append(len(calls))
        return np.array([BOX_A], dtype=np.float32)

    config = RunConfig(input=str(clip), out=str(tmp_path / "o"), data_dir=str(model_data_dir), device="cpu",
                       batch_size=8, min_track_length=16)
    assert config.detect_every == 2  # the default
    path, fields = run(config, Reporter(jsonl=True, out=io.StringIO()), detector=detector)
    assert len(calls) == 9 and fields["tracks"] == 1 and fields["person_frames"] == 16
    meta = json.loads((path / "result.json").read_text())
    assert meta["config"]["detect_every"] == 2 and meta["tracks"][0]["interpolated_frames"] == 0
    with np.load(path / "track_1.npz", allow_pickle=False) as b:
        assert b["frame_index"].tolist() == list(range(16))
        assert np.flatnonzero(b["detected"]).tolist() == [*range(0, 16, 2), 15]
        assert not b["interpolated"].any()
        assert np.allclose(b["bbox_raw_xywh"], [10.0, 10.0, 100.0, 100.0], atol=0.5)  # BOX_A, squared
