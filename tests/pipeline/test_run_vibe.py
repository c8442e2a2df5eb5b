"""`python -m backend run --model vibe` end to end: same crops and tracks as TCMR, VIBE's network,
the shared camera and result writer; the result says which model made it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.pipeline.clips import BBOX
from tests.pipeline.conftest import run_backend

BBOX_ARG = ",".join(str(v) for v in BBOX)


def _track(out):
    with np.load(out / "track_1.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.fixture(scope="module")
def both_runs(clips, vibe_data_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("vibe_run")
    outs = {}
    for model in ("tcmr", "vibe"):
        out = base / model
        run = run_backend(clips["mp4"], "--out", out, "--bbox", BBOX_ARG, "--save-features", "--model", model,
                          "--data-dir", vibe_data_dir)
        assert run.rc == 0, run.stderr
        outs[model] = (out, run)
    return outs


def test_result_records_the_model(both_runs):
    for model, checkpoint in (("tcmr", "tcmr_demo_model.pth.tar"), ("vibe", "vibe_model_wo_3dpw.pth.tar")):
        out, run = both_runs[model]
        meta = json.loads((out / "result.json").read_text())
        assert meta["config"]["model"] == model
        assert meta["producer"]["model"] == model and meta["producer"]["checkpoint"] == checkpoint
        assert meta["producer"]["synthetic_model_data"] is True
        assert run.of("stage")[0]["message"] == f"Loading the {model.upper()} model"


def test_same_crops_same_features_different_network(both_runs):
    tcmr, vibe = _track(both_runs["tcmr"][0]), _track(both_runs["vibe"][0])
    np.testing.assert_array_equal(tcmr["features"], vibe["features"])  # one front end for both
    np.testing.assert_array_equal(tcmr["bbox_xywh"], vibe["bbox_xywh"])
    assert np.abs(tcmr["body_pose"] - vibe["body_pose"]).max() > 1e-3


def test_vibe_values_are_vibes_on_the_saved_features(both_runs, vibe_data_dir):
    from backend.camera import crop_cam_to_transl
    from backend.models.loading import load_models
    from backend.models.vibe_inference import regress_track_vibe

    out, _ = both_runs["vibe"]
    meta = json.loads((out / "result.json").read_text())
    a = _track(out)
    models = load_models(vibe_data_dir, "cpu", backbone=False, model="vibe")
    ref = regress_track_vibe(models, a["features"])
    assert np.allclose(ref["pose"][:, :3], a["global_orient"], atol=1e-5)
    assert np.allclose(ref["pose"][:, 3:].reshape(-1, 23, 3), a["body_pose"], atol=1e-5)
    assert np.allclose(ref["betas"], a["betas_per_frame"], atol=1e-5)
    assert np.allclose(ref["joints3d"], a["joints3d"], atol=1e-5)
    boxes = np.concatenate([a["bbox_xywh"][:, :2] + a["bbox_xywh"][:, 2:] / 2, a["bbox_xywh"][:, 2:]], axis=1)
    transl = crop_cam_to_transl(ref["pred_cam"], boxes, meta["video"]["width"], meta["video"]["height"],
                                meta["camera"]["focal_length_px"])
    assert np.allclose(transl, a["transl"], rtol=1e-4, atol=1e-4)  # the shared camera step


def test_vibe_without_its_checkpoint_fails_before_decoding(clips, model_data_dir, tmp_path):
    out = tmp_path / "r"
    run = run_backend(clips["mp4"], "--out", out, "--bbox", BBOX_ARG, "--model", "vibe",
                      "--data-dir", model_data_dir)
    assert run.rc != 0 and not out.exists()
    err = run.of("error")[0]
    assert err["code"] == "DATA_MISSING" and "vibe_model_wo_3dpw.pth.tar" in err["message"]
    assert [e["stage"] for e in run.of("stage")] == ["load"]
