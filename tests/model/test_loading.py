"""Strict, safe loading of the official files; clear errors for bad ones."""

from __future__ import annotations

import os
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.errors import BackendError, Code
from backend.models import checkpoint
from backend.models.loading import load_models
from backend.models.tcmr import TCMR


def _data_copy(src: Path, dst: Path, replace: dict[str, Path] | None = None) -> Path:
    """A data folder of symlinks to `src`, with some files replaced."""
    dst.mkdir()
    replace = replace or {}
    for f in src.iterdir():
        if f.name not in replace:
            os.symlink(f, dst / f.name)
    for name, path in replace.items():
        os.symlink(path, dst / name)
    return dst


def _expect_invalid(func, path: Path, *words: str) -> BackendError:
    with pytest.raises(BackendError) as info:
        func(path)
    err = info.value
    assert err.code == Code.CHECKPOINT_INVALID
    assert str(path) in err.message
    for word in words:
        assert word in err.message, err.message
    assert path.name in err.hint and "base_data" in err.hint
    return err


def test_official_layout_loads_without_warnings(model_data_dir):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = load_models(model_data_dir, "cpu", backbone=True)
    assert [str(w.message) for w in caught] == []
    assert models.synthetic is True and models.backbone is not None
    # the weights are the file's, not a random init: compare a few tensors
    raw = torch.load(model_data_dir / "tcmr_demo_model.pth.tar", weights_only=False)["gen_state_dict"]
    for key in ("encoder.gru_cur.weight_hh_l1_reverse", "encoder.attention.attention.4.bias",
                "regressor.init_pose", "regressor.deccam.weight"):
        assert torch.equal(models.tcmr.state_dict()[key], raw[key])
    spin = torch.load(model_data_dir / "spin_model_checkpoint.pth.tar", weights_only=False)["model"]
    for key in ("conv1.weight", "layer3.5.bn3.running_var", "layer4.0.downsample.0.weight"):
        assert torch.equal(models.backbone.state_dict()[key], spin[key])
    # the SMPL layer comes from the pkl, as in the official demo
    np.testing.assert_allclose(models.smpl.v_template.numpy(), models.smpl_data.v_template, atol=1e-7)


def test_legacy_and_zip_serializations_both_load(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    for legacy in (True, False):
        path = tmp_path / f"ckpt_{legacy}.pth.tar"
        torch.save({"gen_state_dict": state, "performance": np.float64(52.7), "epoch": 3}, path,
                   _use_new_zipfile_serialization=not legacy)
        with open(path, "rb") as fh:
            assert (fh.read(2) == b"PK") != legacy  # really the two formats
        ckpt = checkpoint.read_checkpoint(path)
        assert torch.equal(ckpt["gen_state_dict"]["w"], state["w"])
        assert float(ckpt["performance"]) == 52.7


def test_truncated_checkpoints_fail_clearly(model_data_dir, tmp_path):
    for name in ("tcmr_demo_model.pth.tar", "spin_model_checkpoint.pth.tar"):  # legacy, zip
        src = model_data_dir / name
        cut = tmp_path / name
        with open(src, "rb") as fh:
            cut.write_bytes(fh.read(src.stat().st_size // 2))
        _expect_invalid(checkpoint.read_checkpoint, cut, "truncated")


def test_spin_file_given_as_tcmr_and_vice_versa(model_data_dir):
    spin = model_data_dir / "spin_model_checkpoint.pth.tar"
    _expect_invalid(checkpoint.load_tcmr_state, spin, "gen_state_dict", "SPIN")
    tcmr = model_data_dir / "tcmr_demo_model.pth.tar"
    _expect_invalid(checkpoint.load_backbone_state, tcmr, "'model'", "TCMR checkpoint")


def test_wrong_shapes_and_keys_are_named(tmp_path):
    expected = checkpoint.expected_shapes(TCMR)
    small = {k: torch.zeros(1) for k in expected}
    path = tmp_path / "tcmr_demo_model.pth.tar"
    torch.save({"gen_state_dict": small}, path)
    _expect_invalid(checkpoint.load_tcmr_state, path, "has shape (1,)", "expected")

    keys = list(expected)
    partial = {k: torch.zeros(expected[k]) for k in keys[1:]}
    partial["encoder.gru_extra.weight"] = torch.zeros(3)
    torch.save({"gen_state_dict": partial}, path)
    err = _expect_invalid(checkpoint.load_tcmr_state, path, "missing", keys[0], "unexpected",
                          "encoder.gru_extra.weight")
    assert "regressor.smpl" not in err.message


def test_nan_weights_are_refused(tmp_path):
    expected = checkpoint.expected_shapes(TCMR)
    state = {k: torch.zeros(v) for k, v in expected.items()}
    state["regressor.fc2.bias"][5] = float("nan")
    path = tmp_path / "t.pth.tar"
    torch.save({"gen_state_dict": state}, path)
    _expect_invalid(checkpoint.load_tcmr_state, path, "regressor.fc2.bias", "NaN")


@pytest.mark.parametrize("content", [b"", b"hello, this is a text file\n", pickle.dumps([1, 2, 3]),
                                     bytes(range(256)) * 10])
def test_foreign_files_fail_clearly(tmp_path, content):
    path = tmp_path / "tcmr_demo_model.pth.tar"
    path.write_bytes(content)
    _expect_invalid(checkpoint.load_tcmr_state, path)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("legacy", [True, False])
def test_malicious_pickle_is_refused_and_not_executed(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "tcmr_demo_model.pth.tar"
    torch.save({"gen_state_dict": {"w": torch.zeros(2)}, "x": _Evil(marker)}, path,
               _use_new_zipfile_serialization=not legacy)
    _expect_invalid(checkpoint.read_checkpoint, path, "refused", "system")
    assert not marker.exists()


def test_missing_data_file_is_data_missing(model_data_dir, tmp_path):
    folder = _data_copy(model_data_dir, tmp_path / "d")
    (folder / "J_regressor_extra.npy").unlink()
    with pytest.raises(BackendError) as info:
        load_models(folder, "cpu", backbone=False)
    assert info.value.code == Code.DATA_MISSING
    assert "J_regressor_extra.npy" in info.value.message and str(folder) in info.value.hint


def test_chumpy_free_300_beta_smpl_file_works(model_data_dir, tmp_path):
    """SMPL 1.1-style file: plain numpy arrays and 300 shape dirs; the first 10 are used."""
    from backend.models.inference import regress_track
    from backend.smpl_file import load_smpl, read_pickle_dict
    from backend.synthetic import write_smpl_pkl

    pkl = write_smpl_pkl(tmp_path / "SMPL_300.pkl", seed=4, num_betas=300, chumpy=False)
    raw = read_pickle_dict(pkl.read_bytes())
    assert isinstance(raw["shapedirs"], np.ndarray) and raw["shapedirs"].shape == (6890, 3, 300)
    data = load_smpl(pkl)
    np.testing.assert_array_equal(data.shapedirs, raw["shapedirs"][:, :, :10])

    folder = _data_copy(model_data_dir, tmp_path / "d", {"SMPL_NEUTRAL.pkl": pkl})
    models = load_models(folder, "cpu", backbone=False)
    assert tuple(models.smpl.shapedirs.shape) == (6890, 3, 10)
    out = regress_track(models, np.ones((3, 2048), np.float32), with_verts=True)
    assert np.isfinite(out["verts"]).all() and out["verts"].shape == (3, 6890, 3)
    shutil.rmtree(folder)


def test_another_tcmr_checkpoint_replaces_the_folders_one(model_data_dir, tmp_path):
    """`tcmr_checkpoint=` (evaluate --checkpoint) loads that file, and the folder's default TCMR
    checkpoint is then not required at all."""
    folder = _data_copy(model_data_dir, tmp_path / "d")
    moved = tmp_path / "tcmr_table4_3dpw_test.pth.tar"
    (folder / "tcmr_demo_model.pth.tar").rename(moved)
    with pytest.raises(BackendError) as info:
        load_models(folder, "cpu", backbone=False)
    assert info.value.code == Code.DATA_MISSING and "tcmr_demo_model.pth.tar" in info.value.message
    models = load_models(folder, "cpu", backbone=False, tcmr_checkpoint=moved)
    reference = load_models(model_data_dir, "cpu", backbone=False)
    for name, value in reference.tcmr.state_dict().items():
        assert torch.equal(models.tcmr.state_dict()[name], value), name
    shutil.rmtree(folder)
