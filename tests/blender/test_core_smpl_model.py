"""addon/core/smpl_model.py: the official pickle layout without chumpy/scipy, and nothing else."""

from __future__ import annotations

import copyreg
import os
import pickle

import numpy as np
import pytest
import scipy.sparse

from addon.core.smpl_model import SmplModelError, load_smpl_model, safe_unpickle


def test_reads_official_format_like_the_backend(model_data_dir, smpl_data):
    model = load_smpl_model(model_data_dir / "SMPL_NEUTRAL.pkl")
    # smpl_data comes from the backend's reader, written independently of the add-on's.
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "faces", "parents"):
        assert np.array_equal(getattr(model, key), getattr(smpl_data, key)), key
    assert model.shapedirs.shape == (6890, 3, 10) and model.faces.shape == (13776, 3)
    betas = np.linspace(-2, 2, 10)
    shaped = smpl_data.v_template + smpl_data.shapedirs @ betas
    assert np.allclose(model.rest_joints(betas), smpl_data.J_regressor @ shaped)


def _plain_pickle(smpl_data, tmp_path, sparse_cls, num_betas=10):
    """The same model with plain ndarrays and a real scipy sparse J_regressor (csr or csc)."""
    shapedirs = smpl_data.shapedirs
    if num_betas > 10:
        shapedirs = np.concatenate([shapedirs, np.zeros((6890, 3, num_betas - 10))], axis=2)
    data = {
        "v_template": smpl_data.v_template, "shapedirs": shapedirs, "posedirs": smpl_data.posedirs,
        "J_regressor": sparse_cls(smpl_data.J_regressor), "weights": smpl_data.weights,
        "f": smpl_data.faces.astype(np.uint32),
        "kintree_table": np.stack([np.where(smpl_data.parents < 0, 4294967295, smpl_data.parents),
                                   np.arange(24)]).astype(np.int64),
        "bs_style": "lbs",
    }
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    return path


@pytest.mark.parametrize("sparse_cls", [scipy.sparse.csr_matrix, scipy.sparse.csc_matrix])
def test_real_scipy_sparse_and_300_betas(smpl_data, tmp_path, sparse_cls):
    model = load_smpl_model(_plain_pickle(smpl_data, tmp_path, sparse_cls, num_betas=300))
    assert np.allclose(model.J_regressor, smpl_data.J_regressor)
    assert model.shapedirs.shape == (6890, 3, 10)
    assert np.array_equal(model.shapedirs, smpl_data.shapedirs)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _ReconstructsObject:
    def __reduce__(self):  # copy_reg._reconstructor on a class that is not a stand-in
        return (copyreg._reconstructor, (object, object, None))


def test_malicious_pickles_are_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"v_template": _RunsCode(marker)}, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"(posix|os)\.system"):
        safe_unpickle(payload)
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(payload)
    with pytest.raises(SmplModelError, match="refused global") as info:
        load_smpl_model(path)
    assert "SMPL_NEUTRAL.pkl" in info.value.hint
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        safe_unpickle(pickle.dumps(_ReconstructsObject(), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"builtins\.eval"):
        safe_unpickle(b"cbuiltins\neval\n(S'1+1'\ntR.")


def test_bad_files_name_the_problem(smpl_data, tmp_path):
    with pytest.raises(SmplModelError, match="not found"):
        load_smpl_model(tmp_path / "nope.pkl")
    bad = tmp_path / "truncated.pkl"
    bad.write_bytes(pickle.dumps({"a": 1})[:5])
    with pytest.raises(SmplModelError, match="not a readable SMPL model pickle"):
        load_smpl_model(bad)
    no_keys = tmp_path / "dict.pkl"
    no_keys.write_bytes(pickle.dumps({"v_template": np.zeros((6890, 3))}))
    with pytest.raises(SmplModelError, match="not an SMPL model file"):
        load_smpl_model(no_keys)
    path = _plain_pickle(smpl_data, tmp_path, scipy.sparse.csr_matrix)
    data = pickle.loads(path.read_bytes())
    data["v_template"] = np.zeros((10475, 3))  # an SMPL-X sized template
    path.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(SmplModelError, match="v_template") as info:
        load_smpl_model(path)
    assert "SMPL-X" in info.value.hint
