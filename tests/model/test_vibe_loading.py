"""Strict loading of the VIBE checkpoint (official VIBE layout); coded errors for bad files."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.errors import BackendError, Code
from backend.models import checkpoint
from backend.models.loading import load_models
from backend.models.vibe import VIBE

VIBE_NAME = "vibe_model_wo_3dpw.pth.tar"


def _expect_invalid(path: Path, *words: str, loader=checkpoint.load_vibe_state) -> BackendError:
    with pytest.raises(BackendError) as info:
        loader(path)
    err = info.value
    assert err.code == Code.CHECKPOINT_INVALID
    assert str(path) in err.message  # names the file...
    for word in words:  # ...and the problem
        assert word in err.message, err.message
    return err


def test_official_vibe_layout_loads_without_warnings(vibe_data_dir):
    ckpt = torch.load(vibe_data_dir / VIBE_NAME, map_location="cpu", weights_only=False)
    assert set(ckpt) == {"epoch", "gen_state_dict", "performance", "gen_optimizer", "disc_motion_state_dict",
                         "disc_motion_optimizer"}
    assert isinstance(ckpt["performance"], np.float64)
    gen = ckpt["gen_state_dict"]
    assert len(gen) == 35 and gen["encoder.gru.weight_ih_l0"].shape == (3072, 2048)
    assert gen["encoder.linear.weight"].shape == (2048, 1024)
    assert "encoder.gru.weight_ih_l0_reverse" not in gen  # unidirectional
    assert len(ckpt["disc_motion_state_dict"]) == 16
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = load_models(vibe_data_dir, "cpu", backbone=True, model="vibe")
    assert [str(w.message) for w in caught] == []
    assert models.model_name == "vibe" and models.tcmr is None and isinstance(models.vibe, VIBE)
    assert models.checkpoint == vibe_data_dir / VIBE_NAME
    for key, value in models.vibe.state_dict().items():  # every tensor really comes from the file
        assert torch.equal(value, gen[key].float()), key


def test_vibe_needs_no_tcmr_checkpoint_and_vice_versa(vibe_data_dir, tmp_path):
    folder = tmp_path / "only_vibe"
    folder.mkdir()
    for f in vibe_data_dir.iterdir():
        if f.name != "tcmr_demo_model.pth.tar":
            os.symlink(f, folder / f.name)
    assert load_models(folder, "cpu", backbone=False, model="vibe").vibe is not None
    with pytest.raises(BackendError) as info:
        load_models(folder, "cpu", backbone=False)
    assert info.value.code == Code.DATA_MISSING and "tcmr_demo_model.pth.tar" in info.value.message


def test_missing_vibe_checkpoint_says_where_to_get_it(model_data_dir):
    with pytest.raises(BackendError) as info:
        load_models(model_data_dir, "cpu", backbone=False, model="vibe")
    err = info.value
    assert err.code == Code.DATA_MISSING and VIBE_NAME in err.message
    assert "mkocabas/VIBE" in err.hint


def test_the_3dpw_variant_is_used_when_the_demo_model_is_absent(vibe_data_dir, tmp_path):
    folder = tmp_path / "w3dpw"
    folder.mkdir()
    for f in vibe_data_dir.iterdir():
        os.symlink(f, folder / (f.name.replace("wo_3dpw", "w_3dpw")))
    models = load_models(folder, "cpu", backbone=False, model="vibe")
    assert models.checkpoint.name == "vibe_model_w_3dpw.pth.tar"


def test_tcmr_checkpoint_given_as_vibe_and_vice_versa(model_data_dir, vibe_data_dir):
    tcmr = model_data_dir / "tcmr_demo_model.pth.tar"
    err = _expect_invalid(tcmr, "is a TCMR checkpoint", "--model tcmr")
    assert "VIBE" in err.hint and tcmr.name in err.hint
    _expect_invalid(vibe_data_dir / VIBE_NAME, "is a VIBE checkpoint", "--model vibe",
                    loader=checkpoint.load_tcmr_state)
    _expect_invalid(model_data_dir / "spin_model_checkpoint.pth.tar", "gen_state_dict", "SPIN")


def test_tcmr_checkpoint_as_vibe_through_load_models(model_data_dir):
    with pytest.raises(BackendError) as info:
        load_models(model_data_dir, "cpu", backbone=False, model="vibe",
                    checkpoint=model_data_dir / "tcmr_demo_model.pth.tar")
    assert info.value.code == Code.CHECKPOINT_INVALID and "TCMR checkpoint" in info.value.message


@pytest.mark.parametrize("legacy", [True, False])
def test_truncated_vibe_checkpoint(vibe_data_dir, tmp_path, legacy):
    src = tmp_path / f"full_{legacy}.pth.tar"
    ckpt = torch.load(vibe_data_dir / VIBE_NAME, map_location="cpu", weights_only=False)
    torch.save(ckpt, src, _use_new_zipfile_serialization=not legacy)
    cut = tmp_path / VIBE_NAME
    with open(src, "rb") as fh:
        cut.write_bytes(fh.read(src.stat().st_size // 2))
    _expect_invalid(cut, "truncated")


def test_wrong_shapes_missing_and_unexpected_keys_are_named(tmp_path):
    expected = checkpoint.expected_shapes(VIBE)
    path = tmp_path / VIBE_NAME
    state = {k: torch.zeros(v) for k, v in expected.items()}
    state["encoder.linear.weight"] = torch.zeros(2048, 2048)  # a bidirectional-sized linear
    torch.save({"gen_state_dict": state, "performance": np.float64(56.5)}, path)
    _expect_invalid(path, "encoder.linear.weight", "(2048, 2048)", "expected (2048, 1024)")

    state = {k: torch.zeros(v) for k, v in expected.items() if k != "encoder.gru.bias_hh_l1"}
    state["encoder.gru.weight_ih_l0_reverse"] = torch.zeros(3072, 2048)
    torch.save({"gen_state_dict": state}, path)
    _expect_invalid(path, "missing", "encoder.gru.bias_hh_l1", "unexpected",
                    "encoder.gru.weight_ih_l0_reverse")


def test_foreign_object_is_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    path = tmp_path / VIBE_NAME
    path.write_bytes(pickle.dumps({"gen_state_dict": Evil()}, protocol=2))
    _expect_invalid(path)
    assert not marker.exists()
