"""`python -m backend lift`: every input format gives the same result; bad input ends coded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.cli import main
from tests.lifting import formats
from tests.lifting.conftest import HEIGHT, WIDTH, make_track

ROOT = Path(__file__).resolve().parents[2]
SIZE = ["--width", str(WIDTH), "--height", str(HEIGHT)]


def run_lift(capsys, data_dir, *args) -> tuple[int, list[dict]]:
    code = main(["lift", *map(str, args), "--data-dir", str(data_dir), "--device", "cpu", "--jsonl"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    return code, lines


def error_of(lines) -> dict:
    errors = [e for e in lines if e["event"] == "error"]
    assert len(errors) == 1, lines
    return errors[0]


@pytest.fixture(scope="module")
def track():
    return make_track(60, seed=11)


@pytest.fixture(scope="module")
def npy_result(lift_data_dir, track, tmp_path_factory):
    folder = tmp_path_factory.mktemp("npy")
    out = folder / "out.npz"
    code = main(["lift", str(formats.write_npy(track, folder / "kp.npy")), "--out", str(out), *SIZE,
                 "--data-dir", str(lift_data_dir), "--device", "cpu", "--jsonl"])
    assert code == 0
    return dict(np.load(out))


def test_output_layout_and_values(npy_result, lift_data_dir, track):
    from backend.lifting.checkpoint import build_models, load_lift_weights
    from backend.lifting.inference import lift

    r = npy_result
    assert r["pose"].shape == r["joints3d"].shape == (60, 17, 3) and r["trajectory"].shape == (60, 3)
    assert list(r["parents"]) == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
    assert r["joint_names"][0] == "hip" and r["joint_names"][16] == "right_wrist"
    assert bool(r["synthetic"]) and bool(r["flip"]) and bool(r["has_trajectory"])
    assert not r["missing"].any() and float(r["width"]) == WIDTH
    np.testing.assert_allclose(r["joints3d"], r["pose"] + r["trajectory"][:, None], atol=1e-6)
    pos, traj = build_models(load_lift_weights(lift_data_dir / "pretrained_h36m_detectron_coco.bin"),
                             dtype=torch.float64)
    want = lift(track[..., :2], WIDTH, HEIGHT, pos, traj, dtype=torch.float64)
    np.testing.assert_allclose(r["joints3d"], want.joints3d, atol=1e-4 * np.abs(want.joints3d).max())


@pytest.mark.parametrize("kind", ["npz", "coco_results", "coco_dataset", "openpose"])
def test_every_format_gives_the_same_result(kind, npy_result, lift_data_dir, track, tmp_path, capsys):
    size = SIZE
    if kind == "npz":
        src = formats.write_npz(track, tmp_path / "kp.npz", WIDTH, HEIGHT)
        size = []  # the size comes from the file
    elif kind == "coco_results":
        src = formats.write_coco_results(track, tmp_path / "res.json")
    elif kind == "coco_dataset":
        src = formats.write_coco_dataset(track, tmp_path / "ds.json", WIDTH, HEIGHT)
        size = []
    else:
        src = formats.write_openpose(track, tmp_path / "openpose")
    out = tmp_path / "out.npz"
    code, lines = run_lift(capsys, lift_data_dir, src, "--out", out, *size)
    assert code == 0, lines
    got = np.load(out)
    for key in ("pose", "trajectory", "joints3d", "keypoints", "missing"):
        np.testing.assert_allclose(got[key], npy_result[key], atol=1e-6, err_msg=key)


def test_missing_keypoints_are_interpolated_and_flagged(lift_data_dir, tmp_path, capsys):
    track = make_track(30, seed=2)
    t = np.arange(30, dtype=float)
    track[:, 9, 0], track[:, 9, 1] = 100 + 3 * t, 200 - 2 * t  # a wrist moving linearly
    holed = track.copy()
    holed[5:9, 9, 2] = 0.02  # low confidence
    holed[12, 9, :2] = np.nan  # not detected
    holed[0, 9, 2] = 0.0  # first frame: held from the next valid one
    out = tmp_path / "out.npz"
    code, lines = run_lift(capsys, lift_data_dir, formats.write_npy(holed, tmp_path / "kp.npy"), "--out", out,
                           *SIZE)
    assert code == 0 and any(e.get("code") == "KEYPOINTS_FILLED" for e in lines)
    got = np.load(out)
    assert sorted(np.argwhere(got["missing"]).tolist()) == [[0, 9], [5, 9], [6, 9], [7, 9], [8, 9], [12, 9]]
    np.testing.assert_allclose(got["keypoints"][1:, 9], track[1:, 9, :2], atol=1e-4)
    np.testing.assert_allclose(got["keypoints"][0, 9], track[1, 9, :2], atol=1e-4)


def _bad_array(kind: str) -> np.ndarray:
    if kind == "joints":
        return make_track(10)[:, :16]
    if kind == "nan":
        return np.full((10, 17, 2), np.nan)
    if kind == "empty":
        return np.zeros((0, 17, 3))
    track = make_track(10)
    track[:, 3, :2] = np.nan  # one keypoint never seen
    return track


@pytest.mark.parametrize("kind", ["joints", "nan", "empty", "never"])
def test_bad_keypoints_end_coded_and_keep_old_output(kind, lift_data_dir, tmp_path, capsys):
    out = tmp_path / "out.npz"
    out.write_bytes(b"older result")
    code, lines = run_lift(capsys, lift_data_dir, formats.write_npy(_bad_array(kind), tmp_path / "kp.npy"),
                           "--out", out, *SIZE)
    assert code == 2 and error_of(lines)["code"] == "KEYPOINTS_INVALID" and error_of(lines)["hint"]
    assert out.read_bytes() == b"older result"


def test_empty_openpose_folder_and_unknown_size(lift_data_dir, tmp_path, capsys):
    (tmp_path / "op").mkdir()
    code, lines = run_lift(capsys, lift_data_dir, tmp_path / "op", "--out", tmp_path / "o.npz", *SIZE)
    assert code == 2 and error_of(lines)["code"] == "KEYPOINTS_INVALID"
    code, lines = run_lift(capsys, lift_data_dir, formats.write_npy(make_track(5), tmp_path / "k.npy"),
                           "--out", tmp_path / "o.npz")
    assert code == 2 and error_of(lines)["code"] == "BAD_ARGUMENT" and "--width" in error_of(lines)["hint"]
    assert not (tmp_path / "o.npz").exists()


class _NotWeights:
    """A pickled object a weights-only reader must refuse."""


def _wrong_checkpoint(kind: str, path: Path) -> Path:
    from backend.lifting.model import LiftConfig
    from backend.synthetic_lift import temporal_state

    if kind == "tcmr":
        torch.save({"epoch": 1, "gen_state_dict": {"w": torch.zeros(2)}, "performance": 1.0}, path)
    elif kind == "shapes":  # the official layout, but 64 channels instead of 1024
        state = temporal_state(np.random.default_rng(0), LiftConfig(channels=64))
        torch.save({"epoch": 1, "lr": 0.1, "model_pos": state, "model_traj": None}, path)
    elif kind == "object":
        torch.save({"model_pos": {}, "random_state": _NotWeights()}, path)
    elif kind == "truncated":
        path.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    return path


@pytest.mark.parametrize("kind", ["tcmr", "shapes", "object", "truncated"])
def test_wrong_checkpoint_is_checkpoint_invalid(kind, tmp_path, capsys):
    ckpt = _wrong_checkpoint(kind, tmp_path / "ckpt.bin")
    code, lines = run_lift(capsys, tmp_path, formats.write_npy(make_track(5), tmp_path / "k.npy"),
                           "--out", tmp_path / "o.npz", *SIZE, "--checkpoint", ckpt)
    err = error_of(lines)
    assert code == 2 and err["code"] == "CHECKPOINT_INVALID" and "ckpt.bin" in err["message"]
    assert not (tmp_path / "o.npz").exists()


def test_each_allow_list_entry_is_needed(lift_data_dir, monkeypatch):
    """The allow-list is exactly what the released layout needs: drop any one entry and it fails."""
    from backend.errors import BackendError
    from backend.lifting import checkpoint

    full = list(checkpoint.LIFT_SAFE_GLOBALS)
    for i in range(len(full)):
        monkeypatch.setattr(checkpoint, "LIFT_SAFE_GLOBALS", full[:i] + full[i + 1:])
        with pytest.raises(BackendError) as exc:
            checkpoint.read_lift_file(lift_data_dir / "pretrained_h36m_detectron_coco.bin")
        assert exc.value.code == "CHECKPOINT_INVALID"


def test_missing_checkpoint_subprocess(tmp_path):
    np.save(tmp_path / "k.npy", make_track(5))
    proc = subprocess.run([sys.executable, "-m", "backend", "lift", str(tmp_path / "k.npy"), "--out",
                           str(tmp_path / "o.npz"), *SIZE, "--data-dir", str(tmp_path), "--device", "cpu",
                           "--jsonl"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == 2 and events[-1]["code"] == "DATA_MISSING"
    assert "pretrained_h36m_detectron_coco.bin" in events[-1]["message"]


@pytest.mark.parametrize("legacy", [True, False])
def test_both_serializations_and_no_trajectory_load(tmp_path, legacy):
    """The 2018-2019 release used torch's legacy (protocol 2) format; `model_traj` None = no trajectory."""
    from backend.lifting.checkpoint import build_models, load_lift_weights
    from backend.lifting.inference import lift
    from backend.lifting.model import LiftConfig
    from backend.synthetic_lift import write_lift_checkpoint

    config = LiftConfig(channels=16)
    path = write_lift_checkpoint(tmp_path / "c.bin", seed=1, trajectory=False, config=config,
                                 legacy_format=legacy)
    weights = load_lift_weights(path, config)
    assert weights.traj is None and weights.epoch == 80 and len(weights.pos) == 56
    pos, traj = build_models(weights, config)
    result = lift(make_track(4)[..., :2], WIDTH, HEIGHT, pos, traj)
    assert traj is None and result.trajectory is None and np.array_equal(result.joints3d, result.pose)
