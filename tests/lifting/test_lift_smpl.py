"""`lift --fit-smpl / --smpl-out`: the fit's fields in OUT.npz and a result directory the
add-on's reader takes; the fields reproduce the fitted joints through the SMPL layer."""

from __future__ import annotations

import json

import numpy as np
import torch

from backend.cli import main
from tests.lifting import formats
from tests.lifting.conftest import HEIGHT, WIDTH, make_track

FRAMES = 8
SIZE = ("--width", WIDTH, "--height", HEIGHT)


def _lift(capsys, *args):
    code = main(["lift", *map(str, args), "--device", "cpu", "--jsonl"])
    return code, [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]


def test_fit_fields_and_result_directory(capsys, model_data_dir, lift_data_dir, tmp_path):
    from smplx.lbs import batch_rodrigues

    from addon.core.result_io import load_track, read_result
    from backend.models.smpl import SmplLayer
    from backend.smpl_file import load_smpl

    keypoints = formats.write_npy(make_track(FRAMES, seed=2), tmp_path / "kp.npy")
    checkpoint = lift_data_dir / "pretrained_h36m_detectron_coco.bin"
    code, events = _lift(capsys, keypoints, "--out", tmp_path / "out.npz", *SIZE, "--data-dir",
                         model_data_dir, "--checkpoint", checkpoint, "--smpl-out", tmp_path / "smpl",
                         "--smpl-iterations", 15)
    assert code == 0, events
    assert any(e["event"] == "stage" and e.get("stage") == "fit" for e in events)
    r = dict(np.load(tmp_path / "out.npz"))
    assert r["smpl_global_orient"].shape == (FRAMES, 3) and r["smpl_body_pose"].shape == (FRAMES, 23, 3)
    assert r["smpl_betas"].shape == (10,) and r["smpl_transl"].shape == (FRAMES, 3)
    assert r["smpl_fit_mpjpe_mm"].shape == (FRAMES,)
    # the fields are in Contract 3's conventions: SMPL layer + transl gives the fitted joints back
    smpl = load_smpl(model_data_dir / "SMPL_NEUTRAL.pkl")
    pose = np.concatenate([r["smpl_global_orient"][:, None], r["smpl_body_pose"]], axis=1)
    rotmat = batch_rodrigues(torch.from_numpy(pose.reshape(-1, 3))).reshape(FRAMES, 24, 3, 3)
    betas = torch.from_numpy(np.tile(r["smpl_betas"], (FRAMES, 1)))
    verts, _ = SmplLayer(smpl, np.zeros((9, 6890)))(rotmat, betas)
    h36m = np.load(model_data_dir / "J_regressor_h36m.npy")
    joints = np.einsum("jv,tvc->tjc", h36m, verts.numpy()) + r["smpl_transl"][:, None]
    assert np.abs(joints - r["smpl_joints3d_h36m"]).max() < 1e-4
    error = np.linalg.norm(joints - r["joints3d"], axis=-1).mean(axis=1) * 1000.0
    np.testing.assert_allclose(error, r["smpl_fit_mpjpe_mm"], atol=0.05)

    info = read_result(tmp_path / "smpl")
    assert info.synthetic_model_data and info.camera.focal_length_px == float(r["focal_px"])
    track = load_track(info, info.tracks[0])
    assert len(track.frame_index) == FRAMES
    np.testing.assert_allclose(track.transl, r["smpl_transl"], atol=1e-6)


def test_fit_without_smpl_data_fails_before_writing(capsys, lift_data_dir, tmp_path):
    keypoints = formats.write_npy(make_track(FRAMES, seed=2), tmp_path / "kp.npy")
    code, events = _lift(capsys, keypoints, "--out", tmp_path / "out.npz", *SIZE, "--data-dir", lift_data_dir,
                         "--fit-smpl")
    assert code != 0 and events[-1]["event"] == "error" and events[-1]["code"] == "DATA_MISSING"
    assert "SMPL_NEUTRAL.pkl" in events[-1]["message"]
    assert not (tmp_path / "out.npz").exists()



def _prior_track(path, frames):
    """A Contract 3 track file whose pose rows are told apart by their frame number."""
    frames = np.asarray(frames, dtype=np.int64)
    pose = 0.01 * (frames[:, None, None] + np.arange(24)[None, :, None] / 100.0) * np.ones((1, 1, 3))
    np.savez(path, frame_index=frames, global_orient=pose[:, 0].astype(np.float32),
             body_pose=pose[:, 1:].astype(np.float32))
    return pose.reshape(len(frames), 72).astype(np.float32)


def test_a_prior_track_goes_into_the_fit_frame_by_frame(capsys, model_data_dir, lift_data_dir, tmp_path,
                                                         monkeypatch):
    from backend.lifting import smpl_fit

    seen = {}
    real_fit = smpl_fit.fit_smpl

    def spy(*args, prior_pose=None, **kwargs):
        seen["prior"] = prior_pose
        return real_fit(*args, prior_pose=prior_pose, **kwargs)

    monkeypatch.setattr(smpl_fit, "fit_smpl", spy)
    keypoints = formats.write_npy(make_track(FRAMES, seed=2), tmp_path / "kp.npy")
    checkpoint = lift_data_dir / "pretrained_h36m_detectron_coco.bin"
    common = (keypoints, *SIZE, "--data-dir", model_data_dir, "--checkpoint", checkpoint, "--fit-smpl",
              "--smpl-iterations", 5)
    # a longer track (frames 0..FRAMES+2): the keypoints' frame t takes the row numbered t
    pose = _prior_track(tmp_path / "track_1.npz", range(FRAMES + 3))
    code, events = _lift(capsys, *common, "--out", tmp_path / "with.npz", "--smpl-prior",
                         tmp_path / "track_1.npz")
    assert code == 0, events
    np.testing.assert_allclose(seen["prior"], pose[:FRAMES], atol=1e-7)

    _prior_track(tmp_path / "short.npz", range(1, FRAMES + 3))  # no row for frame 0
    code, events = _lift(capsys, *common, "--out", tmp_path / "short_out.npz", "--smpl-prior",
                         tmp_path / "short.npz")
    assert code != 0 and events[-1]["code"] == "BAD_ARGUMENT" and "frame 0" in events[-1]["message"]
    assert not (tmp_path / "short_out.npz").exists()
