"""`python -m backend run` end to end in a subprocess, on generated clips with --bbox and the
synthetic model data: result files, protocol, the add-on's reader, ranges, atomicity, errors."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from backend.box_smoothing import RAW_BOX_KEYS
from backend.camera import orig_cam, project_orig_cam, project_pinhole
from backend.crops import crop_batch
from backend.grounding.world import GROUNDED_KEYS
from backend.result import TRACK_KEYS
from tests.pipeline.clips import BBOX, HEIGHT, WIDTH
from tests.pipeline.conftest import REPO, backend_env, parse, run_backend

BBOX_ARG = ",".join(str(v) for v in BBOX)
STAGES = ["load", "decode", "features", "regress", "write", "ground"]


@pytest.fixture(scope="module")
def full_run(clips, model_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "result"
    run = run_backend(clips["mp4"], "--out", out, "--bbox", BBOX_ARG, "--save-features", "--batch-size", "8",
                      "--data-dir", model_data_dir)
    assert run.rc == 0, run.stderr
    return out, run


def _check_protocol(run, stages):
    events = run.events
    assert events[0]["event"] == "hello" and events[0]["command"] == "run"
    assert [e["event"] for e in events].count("result") + [e["event"] for e in events].count("error") == 1
    assert events[-1]["event"] in ("result", "error")
    assert [e["stage"] for e in run.of("stage")] == stages
    for stage in stages[1:]:  # every long stage reports done/total
        progress = [e for e in run.of("progress") if e["stage"] == stage]
        assert progress, stage
        done = [p["done"] for p in progress]
        assert done == sorted(done) and all(0 <= p["done"] <= p["total"] for p in progress), stage
        assert progress[-1]["done"] == progress[-1]["total"] > 0, stage


def test_protocol(full_run):
    out, run = full_run
    _check_protocol(run, STAGES)
    result = run.of("result")[0]
    assert result["path"] == str(out) and result["tracks"] == 1 and result["frames"] == 24
    assert any(w["code"] == "SYNTHETIC_DATA" for w in run.of("warning"))


def test_result_files(full_run, model_data_dir, smpl_data):
    out, _ = full_run
    assert sorted(p.name for p in out.iterdir()) == ["result.json", "track_1.npz"]
    meta = json.loads((out / "result.json").read_text())
    assert meta["format_version"] == 1 and meta["producer"]["synthetic_model_data"] is True
    assert meta["video"]["fps"] == 25.0 and meta["video"]["frame_count"] == 24
    assert (meta["video"]["width"], meta["video"]["height"]) == (WIDTH, HEIGHT)
    assert meta["camera"]["focal_length_px"] == pytest.approx(np.hypot(WIDTH, HEIGHT))
    assert meta["camera"]["principal_point_px"] == [WIDTH / 2, HEIGHT / 2]
    assert meta["config"]["bbox"] == list(map(float, BBOX)) and meta["config"]["smooth"] == "none"
    assert meta["tracks"] == [{"id": 1, "file": "track_1.npz", "num_frames": 24, "first_frame": 0,
                               "last_frame": 23, "interpolated_frames": 0}]
    with np.load(out / "track_1.npz", allow_pickle=False) as npz:
        a = {k: npz[k] for k in npz.files}
    assert set(a) == {*TRACK_KEYS, *GROUNDED_KEYS, *RAW_BOX_KEYS, "features", "confidence",
                      "interpolated"}  # --ground auto: the default
    assert "world" in meta and isinstance(meta["world"]["ground_found"], bool)
    t = 24
    shapes = {"frame_index": (t,), "global_orient": (t, 3), "body_pose": (t, 23, 3),
              "betas_per_frame": (t, 10), "betas": (10,), "transl": (t, 3), "cam_weak": (t, 3),
              "bbox_xywh": (t, 4), "joints3d": (t, 49, 3), "joints_rest": (24, 3), "parents": (24,),
              "features": (t, 2048), "bbox_raw_xywh": (t, 4), "detected": (t,), "confidence": (t, 24),
              "interpolated": (t,)}
    for key, shape in shapes.items():
        assert a[key].shape == shape, key
        assert np.isfinite(a[key]).all(), key
    assert a["frame_index"].dtype == np.int64 and a["parents"].dtype == np.int64
    assert a["features"].dtype == np.float32
    assert a["confidence"].dtype == np.float32 and np.all((a["confidence"] > 0) & (a["confidence"] <= 1))
    assert a["interpolated"].dtype == bool and not a["interpolated"].any()
    assert np.array_equal(a["frame_index"], np.arange(24))
    # the fixed 60x100 box -> a 100x100 square around the same centre (50, 60)
    assert np.allclose(a["bbox_xywh"], [0.0, 10.0, 100.0, 100.0])
    assert np.allclose(a["betas"], a["betas_per_frame"].mean(0), atol=1e-6)
    assert list(a["parents"]) == [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
                                  20, 21]
    from backend.models.smpl import rest_joints

    assert np.allclose(a["joints_rest"], rest_joints(smpl_data, a["betas"]), atol=1e-5)


def test_written_values_match_the_network(full_run, model_data_dir, clips):
    """Frame 5's crop through the backbone gives the saved features; the saved features through TCMR
    give the saved pose, shape and camera."""
    import cv2
    import torch

    from backend.models.inference import extract_features, regress_track
    from backend.models.loading import load_models

    out, _ = full_run
    with np.load(out / "track_1.npz", allow_pickle=False) as npz:
        a = {k: npz[k] for k in npz.files}
    models = load_models(model_data_dir, "cpu")
    cap = cv2.VideoCapture(str(clips["mp4"]))
    for _ in range(6):
        _, frame = cap.read()
    cap.release()
    box = np.array([50.0, 60.0, 100.0, 100.0])
    feat = extract_features(models, torch.from_numpy(crop_batch(frame, box[None]))).numpy()[0]
    assert np.allclose(feat, a["features"][5], rtol=1e-4, atol=1e-4)
    ref = regress_track(models, a["features"])
    assert np.allclose(ref["pose"][:, :3], a["global_orient"], atol=1e-5)
    assert np.allclose(ref["pose"][:, 3:].reshape(-1, 23, 3), a["body_pose"], atol=1e-5)
    assert np.allclose(ref["betas"], a["betas_per_frame"], atol=1e-5)
    assert np.allclose(ref["pred_cam"], a["cam_weak"], atol=1e-5)
    assert np.allclose(ref["joints3d"], a["joints3d"], atol=1e-5)


def test_translation_puts_the_joints_where_orig_cam_does(full_run):
    """Posed joints + transl through the pinhole land where the official weak-perspective orig_cam
    puts them; off the depth plane within |p - c| * |Z| / (Tz + Z) (perspective, see backend.camera)."""
    out, _ = full_run
    meta = json.loads((out / "result.json").read_text())
    with np.load(out / "track_1.npz", allow_pickle=False) as npz:
        a = {k: npz[k].astype(np.float64) for k in npz.files}
    boxes = np.concatenate([a["bbox_xywh"][:, :2] + a["bbox_xywh"][:, 2:] / 2, a["bbox_xywh"][:, 2:]], axis=1)
    focal = meta["camera"]["focal_length_px"]
    pinhole = project_pinhole(a["joints3d"] + a["transl"][:, None], focal, WIDTH, HEIGHT)
    weak = project_orig_cam(a["joints3d"], orig_cam(a["cam_weak"], boxes, WIDTH, HEIGHT), WIDTH, HEIGHT)
    z, tz = a["joints3d"][..., 2:3], a["transl"][:, None, 2:3]
    centre = np.array([WIDTH / 2, HEIGHT / 2])
    bound = np.abs(weak - centre) * np.abs(z) / (tz + z)
    # float32 storage of transl/joints: ~1e-6 relative of the ~Tz depth -> 1e-3 px slack
    assert np.all(np.abs(pinhole - weak) <= bound + 1e-3)


def test_the_addon_reader_reads_it(full_run):
    from addon.core.result_io import load_all_tracks, read_result

    out, _ = full_run
    info = read_result(out)
    assert info.synthetic_model_data and info.video.frame_count == 24 and info.video.fps == 25.0
    (track,) = load_all_tracks(info)
    with np.load(out / "track_1.npz", allow_pickle=False) as npz:
        assert np.array_equal(track.frame_index, npz["frame_index"])
        assert np.allclose(track.transl, npz["transl"]) and np.allclose(track.body_pose, npz["body_pose"])
        assert np.allclose(track.joints_rest, npz["joints_rest"])


def test_range_keeps_absolute_frame_numbers(full_run, clips, model_data_dir, tmp_path):
    out = tmp_path / "ranged"
    run = run_backend(clips["mp4"], "--out", out, "--bbox", BBOX_ARG, "--start", "5", "--end", "15",
                      "--save-features", "--batch-size", "4", "--data-dir", model_data_dir)
    assert run.rc == 0, run.stderr
    _check_protocol(run, STAGES)
    meta = json.loads((out / "result.json").read_text())
    assert meta["tracks"][0]["first_frame"] == 5 and meta["tracks"][0]["last_frame"] == 14
    assert meta["video"]["processed_frames"] == [5, 15]
    with np.load(out / "track_1.npz", allow_pickle=False) as npz, \
            np.load(full_run[0] / "track_1.npz", allow_pickle=False) as full:
        assert np.array_equal(npz["frame_index"], np.arange(5, 15))
        # the same source frames give the same features as in the full run
        assert np.allclose(npz["features"], full["features"][5:15], rtol=1e-4, atol=1e-4)


def test_image_folder_with_range_and_smoothing(clips, model_data_dir, tmp_path):
    out = tmp_path / "imgs"
    run = run_backend(clips["images"], "--out", out, "--bbox", BBOX_ARG, "--start", "3", "--end", "17",
                      "--fps", "12", "--smooth", "oneeuro", "--batch-size", "8", "--data-dir", model_data_dir)
    assert run.rc == 0, run.stderr
    _check_protocol(run, STAGES)
    from addon.core.result_io import load_all_tracks, read_result

    info = read_result(out)
    assert info.video.fps == 12.0 and info.raw["video"]["kind"] == "images"
    assert info.raw["config"]["smooth"] == "oneeuro"
    (track,) = load_all_tracks(info)
    assert np.array_equal(track.frame_index, np.arange(3, 17))
    # smoothed rotations are still rotations: axis-angle norms within [0, pi]
    assert np.linalg.norm(track.body_pose, axis=-1).max() <= np.pi + 1e-5


def _cancel_mid_run(clip, out, data_dir):
    """Start a run, SIGTERM it once the features stage is under way; returns (rc, events)."""
    proc = subprocess.Popen([sys.executable, "-m", "backend", "run", str(clip), "--out", str(out), "--bbox",
                             BBOX_ARG, "--batch-size", "1", "--data-dir", str(data_dir), "--jsonl"],
                            cwd=REPO, env=backend_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        event = json.loads(line)
        if event["event"] == "progress" and event["stage"] == "features":
            assert event["done"] < event["total"]
            proc.send_signal(signal.SIGTERM)
            break
    rest, _ = proc.communicate(timeout=120)
    return proc.returncode, parse("".join(lines) + rest)


def test_cancel_keeps_the_older_result(full_run, clips, model_data_dir, tmp_path):
    out = tmp_path / "older"
    shutil.copytree(full_run[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    rc, events = _cancel_mid_run(clips["long_mp4"], out, model_data_dir)
    assert rc == 130
    assert events[-1]["event"] == "error" and events[-1]["code"] == "CANCELLED"
    kinds = [e["event"] for e in events]
    assert kinds.count("error") == 1 and "result" not in kinds
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no staging folder, no new file


def test_cancel_into_a_new_folder_leaves_nothing(clips, model_data_dir, tmp_path):
    out = tmp_path / "fresh"
    rc, events = _cancel_mid_run(clips["long_mp4"], out, model_data_dir)
    assert rc == 130 and events[-1]["code"] == "CANCELLED"
    assert not out.exists()


def _error(run, code):
    assert run.rc == 2, run.stderr
    assert run.events[0]["event"] == "hello"
    assert [e["event"] for e in run.events].count("error") == 1 and not run.of("result")
    err = run.events[-1]
    assert err["event"] == "error" and err["code"] == code, err
    assert err["hint"]
    return err


def test_missing_input(model_data_dir, tmp_path):
    run = run_backend(tmp_path / "nope.mp4", "--out", tmp_path / "o", "--data-dir", model_data_dir)
    _error(run, "INPUT_NOT_FOUND")
    assert not (tmp_path / "o").exists()


def test_random_bytes_video(model_data_dir, tmp_path):
    clip = tmp_path / "noise.mp4"
    clip.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    run = run_backend(clip, "--out", tmp_path / "o", "--bbox", BBOX_ARG, "--data-dir", model_data_dir)
    _error(run, "VIDEO_CORRUPT")
    assert not (tmp_path / "o").exists()


def test_empty_image_folder(model_data_dir, tmp_path):
    (tmp_path / "frames").mkdir()
    run = run_backend(tmp_path / "frames", "--out", tmp_path / "o", "--data-dir", model_data_dir)
    _error(run, "VIDEO_EMPTY")
    assert not (tmp_path / "o").exists()


def test_missing_data_file_fails_before_decoding(clips, model_data_dir, tmp_path):
    partial = tmp_path / "base_data"
    partial.mkdir()
    for f in model_data_dir.iterdir():
        if f.name != "spin_model_checkpoint.pth.tar":
            (partial / f.name).symlink_to(f)
    run = run_backend(clips["mp4"], "--out", tmp_path / "o", "--bbox", BBOX_ARG, "--data-dir", partial)
    err = _error(run, "DATA_MISSING")
    assert "spin_model_checkpoint.pth.tar" in err["message"]
    assert not run.of("progress")  # nothing was decoded
    assert not (tmp_path / "o").exists()


def test_range_past_the_end(clips, model_data_dir, tmp_path):
    run = run_backend(clips["mp4"], "--out", tmp_path / "o", "--bbox", BBOX_ARG, "--start", "500",
                      "--data-dir", model_data_dir)
    _error(run, "VIDEO_EMPTY")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("min_frames", [1, 10_000])
def test_the_temporal_engine_follows_the_person_frames_after_tracking(clips, model_data_dir, tmp_path,
                                                                     monkeypatch, min_frames):
    """auto counts the person-frames to regress after tracking: at or above the break-even the
    temporal stage runs on ONNX Runtime, below it on torch; the poses agree within 1e-4 rad."""
    pytest.importorskip("onnxruntime")
    import io

    import backend.engines.temporal_choice as temporal_choice
    from backend.events import Reporter
    from backend.pipeline import RunConfig, run

    monkeypatch.setattr(temporal_choice, "AUTO_MIN_FRAMES", min_frames)
    bbox = tuple(float(v) for v in BBOX)
    outs = {}
    for engine in ("auto", "torch"):
        config = RunConfig(input=str(clips["mp4"]), out=str(tmp_path / engine), data_dir=str(model_data_dir),
                           device="cpu", bbox=bbox, engine=engine, batch_size=8)
        outs[engine] = run(config, Reporter(jsonl=True, out=io.StringIO()))
    assert outs["torch"][1]["temporal_engine"] == "torch"
    expect = "onnxruntime" if min_frames == 1 else "torch"
    assert outs["auto"][1]["temporal_engine"].split()[0] == expect
    poses = []
    for engine in ("auto", "torch"):
        with np.load(outs[engine][0] / "track_1.npz", allow_pickle=False) as npz:
            poses.append(np.concatenate([npz["global_orient"].reshape(24, -1),
                                         npz["body_pose"].reshape(24, -1)], axis=1))
    assert poses[0].shape == (24, 72) and np.abs(poses[0] - poses[1]).max() < 1e-4
