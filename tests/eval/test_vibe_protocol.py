"""VIBE's evaluation protocol (backend.evaluate_vibe) with a stand-in network: grouping by first
appearance, no valid filtering, stride-16 windows with the tail dropped, float16 ground truth,
accelerations over the flat concatenation (window and sequence borders included)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.evaluate_vibe import evaluate_db_vibe, prediction_accel, vibe_chunks

# file order (not sorted): zeta has 35 rows (2 windows + a 3-frame tail), alpha 16 (1 window), mid 10
LENGTHS = {"zeta": 35, "alpha": 16, "mid": 10}


def _skeleton(seed: int) -> np.ndarray:
    """A 14-joint skeleton with float16-exact coordinates (multiples of 1/64 m)."""
    return np.round(np.random.default_rng(seed).uniform(-0.5, 0.5, (14, 3)) * 64) / 64


def _db() -> dict:
    names, joints, valid = [], [], []
    for k, (name, n) in enumerate(LENGTHS.items()):
        names += [name] * n
        joints.append(np.repeat(_skeleton(k)[None], n, 0))  # constant pose per sequence
        valid.append(np.ones(n, np.int64))
    valid = np.concatenate(valid)
    valid[3] = 0  # VIBE does not drop it
    n = len(names)
    features = np.zeros((n, 2048), np.float32)
    features[:, 0] = np.arange(n)  # the stand-in network reads the row index from here
    pose = np.full((n, 72), 0.1, np.float32)  # 0.1 is not float16-exact
    return {"vid_name": np.array(names), "joints3D": np.concatenate(joints), "features": features,
            "valid": valid, "pose": pose, "shape": np.zeros((n, 10), np.float32)}


def _predictor(db, offsets=None):
    """Returns the GT joints of the rows it is given (+ optional per-window offsets of joint 7)."""
    calls = []

    def predict(windows):
        calls.append(windows.shape)
        rows = windows[:, :, 0].astype(int)  # (W, 16)
        joints = db["joints3D"][rows].astype(np.float64).copy()  # (W, 16, 14, 3)
        if offsets is not None:
            for w, row0 in enumerate(rows[:, 0]):
                joints[w, :, 7] += offsets.get(int(row0), 0.0)
        verts = np.zeros((rows.size, 6890, 3), np.float32)
        return joints.reshape(-1, 14, 3), verts

    return predict, calls


def _gt_verts(seen):
    def gt_vertices(pose, betas):
        seen.append(pose.copy())
        return np.zeros((len(pose), 6890, 3), np.float32)

    return gt_vertices


def test_chunks_follow_first_appearance_and_drop_tails():
    chunks = vibe_chunks(_db()["vid_name"])
    assert [c[0] for c in chunks] == ["zeta", "alpha", "mid"]
    assert [c[2].shape for c in chunks] == [(2, 16), (1, 16), (0, 16)]
    np.testing.assert_array_equal(chunks[0][2][1], np.arange(16, 32))
    np.testing.assert_array_equal(chunks[1][2][0], np.arange(35, 51))


def test_exact_prediction_and_what_is_counted():
    db = _db()
    predict, calls = _predictor(db)
    seen = []
    res = evaluate_db_vibe(db, "3dpw", predict, _gt_verts(seen))
    assert calls == [(2, 16, 2048), (1, 16, 2048)]
    o = res["overall"]
    assert o["num_sequences"] == 2 and o["num_frames"] == 48 and o["num_skipped_sequences"] == 1
    assert [s["name"] for s in res["sequences"]] == ["zeta", "alpha"]
    assert res["sequences"][0]["dropped_tail_frames"] == 3 and res["sequences"][0]["num_rows"] == 35
    assert res["skipped_sequences"][0]["name"] == "mid"
    assert o["mpjpe"] < 1e-9 and o["pa_mpjpe"] < 1e-6 and o["accel_error"] < 1e-9 and o["pve"] < 1e-9
    # the GT pose went through float16 like VIBE's theta_tensor
    assert np.all(np.concatenate(seen) == np.float32(np.float16(0.1))) and np.float16(0.1) != np.float32(0.1)
    # ACCEL (the prediction's own): constant poses, so only the zeta -> alpha border (flat index 31|32)
    # moves: two accelerations of |B - A| per joint, over 46 values
    a, b = (s - (s[2] + s[3]) / 2 for s in (_skeleton(0), _skeleton(1)))
    expected = 2 * np.linalg.norm(b - a, axis=1).mean() * 1000 / 46
    assert o["accel"] == pytest.approx(expected, rel=1e-9)


def test_window_borders_count_in_the_acceleration_error():
    db = _db()
    d = np.array([0.0084, 0.0, 0.0112])  # 14 mm on joint 7 in zeta's second window (rows 16..31)
    predict, _ = _predictor(db, offsets={16: d})
    o = evaluate_db_vibe(db, "3dpw", predict, _gt_verts([]))["overall"]
    assert o["mpjpe"] == pytest.approx(16 * 1.0 / 48, abs=1e-9)  # 14 mm / 14 joints in 16 of 48 frames
    # steps at flat 15|16 (in) and 31|32 (out, the sequence border): four accelerations of 14 mm on one
    # joint of 14 -> 1 mm each, over the 46 values of the flat array
    assert o["accel_error"] == pytest.approx(4 / 46, abs=1e-9)


def test_float16_ground_truth():
    db = _db()
    db["joints3D"] = db["joints3D"] + 1e-4  # 0.1 mm: below float16 resolution at these magnitudes
    exact = db["joints3D"].copy()
    predict, _ = _predictor({**db, "joints3D": exact})
    o = evaluate_db_vibe(db, "3dpw", predict, _gt_verts([]))["overall"]
    rows = np.concatenate([np.arange(32), np.arange(35, 51)])
    gt16 = exact[rows].astype(np.float16).astype(np.float64)
    root = lambda x: x - (x[:, 2:3] + x[:, 3:4]) / 2  # noqa: E731
    expected = np.linalg.norm(root(exact[rows]) - root(gt16), axis=-1).mean() * 1000
    assert expected > 0.01 and o["mpjpe"] == pytest.approx(expected, rel=1e-9)


def test_partial_runs_and_no_pve_elsewhere():
    db = _db()
    predict, calls = _predictor(db)
    res = evaluate_db_vibe(db, "mpii3d", predict, None, max_sequences=1)
    assert len(calls) == 1 and res["overall"]["complete"] is False and "pve" not in res["overall"]


def test_prediction_accel_is_zero_for_constant_velocity():
    x = np.arange(5)[:, None, None] * np.ones((5, 14, 3)) * 0.01
    assert np.allclose(prediction_accel(x), 0.0) and prediction_accel(x[:2]).size == 0
