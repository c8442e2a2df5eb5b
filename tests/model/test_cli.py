"""`python -m backend regress` and `check`, end to end."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from backend.errors import BackendError, Code
from backend.events import Reporter
from tests.model.conftest import make_features
from tests.model.reference import aa_distance, reference_track

ROOT = Path(__file__).resolve().parents[2]


def run_backend(*args: str, env_extra: dict | None = None) -> tuple[int, list[dict], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    proc = subprocess.run([sys.executable, "-m", "backend", *args, "--jsonl"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout: protocol lines only
    return proc.returncode, events, proc.stderr


def test_regress_end_to_end_matches_reference(model_data_dir, tmp_path, gen_state, smpl_data, j_extra):
    features = make_features(17, seed=9)  # row 8 real, the rest static
    np.save(tmp_path / "f.npy", features)
    out = tmp_path / "sub" / "out.npz"
    rc, events, _ = run_backend("regress", str(tmp_path / "f.npy"), "--out", str(out), "--verts",
                                "--data-dir", str(model_data_dir), "--device", "cpu")
    assert rc == 0
    names = [e["event"] for e in events]
    assert names[0] == "hello" and names[-1] == "result" and names.count("result") == 1
    assert {"stage", "progress", "warning"} <= set(names)
    assert any(e.get("code") == "SYNTHETIC_DATA" for e in events)
    assert events[-1]["path"] == str(out.resolve()) and events[-1]["frames"] == 17
    with np.load(out, allow_pickle=False) as npz:
        got = {k: npz[k] for k in npz.files}
    assert {k: v.shape for k, v in got.items()} == {
        "pose": (17, 72), "betas": (17, 10), "pred_cam": (17, 3), "joints3d": (17, 49, 3),
        "verts": (17, 6890, 3), "confidence": (17, 24)}
    assert np.all((got["confidence"] > 0) & (got["confidence"] <= 1))
    ref = reference_track(gen_state, smpl_data, j_extra, features)
    assert aa_distance(got["pose"].astype(np.float64), ref["pose"]).max() < 1e-5
    for key in ("betas", "pred_cam", "joints3d", "verts"):
        assert np.abs(got[key] - ref[key]).max() < 1e-5, key
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.npz"]  # no temporary left


def _bad(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "f.npy"
    if kind == "missing":
        return tmp_path / "nope.npy"
    if kind == "text":
        path.write_text("not numpy\n")
    elif kind == "shape":
        np.save(path, np.zeros((5, 1024), np.float32))
    elif kind == "dtype":
        np.save(path, np.zeros((5, 2048), np.int32))
    elif kind == "nan":
        a = make_features(5)
        a[2, 7] = np.nan
        np.save(path, a)
    elif kind == "empty":
        np.save(path, np.zeros((0, 2048), np.float32))
    return path


@pytest.mark.parametrize(("kind", "code", "word"), [
    ("missing", "INPUT_NOT_FOUND", "not found"), ("text", "INPUT_UNREADABLE", "not a readable"),
    ("shape", "INPUT_UNREADABLE", "(5, 1024)"), ("dtype", "INPUT_UNREADABLE", "int32"),
    ("nan", "INPUT_UNREADABLE", "frame 2"), ("empty", "INPUT_UNREADABLE", "(0, 2048)")])
def test_regress_bad_features_in_process(model_data_dir, tmp_path, kind, code, word):
    from backend.commands import regress

    out = tmp_path / "o.npz"
    args = SimpleNamespace(features=str(_bad(tmp_path, kind)), out=str(out), verts=False, batch_size=64,
                           data_dir=str(model_data_dir), device="cpu")
    with pytest.raises(BackendError) as info:
        regress.execute(args, Reporter(jsonl=True, out=io.StringIO(), err=io.StringIO()))
    assert info.value.code == code and word in info.value.message and info.value.hint
    assert not out.exists()


def test_regress_bad_input_subprocess_reports_one_coded_error(model_data_dir, tmp_path):
    rc, events, _ = run_backend("regress", str(_bad(tmp_path, "nan")), "--out", str(tmp_path / "o.npz"),
                                "--data-dir", str(model_data_dir))
    assert rc == 2
    assert [e["event"] for e in events] == ["hello", "error"]
    assert events[-1]["code"] == "INPUT_UNREADABLE" and "NaN" in events[-1]["message"]
    assert not (tmp_path / "o.npz").exists()


def test_regress_without_model_data_names_the_files(tmp_path):
    np.save(tmp_path / "f.npy", make_features(3))
    rc, events, _ = run_backend("regress", str(tmp_path / "f.npy"), "--out", str(tmp_path / "o.npz"),
                                env_extra={"TCMR_DATA_DIR": str(tmp_path / "empty")})
    assert rc == 2 and events[-1]["code"] == "DATA_MISSING"
    message = events[-1]["message"]
    assert "tcmr_demo_model.pth.tar" in message and str(tmp_path / "empty") in message


def test_check_synthetic_folder_passes_with_warning(model_data_dir):
    rc, events, stderr = run_backend("check", "--data-dir", str(model_data_dir))
    assert rc == 0
    assert events[-1]["event"] == "result"
    files = events[-1]["files"]
    assert [f["name"] for f in files] == ["SMPL_NEUTRAL.pkl", "J_regressor_extra.npy", "J_regressor_h36m.npy",
                                          "smpl_mean_params.npz", "spin_model_checkpoint.pth.tar",
                                          "tcmr_demo_model.pth.tar", "vibe_model_wo_3dpw.pth.tar",
                                          "vibe_model_w_3dpw.pth.tar", "pretrained_h36m_detectron_coco.bin"]
    assert all(f["status"] == "found" for f in files[:6])
    assert all(f["status"] == "optional" for f in files[6:])  # VIBE, lifting: absent, no failure
    assert any(e["event"] == "warning" and e["code"] == "SYNTHETIC_DATA" for e in events)
    assert "tcmr_demo_model.pth.tar" in stderr and "found" in stderr  # the human table


def _check_in_process(folder: Path) -> tuple[BackendError | None, list[dict], str]:
    from backend.commands import check

    out, err = io.StringIO(), io.StringIO()
    try:
        check.execute(SimpleNamespace(data_dir=str(folder)), Reporter(jsonl=True, out=out, err=err))
        error = None
    except BackendError as exc:
        error = exc
    return error, [json.loads(x) for x in out.getvalue().splitlines()], err.getvalue()


def _linked(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        os.symlink(f, dst / f.name)
    return dst


def test_check_missing_file_says_where_to_get_it_and_where_it_goes(model_data_dir, tmp_path):
    folder = _linked(model_data_dir, tmp_path / "d")
    (folder / "SMPL_NEUTRAL.pkl").unlink()
    error, _, table = _check_in_process(folder)
    assert error.code == Code.DATA_MISSING
    assert "SMPL_NEUTRAL.pkl" in error.message and "missing" in error.message
    assert "smplify.is.tue.mpg.de" in error.hint and str(folder / "SMPL_NEUTRAL.pkl") in error.hint
    assert "missing" in table and str(folder / "SMPL_NEUTRAL.pkl") in table


def test_check_invalid_files_are_data_invalid(model_data_dir, tmp_path):
    folder = _linked(model_data_dir, tmp_path / "d")
    (folder / "J_regressor_h36m.npy").unlink()
    np.save(folder / "J_regressor_h36m.npy", np.zeros((14, 6890)))
    (folder / "smpl_mean_params.npz").unlink()
    np.savez(folder / "smpl_mean_params.npz", pose=np.zeros(144), cam=np.zeros(3))
    error, _, table = _check_in_process(folder)
    assert error.code == Code.DATA_INVALID
    assert "J_regressor_h36m.npy" in error.message and "(14, 6890)" in error.message
    assert "smpl_mean_params.npz" in error.message and "shape" in error.message
    assert "tcmr_demo_model.pth.tar" not in error.message
    statuses = {ln.split()[0]: ln.split()[1] for ln in table.splitlines()[1:] if ln.split()[0].count(".") == 1
                or ln.split()[0].endswith(".pth.tar")}
    assert statuses["J_regressor_h36m.npy"] == "invalid" and statuses["smpl_mean_params.npz"] == "invalid"
    assert list(statuses.values()).count("found") == 4


def test_check_wrong_checkpoint_under_tcmr_name(model_data_dir, tmp_path):
    folder = _linked(model_data_dir, tmp_path / "d")
    (folder / "tcmr_demo_model.pth.tar").unlink()
    os.symlink(model_data_dir / "spin_model_checkpoint.pth.tar", folder / "tcmr_demo_model.pth.tar")
    error, _, _ = _check_in_process(folder)
    assert error.code == Code.DATA_INVALID
    assert "tcmr_demo_model.pth.tar" in error.message and "SPIN" in error.message


def test_check_accepts_official_checkout_data_folder(model_data_dir, tmp_path):
    """--data-dir may be a TCMR checkout's `data` folder holding `base_data`."""
    data = tmp_path / "data"
    data.mkdir()
    _linked(model_data_dir, data / "base_data")
    error, events, _ = _check_in_process(data)
    assert error is None and events[-1]["event"] == "warning"
