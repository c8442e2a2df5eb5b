"""`check` lists the VIBE checkpoints as optional files; `regress --model vibe` runs VIBE."""

from __future__ import annotations

import io
import json
import os
from types import SimpleNamespace

import numpy as np

from backend.errors import Code
from backend.events import Reporter
from tests.model.conftest import make_features
from tests.model.test_cli import _check_in_process, _linked


def test_check_lists_vibe_as_optional_with_its_source(model_data_dir):
    error, _, table = _check_in_process(model_data_dir)
    assert error is None
    assert "vibe_model_wo_3dpw.pth.tar" in table and "optional" in table and "mkocabas/VIBE" in table


def test_check_validates_a_present_vibe_checkpoint(vibe_data_dir, model_data_dir, tmp_path):
    from backend.commands import check

    error, _, _ = _check_in_process(vibe_data_dir)
    assert error is None
    files = {r["name"]: r["status"] for r in check.check_folder(vibe_data_dir)}
    assert files["vibe_model_wo_3dpw.pth.tar"] == "found" and files["vibe_model_w_3dpw.pth.tar"] == "optional"

    folder = _linked(model_data_dir, tmp_path / "d")  # a TCMR file under VIBE's name
    os.symlink(model_data_dir / "tcmr_demo_model.pth.tar", folder / "vibe_model_w_3dpw.pth.tar")
    error, _, _ = _check_in_process(folder)
    assert error.code == Code.DATA_INVALID
    assert "vibe_model_w_3dpw.pth.tar" in error.message and "TCMR checkpoint" in error.message


def test_regress_model_vibe(vibe_data_dir, tmp_path):
    from backend.commands import regress
    from backend.models.loading import load_models
    from backend.models.vibe_inference import regress_track_vibe

    features = make_features(12, seed=4)
    np.save(tmp_path / "f.npy", features)
    out = tmp_path / "o.npz"
    args = SimpleNamespace(features=str(tmp_path / "f.npy"), out=str(out), verts=False, batch_size=5,
                           model="vibe", checkpoint=None, data_dir=str(vibe_data_dir), device="cpu")
    stream = io.StringIO()
    path, fields = regress.execute(args, Reporter(jsonl=True, out=stream, err=io.StringIO()))
    assert fields["model"] == "vibe" and path == out.resolve()
    stages = [json.loads(x) for x in stream.getvalue().splitlines() if '"stage"' in x]
    assert stages[0]["message"] == "Loading the VIBE model"
    expected = regress_track_vibe(load_models(vibe_data_dir, "cpu", backbone=False, model="vibe"), features)
    with np.load(out) as npz:
        assert sorted(npz.files) == ["betas", "joints3d", "pose", "pred_cam"]
        np.testing.assert_allclose(npz["joints3d"], expected["joints3d"], atol=1e-6)
