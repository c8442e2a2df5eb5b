"""`make-db`: result directories + keypoint JSON -> a training database `train` reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.result import ResultWriter, track_arrays
from backend.training import data, owndb
from tests.training.conftest import run_inprocess

COCO_TO_49 = {0: 44, 5: 34, 6: 33, 15: 30, 16: 25}  # nose, lshoulder, rshoulder, lankle, rankle


def write_result(folder, frames: np.ndarray, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = len(frames)
    boxes = np.tile([300.0, 200.0, 100.0, 160.0], (t, 1))  # cx, cy, w, h before the 1.2 margin
    arrays = track_arrays(frames, rng.normal(0, 0.3, (t, 72)), rng.normal(0, 1, (t, 10)), np.zeros((t, 3)),
                          np.ones((t, 3)), boxes, rng.normal(0, 0.3, (t, 49, 3)), np.zeros((24, 3)),
                          features=rng.uniform(0, 1, (t, 2048)))
    with ResultWriter(folder) as writer:
        writer.write_track(1, arrays)
        writer.commit({"format_version": 1, "tracks": [{"id": 1, "file": "track_1.npz", "num_frames": t}]})
    return arrays


def test_result_and_coco_keypoints_make_a_training_db(tmp_path):
    frames = np.concatenate([np.arange(10, 30), np.arange(40, 58)])  # a gap: two videos
    arrays = write_result(tmp_path / "clip", frames)
    kp = np.zeros((len(frames), 17, 3))
    # joint j at x = 300 + 3 j, y = 152: crop-normalised (x - cx) / (0.6 w) = j / 20, (y - cy) / (0.6 h) = -.5
    kp[:, :, 0], kp[:, :, 1], kp[:, :, 2] = 300.0 + 3.0 * np.arange(17), 152.0, 0.8
    kp[3] = 0.0  # frame 13: unknown keypoints
    (tmp_path / "clip" / "keypoints_2d.json").write_text(json.dumps(
        {"joints": "coco17", "tracks": [{"track": 1, "frames": frames.tolist(), "keypoints": kp.tolist()}]}))
    out = tmp_path / "mine_db.pt"
    code, events = run_inprocess(["make-db", str(tmp_path / "clip"), "--out", str(out), "--smpl-labels"])
    assert code == 0, events[-1]
    assert events[-1]["rows"] == 38 and events[-1]["videos"] == 2
    db = data.load_train_db(str(out), stride=1)
    assert db.kind == "custom" and db.is_3d and db.w_smpl.all()
    assert len(db.windows) == 32  # 20 rows -> 16 windows, 18 rows -> 16 windows: the gap is respected
    for coco, spin in COCO_TO_49.items():
        np.testing.assert_allclose(db.kp_2d[0, spin], [coco / 20.0, -0.5, 0.8], atol=1e-3)
        assert db.kp_2d[3, spin, 2] == 0.0
    assert db.kp_2d[0, 8, 2] == 0.0  # OP MidHip: not a COCO joint
    pose = np.concatenate([arrays["global_orient"], arrays["body_pose"].reshape(-1, 69)], axis=1)
    np.testing.assert_allclose(db.pose, pose, atol=2e-3)


def test_make_db_errors_write_nothing(tmp_path):
    frames = np.arange(20)
    write_result(tmp_path / "clip", frames)
    out = tmp_path / "db.pt"
    code, events = run_inprocess(["make-db", str(tmp_path / "clip"), "--out", str(out)])
    assert code == 2 and events[-1]["code"] == "BAD_ARGUMENT" and "--smpl-labels" in events[-1]["hint"]
    (tmp_path / "bad.json").write_text(json.dumps({"joints": "coco17", "tracks": [
        {"track": 1, "frames": [0, 1], "keypoints": [[[0, 0, 1]] * 16] * 2}]}))
    code, events = run_inprocess(["make-db", str(tmp_path / "clip"), "--out", str(out), "--keypoints",
                                  str(tmp_path / "bad.json")])
    assert code == 2 and events[-1]["code"] == "INPUT_UNREADABLE"
    assert not out.exists()


@pytest.mark.parametrize("order", ["body25", "spin49"])
def test_keypoint_orders(tmp_path, order):
    n = len(owndb.ORDERS[order])
    kp = np.arange(n * 3, dtype=float).reshape(1, n, 3) + 1
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"joints": order, "tracks": [{"track": 2, "frames": [7],
                                                              "keypoints": kp.tolist()}]}))
    got = owndb.read_keypoints(path)[2][7]
    np.testing.assert_array_equal(got[:n], kp[0])  # BODY_25 is the first 25 of the 49
