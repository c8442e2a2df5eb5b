"""Contract 3 (result directory, format_version 1): what the backend writes is what the add-on
reads. Until backend/result.py lands, the writer side is a hand-written directory that follows
docs/contracts.md's table and docs/INTERNALS.md's result.json literally."""

from __future__ import annotations

import json

import numpy as np

from addon.core.result_io import FORMAT_VERSION, load_all_tracks, read_result

PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


def _hand_written(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    t = 5
    arrays = {
        "frame_index": np.array([10, 11, 12, 14, 15]),
        "global_orient": rng.normal(size=(t, 3)).astype(np.float32),
        "body_pose": rng.normal(size=(t, 23, 3)).astype(np.float32),
        "betas_per_frame": rng.normal(size=(t, 10)).astype(np.float32),
        "transl": rng.normal(size=(t, 3)).astype(np.float32),
        "cam_weak": rng.normal(size=(t, 3)).astype(np.float32),
        "bbox_xywh": rng.uniform(0, 100, size=(t, 4)).astype(np.float32),
        "joints3d": rng.normal(size=(t, 49, 3)).astype(np.float32),
        "joints_rest": rng.normal(size=(24, 3)).astype(np.float32),
        "parents": np.array(PARENTS),
    }
    arrays["betas"] = arrays["betas_per_frame"].mean(0)
    np.savez(folder / "track_3.npz", **arrays)
    meta = {
        "format_version": 1,
        "producer": {"name": "tcmr-mocap-backend", "version": "0.1.0", "synthetic_model_data": False},
        "config": {"smoothing": "none"},
        "video": {"path": "/abs/clip.mp4", "fps": 29.83, "frame_count": 312, "width": 812, "height": 720},
        "camera": {"model": "pinhole", "focal_length_px": 1234.5, "principal_point_px": [406.0, 360.0],
                   "focal_source": "default"},
        "conventions": {"rotation": "axis-angle", "camera_frame": "opencv: x right, y down, z forward",
                        "units": "metres", "transl": "posed SMPL vertices + transl (smplx convention)"},
        "tracks": [{"id": 3, "file": "track_3.npz", "num_frames": 5, "first_frame": 10, "last_frame": 15}],
    }
    (folder / "result.json").write_text(json.dumps(meta), encoding="utf-8")
    return arrays


def test_reader_reads_the_contract(tmp_path):
    arrays = _hand_written(tmp_path / "clip")
    info = read_result(tmp_path / "clip")
    assert info.format_version == FORMAT_VERSION == 1
    assert info.name == "clip"
    video = info.video
    assert (video.fps, video.frame_count, video.width, video.height) == (29.83, 312, 812, 720)
    assert info.video.path == "/abs/clip.mp4"
    assert info.camera.focal_length_px == 1234.5 and info.camera.principal_point_px == (406.0, 360.0)
    (track,) = load_all_tracks(info)
    assert track.id == 3
    assert np.array_equal(track.frame_index, [10, 11, 12, 14, 15])
    for key in ("global_orient", "body_pose", "betas", "transl", "joints_rest"):
        assert np.allclose(getattr(track, key), arrays[key]), key


def test_backend_writer_round_trip(tmp_path):
    """The backend's own writer (backend/result.py) -> the add-on's reader: every value survives."""
    from backend.result import ResultWriter, track_arrays

    rng = np.random.default_rng(1)
    t = 6
    frames = np.array([3, 4, 5, 7, 8, 9])
    pose = rng.normal(size=(t, 72))
    boxes = np.tile([60.0, 50.0, 40.0, 40.0], (t, 1))
    arrays = track_arrays(frames, pose, rng.normal(size=(t, 10)), rng.normal(size=(t, 3)),
                          rng.normal(size=(t, 3)), boxes, rng.normal(size=(t, 49, 3)),
                          rng.normal(size=(24, 3)))
    meta = {"format_version": 1,
            "producer": {"name": "tcmr-mocap-backend", "version": "0.1.0", "synthetic_model_data": True},
            "config": {},
            "video": {"path": "/x.mp4", "fps": 25.0, "frame_count": 10, "width": 160, "height": 120},
            "camera": {"model": "pinhole", "focal_length_px": 200.0, "principal_point_px": [80.0, 60.0],
                       "focal_source": "default"},
            "tracks": [{"id": 5, "file": "track_5.npz", "num_frames": t, "first_frame": 3, "last_frame": 9}]}
    with ResultWriter(tmp_path / "res") as writer:
        writer.write_track(5, arrays)
        writer.commit(meta)
    info = read_result(tmp_path / "res")
    assert info.synthetic_model_data and info.video.fps == 25.0 and info.camera.focal_length_px == 200.0
    (track,) = load_all_tracks(info)
    assert track.id == 5 and np.array_equal(track.frame_index, frames)
    assert np.allclose(track.global_orient, pose[:, :3], atol=1e-6)
    assert np.allclose(track.body_pose, pose[:, 3:].reshape(t, 23, 3), atol=1e-6)
    for key in ("betas", "transl", "joints_rest"):
        assert np.allclose(getattr(track, key), arrays[key]), key
