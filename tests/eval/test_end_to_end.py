"""`python -m backend evaluate` end to end on synthetic databases in the official (joblib) format.

The ground truth is built from the network's own predictions on the synthetic model data (the
test runs the network in-process first), with the joint rows written out here independently
of backend.metrics, plus a per-frame translation. A correct protocol must then find errors of
~0; a perturbed copy of the ground truth must give the hand-computed errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.eval import joblib_writer

REPO = Path(__file__).resolve().parents[2]
# J_regressor_h36m rows in LSP order (TCMR lib/models/smpl.py H36M_TO_J14), written out again here.
H36M_ROWS_LSP = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
# 49 TCMR joints -> mpii3d_test (headtop, neck, rsho, relb, rwri, lsho, lelb, lwri, rhip, rkne,
# rank, lhip, lkne, lank, hip, spine, head)
MPII3D_ROWS = [38, 37, 33, 32, 31, 34, 35, 36, 27, 26, 25, 28, 29, 30, 39, 41, 43]
# rows: the file order is not sorted by name; "office" is too short and must be skipped
LENGTHS = {"downtown_walking_00_1": 18, "courtyard_basketball_00_0": 20, "office_phonecall_00_0": 9}
INVALID = ("courtyard_basketball_00_0", 5)  # this row has valid == 0 and garbage ground truth


@pytest.fixture(scope="module")
def network(model_data_dir):
    from backend.models.loading import load_models

    return load_models(model_data_dir, "cpu", backbone=False)


def predictions(network, features: np.ndarray) -> dict[str, np.ndarray]:
    from backend.models.inference import regress_track

    return regress_track(network, features, with_verts=True)


def build_3dpw(network, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """3dpw_test_db.pt layout (docs/tcmr_facts.md, Databases) whose GT = the network's output + translation.
    Also returns, per sequence, the valid row indices."""
    rng = np.random.default_rng(seed)
    j_h36m = np.load(network.data_dir / "J_regressor_h36m.npy")
    cols = {k: [] for k in ("vid_name", "frame_id", "joints3D", "joints2D", "shape", "pose", "bbox",
                            "img_name", "features", "valid")}
    valid_rows, start = {}, 0
    for name, n in LENGTHS.items():
        features = rng.uniform(0.0, 2.0, size=(n, 2048)).astype(np.float32)  # post-ReLU features: >= 0
        valid = np.ones(n, np.int64)
        if name == INVALID[0]:
            valid[INVALID[1]] = 0
        keep = valid.astype(bool)
        joints = np.full((n, 14, 3), 100.0)  # garbage where not valid / not evaluated
        pose = rng.normal(0.0, 0.3, size=(n, 72)).astype(np.float32)
        shape = rng.normal(0.0, 1.0, size=(n, 10)).astype(np.float32)
        if n >= 16:
            out = predictions(network, features[keep])
            regressed = np.einsum("jv,fvc->fjc", j_h36m, out["verts"].astype(np.float64))[:, H36M_ROWS_LSP]
            transl = np.array([0.3, -0.2, 4.0]) + rng.normal(0.0, 0.5, size=(int(keep.sum()), 1, 3))
            joints[keep] = regressed + transl
            pose[keep], shape[keep] = out["pose"], out["betas"]
        cols["vid_name"].append(np.array([name] * n))
        cols["frame_id"].append(np.arange(n))
        cols["joints3D"].append(joints)
        cols["joints2D"].append(np.zeros((n, 14, 3)))
        cols["shape"].append(shape)
        cols["pose"].append(pose)
        cols["bbox"].append(np.tile([500.0, 400.0, 300.0, 300.0], (n, 1)))
        cols["img_name"].append(np.array([f"imageFiles/{name[:-2]}/image_{i:05d}.jpg" for i in range(n)]))
        cols["features"].append(features)
        cols["valid"].append(valid)
        valid_rows[name] = start + np.flatnonzero(keep)
        start += n
    return {k: np.concatenate(v) for k, v in cols.items()}, valid_rows


def run_evaluate(db_path: Path, data_dir: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess,
                                                                                   list[dict]]:
    cmd = [sys.executable, "-m", "backend", "evaluate", str(db_path), "--data-dir", str(data_dir), "--jsonl",
           "--device", "cpu", "--out", str(out), *extra]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return done, events


@pytest.fixture(scope="module")
def db_3dpw(network):
    return build_3dpw(network)


def test_ground_truth_from_the_network_gives_zero_errors(db_3dpw, model_data_dir, tmp_path):
    db, _ = db_3dpw
    db_path = joblib_writer.dump(db, tmp_path / "3dpw_test_db.pt")
    out = tmp_path / "reports" / "report.json"
    done, events = run_evaluate(db_path, model_data_dir, out, "--batch-size", "7")
    assert done.returncode == 0, done.stderr
    assert events[0]["event"] == "hello"
    assert events[-1] == {**events[-1], "event": "result", "path": str(out.resolve()), "dataset": "3dpw"}
    stages = [e["stage"] for e in events if e["event"] == "stage"]
    assert stages == ["read_db", "load_model", "evaluate", "report"]
    assert any(e["event"] == "progress" and e["done"] == e["total"] == 37 for e in events)
    assert any(e["event"] == "warning" and e["code"] == "SYNTHETIC_MODEL_DATA" for e in events)

    report = json.loads(out.read_text())
    overall = report["overall"]
    assert overall["num_sequences"] == 2 and overall["num_frames"] == 19 + 18
    assert overall["num_accel_frames"] == 17 + 16
    assert [s["name"] for s in report["skipped_sequences"]] == ["office_phonecall_00_0"]
    assert [s["name"] for s in report["sequences"]] == ["courtyard_basketball_00_0", "downtown_walking_00_1"]
    for key in ("mpjpe", "pa_mpjpe", "accel_error"):
        assert overall[key] < 1e-3, (key, overall[key])  # below a micrometre
    assert overall["pve"] < 1e-2  # GT mesh from axis-angle through smplx's Rodrigues: float32 noise
    assert report["config"]["batch_size"] == 7
    assert report["producer"]["synthetic_model_data"] is True
    assert "PA-MPJPE" in done.stderr and "mm/s^2" in done.stderr and "SYNTHETIC" in done.stderr


def test_perturbed_ground_truth_gives_the_hand_computed_errors(db_3dpw, model_data_dir, tmp_path):
    db, valid_rows = db_3dpw
    db = {k: v.copy() for k, v in db.items()}
    rows = np.concatenate([valid_rows["courtyard_basketball_00_0"], valid_rows["downtown_walking_00_1"]])
    db["joints3D"][rows, 12] += np.array([0.0, 0.014, 0.0])  # neck 14 mm off in every evaluated frame
    bump = valid_rows["downtown_walking_00_1"][8]
    db["joints3D"][bump, 7] += np.array([0.0084, 0.0, 0.0112])  # relbow: a 14 mm bump in one frame
    db_path = joblib_writer.dump(db, tmp_path / "3dpw_test_db.pt")
    out = tmp_path / "report.json"
    done, _ = run_evaluate(db_path, model_data_dir, out)
    assert done.returncode == 0, done.stderr
    overall = json.loads(out.read_text())["overall"]
    # per frame 14/14 = 1 mm, 2 mm in the bump frame; 37 frames
    assert overall["mpjpe"] == pytest.approx(38 / 37, abs=1e-3)
    # constant offsets have no acceleration; the bump gives 1, 2, 1 mm at three of the 33 frames
    assert overall["accel_error"] == pytest.approx(4 / 33, abs=1e-3)
    assert overall["pve"] < 1e-2  # the mesh GT did not change
    rms_bound = (36 * 14 / np.sqrt(14) + np.sqrt(2 * 14**2 / 14)) / 37
    assert 0.05 < overall["pa_mpjpe"] <= rms_bound + 1e-3


def test_mpii3d_layout_with_valid_i(network, model_data_dir, tmp_path):
    rng = np.random.default_rng(1)
    n = 18
    features = rng.uniform(0.0, 2.0, size=(n, 2048)).astype(np.float32)
    out = predictions(network, features)
    joints = out["joints3d"].astype(np.float64) + np.array([0.0, 0.1, 5.0])  # 49 joints, with translation
    valid_i = np.ones((n, 1), np.int64)
    valid_i[3] = 0
    joints[3, MPII3D_ROWS[0]] += np.array([1.0, 0.0, 0.0])  # 1 m garbage on the masked frame's MPJPE...
    db = {"vid_name": np.array(["S1_Seq1_0"] * n), "frame_id": np.arange(n), "joints3D": joints,
          "joints2D": np.zeros((n, 49, 3)), "bbox": np.zeros((n, 4)), "img_name": np.array(["x"] * n),
          "features": features, "valid_i": valid_i}
    db_path = joblib_writer.dump(db, tmp_path / "mpii3d_val_scale12_db.pt")
    report_path = tmp_path / "mpii.json"
    done, _ = run_evaluate(db_path, model_data_dir, report_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    assert report["dataset"] == "mpii3d" and "pve" not in report["overall"]
    overall = report["overall"]
    assert overall["num_frames"] == 17
    assert overall["mpjpe"] < 1e-3 and overall["pa_mpjpe"] < 1e-3
    # ...but acceleration uses all frames: frames 2 and 4 see the 1 m jump of headtop (1000/17 mm each);
    # frame 3 is masked, frames 0 and 17 have no value: 15 accel frames.
    assert overall["num_accel_frames"] == 15
    assert overall["accel_error"] == pytest.approx(2 * 1000 / 17 / 15, rel=1e-4)


def test_hostile_database_is_refused_before_anything_runs(model_data_dir, tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    db_path = tmp_path / "3dpw_test_db.pt"
    db_path.write_bytes(pickle.dumps({"features": Evil()}))
    out = tmp_path / "never.json"
    done, events = run_evaluate(db_path, model_data_dir, out)
    assert done.returncode == 2
    assert events[-1]["event"] == "error" and events[-1]["code"] == "DB_INVALID"
    assert "builtins.print" in events[-1]["message"]
    assert "pwned" not in done.stdout + done.stderr
    assert not out.exists()


def test_checkpoint_option_replaces_the_weights(db_3dpw, model_data_dir, tmp_path):
    import torch

    db, _ = db_3dpw
    db_path = joblib_writer.dump(db, tmp_path / "3dpw_test_db.pt")
    # the same synthetic checkpoint with a different mean shape: other predictions, non-zero errors
    ckpt = torch.load(model_data_dir / "tcmr_demo_model.pth.tar", map_location="cpu", weights_only=False)
    ckpt["gen_state_dict"]["regressor.init_shape"] += 2.0
    custom = tmp_path / "tcmr_table4_3dpw_test.pth.tar"
    torch.save({"gen_state_dict": ckpt["gen_state_dict"], "performance": ckpt["performance"]}, custom)
    del ckpt
    out = tmp_path / "custom.json"
    done, _ = run_evaluate(db_path, model_data_dir, out, "--checkpoint", str(custom))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["config"]["checkpoint"] == str(custom.resolve())
    assert report["overall"]["pve"] > 1.0 and report["overall"]["mpjpe"] > 0.1

    done, events = run_evaluate(db_path, model_data_dir, tmp_path / "x.json", "--checkpoint",
                                str(tmp_path / "missing.pth.tar"))
    assert done.returncode == 2 and events[-1]["code"] == "INPUT_NOT_FOUND"
    assert not (tmp_path / "x.json").exists()
