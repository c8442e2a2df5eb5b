"""The official protocol (sequence split, skipping, masks, averaging, report) with a stand-in network.

The stand-in "network" reads the row index that the test hides in feature 0 and returns the
ground truth of that row plus a perturbation chosen by the test, so every expected figure is
hand-computed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backend.evaldb import split_sequences
from backend.evaluate import (
    BENCHMARKS,
    EvalConfig,
    build_report,
    evaluate_db,
    format_table,
    gt_joints,
    write_report,
)


def make_db(lengths: dict[str, int], joints: int = 14, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    names = np.concatenate([[name] * n for name, n in lengths.items()])
    n = len(names)
    features = rng.uniform(0.0, 1.0, size=(n, 2048)).astype(np.float32)
    features[:, 0] = np.arange(n)  # the stand-in network reads its row from here
    # a walking skeleton: smooth motion so that GT acceleration is not trivially zero
    t = np.arange(n)[:, None, None]
    base = rng.normal(0.0, 0.3, size=(1, joints, 3))
    joints3d = base + 0.05 * np.sin(0.3 * t + rng.uniform(0, 6, size=(1, joints, 3))) + np.array([0, 0, 4.0])
    return {"vid_name": names, "features": features, "joints3D": joints3d,
            "pose": rng.normal(0, 0.2, size=(n, 72)).astype(np.float32),
            "shape": rng.normal(0, 1, size=(n, 10)).astype(np.float32)}


def stand_in(db, bench, offsets: dict[int, np.ndarray], vert_offset: float = 0.0):
    """predict(): GT joints of each row (benchmark order) + offsets[row] (J,3) where given;
    5 stand-in vertices per frame, `vert_offset` metres off the GT ones on every axis."""
    def predict(features):
        rows = features[:, 0].astype(np.int64)
        pred = gt_joints(db, rows, bench).copy()
        for i, row in enumerate(rows):
            if int(row) in offsets:
                pred[i] += offsets[int(row)]
        verts = np.repeat(gt_joints(db, rows, bench)[:, :1], 5, axis=1) + vert_offset
        return pred, verts

    def gt_vertices(pose, betas):
        # the test's GT vertices: the same 5 points per frame, found by matching the pose rows
        rows = [int(np.flatnonzero((db["pose"] == p).all(1))[0]) for p in pose]
        return np.repeat(gt_joints(db, np.array(rows), bench)[:, :1], 5, axis=1)

    return predict, gt_vertices


def joint_offset(joint: int, mm: float, joints: int = 14) -> np.ndarray:
    off = np.zeros((joints, 3))
    off[joint] = [0.0, mm / 1000.0, 0.0]
    return off


def test_perfect_prediction_is_zero_and_short_sequences_are_skipped():
    db = make_db({"b_seq": 20, "a_seq": 17, "short": 15})
    bench = BENCHMARKS["3dpw"]
    predict, gt_vertices = stand_in(db, bench, {})
    result = evaluate_db(db, split_sequences(db), bench, predict, gt_vertices)
    overall = result["overall"]
    assert [s["name"] for s in result["sequences"]] == ["a_seq", "b_seq"]  # sorted names
    assert result["skipped_sequences"][0]["name"] == "short"
    assert result["skipped_sequences"][0]["num_frames"] == 15
    assert overall["num_frames"] == 37
    assert overall["num_accel_frames"] == 37 - 4  # two end frames per sequence
    for key in ("mpjpe", "pa_mpjpe", "accel_error", "pve"):
        assert overall[key] == pytest.approx(0.0, abs=1e-9)


def test_known_errors_are_frame_weighted_across_sequences():
    db = make_db({"s1": 20, "s2": 30})
    bench = BENCHMARKS["3dpw"]
    # s1 (rows 0..19): joint 0 off by 14 mm -> MPJPE 1 mm; s2 (rows 20..49): by 28 mm -> 2 mm
    offsets = {r: joint_offset(0, 14.0 if r < 20 else 28.0) for r in range(50)}
    predict, gt_vertices = stand_in(db, bench, offsets, vert_offset=0.002)
    result = evaluate_db(db, split_sequences(db), bench, predict, gt_vertices)
    by_name = {s["name"]: s for s in result["sequences"]}
    assert by_name["s1"]["mpjpe"] == pytest.approx(1.0)
    assert by_name["s2"]["mpjpe"] == pytest.approx(2.0)
    assert result["overall"]["mpjpe"] == pytest.approx((20 * 1.0 + 30 * 2.0) / 50)  # not (1 + 2) / 2
    assert result["overall"]["accel_error"] == pytest.approx(0.0, abs=1e-9)  # constant offsets
    # Procrustes minimises the squared error, so per frame: mean norm <= RMS <= RMS of the identity
    # fit = d / sqrt(14) (it may exceed MPJPE: the least-squares fit spreads one joint's error).
    bound = (20 * 14.0 + 30 * 28.0) / 50 / np.sqrt(14.0)
    assert 0.0 < result["overall"]["pa_mpjpe"] <= bound + 1e-9
    assert result["overall"]["pve"] == pytest.approx(2.0 * np.sqrt(3.0))  # 2 mm on each axis


def test_accel_skips_end_frames_of_each_sequence():
    db = make_db({"s1": 16, "s2": 16})
    bench = BENCHMARKS["h36m"]
    # a 14 mm bump at the LAST frame of s1: its only acceleration value (frame 14) gets 14/14 = 1 mm;
    # had the sequences been concatenated, s2's first frame would see it as well.
    predict, _ = stand_in(db, bench, {15: joint_offset(5, 14.0)})
    result = evaluate_db(db, split_sequences(db), bench, predict)
    assert result["overall"]["num_accel_frames"] == 28
    assert result["overall"]["accel_error"] == pytest.approx(1.0 / 28)
    assert "pve" not in result["overall"]  # Human3.6M has no PVE


def test_valid_rows_are_dropped_before_windowing():
    db = make_db({"s": 20})
    db["valid"] = np.ones(20, np.int64)
    db["valid"][[3, 4]] = 0
    bench = BENCHMARKS["3dpw"]
    seen = []
    predict, gt_vertices = stand_in(db, bench, {3: joint_offset(0, 1000.0)})  # huge error on a dropped row

    def spy(features):
        seen.append(features[:, 0].astype(int).tolist())
        return predict(features)

    result = evaluate_db(db, split_sequences(db), bench, spy, gt_vertices)
    assert seen == [[r for r in range(20) if r not in (3, 4)]]
    assert result["overall"]["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert result["sequences"][0]["num_rows"] == 20
    assert result["sequences"][0]["num_frames"] == 18


def test_h36m_ground_truth_in_49_joints_is_reduced_to_14():
    db = make_db({"s": 16}, joints=49)
    bench = BENCHMARKS["h36m"]
    assert gt_joints(db, np.arange(2), bench).shape == (2, 14, 3)
    assert np.array_equal(gt_joints(db, np.arange(2), bench), db["joints3D"][:2, 25:39])


def test_mpii3d_valid_i_masks_metrics_but_not_acceleration_neighbours():
    db = make_db({"s": 20}, joints=49)
    db["valid_i"] = np.ones((20, 1), np.int64)
    db["valid_i"][5] = 0
    bench = BENCHMARKS["mpii3d"]
    # 17 mm on joint 0 (headtop) at the invalid frame 5 only
    predict, _ = stand_in(db, bench, {5: joint_offset(0, 17.0, joints=17)})
    result = evaluate_db(db, split_sequences(db), bench, predict)
    overall = result["overall"]
    assert overall["num_frames"] == 19
    assert overall["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    # accel at frames 4 and 6 is 17/17 = 1 mm each (frame 5 itself is masked); frames 0 and 19 excluded
    assert overall["num_accel_frames"] == 17
    assert overall["accel_error"] == pytest.approx(2.0 / 17)
    assert gt_joints(db, np.arange(1), bench)[0, 14].tolist() == db["joints3D"][0, 39].tolist()  # hip = root


def test_max_sequences_marks_the_report_partial(tmp_path):
    db = make_db({"a": 16, "b": 16, "c": 16})
    bench = BENCHMARKS["3dpw"]
    predict, gt_vertices = stand_in(db, bench, {})
    result = evaluate_db(db, split_sequences(db), bench, predict, gt_vertices, max_sequences=2)
    assert result["overall"]["num_sequences"] == 2
    assert result["overall"]["complete"] is False
    config = EvalConfig(db="/x/3dpw_test_db.pt", dataset="3dpw", checkpoint="c", data_dir="d", device="cpu",
                        max_sequences=2)
    report = build_report(config, result, synthetic=True)
    table = format_table(report)
    assert "partial" in table and "SYNTHETIC" in table
    for label in ("PA-MPJPE", "MPJPE", "PVE", "Accel", "mm/s^2", "52.7", "102.9"):
        assert label in table
    path = tmp_path / "sub" / "r.json"
    write_report(path, report)
    loaded = json.loads(path.read_text())
    assert loaded["config"]["max_sequences"] == 2
    assert loaded["units"]["mpjpe"] == "mm"
    assert loaded["overall"]["num_sequences"] == 2
    assert [p.name for p in Path(path.parent).iterdir()] == ["r.json"]  # no temporary file left
