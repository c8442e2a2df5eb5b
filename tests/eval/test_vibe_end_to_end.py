"""`python -m backend evaluate --model vibe` end to end on synthetic joblib databases, with the
synthetic VIBE checkpoint. Ground truth = VIBE's own output on the synthetic weights, so the
expected errors are known: only VIBE's float16 ground-truth storage remains (computed here
independently) under --protocol vibe, nothing under --protocol tcmr."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.eval import joblib_writer
from tests.eval.test_end_to_end import H36M_ROWS_LSP, run_evaluate

LENGTHS = {"zz_walk_00_0": 35, "aa_run_00_1": 20, "mm_short_00_0": 9}  # file order, not sorted


@pytest.fixture(scope="module")
def vibe(vibe_data_dir):
    from backend.models.loading import load_models

    return load_models(vibe_data_dir, "cpu", backbone=False, model="vibe")


def _root(x):
    return x - (x[:, 2:3] + x[:, 3:4]) / 2


def _db(vibe, per_window: bool):
    """3DPW layout; GT joints = VIBE's regressed 14 joints from independent 16-frame windows
    (per_window) or from the demo-style whole-track run, garbage where not evaluated."""
    from backend.models.inference import regress_track

    rng = np.random.default_rng(5)
    j_h36m = np.load(vibe.data_dir / "J_regressor_h36m.npy")
    cols = {k: [] for k in ("vid_name", "joints3D", "pose", "shape", "features", "valid")}
    evaluated = []
    for name, n in LENGTHS.items():
        feats = rng.uniform(0.0, 2.0, (n, 2048)).astype(np.float32)
        joints, pose, shape = np.full((n, 14, 3), 50.0), np.zeros((n, 72)), np.zeros((n, 10))
        used = n // 16 * 16 if per_window else (n if n >= 16 else 0)
        for s in range(0, used, 16 if per_window else max(used, 1)):
            part = slice(s, s + 16) if per_window else slice(0, used)
            out = regress_track(vibe, feats[part], with_verts=True)
            joints[part] = np.einsum("jv,fvc->fjc", j_h36m, out["verts"].astype(np.float64))[:, H36M_ROWS_LSP]
            pose[part], shape[part] = out["pose"], out["betas"]
        evaluated.append(joints[:used])
        for key, value in (("vid_name", np.array([name] * n)), ("joints3D", joints), ("pose", pose),
                           ("shape", shape), ("features", feats), ("valid", np.ones(n, np.int64))):
            cols[key].append(value)
    return {k: np.concatenate(v) for k, v in cols.items()}, np.concatenate(evaluated)


def test_vibe_protocol_end_to_end(vibe, vibe_data_dir, tmp_path):
    db, gt = _db(vibe, per_window=True)
    db_path = joblib_writer.dump(db, tmp_path / "3dpw_test_db.pt")
    out = tmp_path / "vibe.json"
    done, events = run_evaluate(db_path, vibe_data_dir, out, "--model", "vibe", "--batch-size", "3")
    assert done.returncode == 0, done.stderr
    assert events[-1]["event"] == "result"
    assert events[-1]["protocol"] == "vibe" and events[-1]["model"] == "vibe"
    report = json.loads(out.read_text())
    assert report["config"]["model"] == "vibe" and report["config"]["protocol"] == "vibe"
    assert report["config"]["checkpoint"].endswith("vibe_model_wo_3dpw.pth.tar")
    overall = report["overall"]
    assert overall["num_sequences"] == 2 and overall["num_frames"] == 32 + 16
    assert [s["name"] for s in report["sequences"]] == ["zz_walk_00_0", "aa_run_00_1"]  # appearance order
    assert report["skipped_sequences"][0]["name"] == "mm_short_00_0"
    # the only error left is float16 storage of the ground truth
    expected = np.linalg.norm(_root(gt) - _root(gt.astype(np.float16).astype(np.float64)), axis=-1).mean()
    assert overall["mpjpe"] == pytest.approx(expected * 1000, abs=2e-4)
    assert 0 < overall["pa_mpjpe"] <= overall["mpjpe"] + 1e-6
    assert overall["pve"] < 5.0 and overall["accel"] > 0
    assert "paper" in report and "VIBE doc/eval.md (vibe_model_wo_3dpw)" in report["paper"]
    assert "VIBE protocol" in done.stderr and "AccelErr" in done.stderr and "SYNTHETIC" in done.stderr


def test_vibe_under_tcmr_protocol_and_the_refused_combination(vibe, vibe_data_dir, tmp_path):
    db, _ = _db(vibe, per_window=False)
    db_path = joblib_writer.dump(db, tmp_path / "3dpw_test_db.pt")
    out = tmp_path / "tcmr_protocol.json"
    done, _ = run_evaluate(db_path, vibe_data_dir, out, "--model", "vibe", "--protocol", "tcmr")
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["config"]["protocol"] == "tcmr" and report["overall"]["num_frames"] == 35 + 20
    for key in ("mpjpe", "pa_mpjpe", "accel_error"):
        assert report["overall"][key] < 1e-3, key  # demo-style VIBE run = the GT: nothing left
    assert "TCMR Table 6 (no 3DPW train)" in report["paper"]
    assert "paper VIBE, TCMR Table 4" in done.stderr

    done, events = run_evaluate(db_path, vibe_data_dir, tmp_path / "no.json", "--protocol", "vibe")
    assert done.returncode != 0 and events[-1]["code"] == "BAD_ARGUMENT"
    assert not (tmp_path / "no.json").exists()
