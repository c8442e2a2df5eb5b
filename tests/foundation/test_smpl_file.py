"""The backend's SMPL reader: official pickle layout, no chumpy, no code execution."""

import io
import pickle
import pickletools
import sys

import numpy as np
import pytest

from backend.errors import BackendError, Code
from backend.smpl_file import SMPL_PARENTS, load_smpl
from backend.synthetic import REST_JOINTS, write_smpl_pkl


def _globals_named(data: bytes) -> set[str]:
    """Module.name of every class/function a pickle refers to (GLOBAL and STACK_GLOBAL)."""
    names, strings = set(), []
    for op, arg, _ in pickletools.genops(io.BytesIO(data)):
        if op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            names.add(f"{strings[-2]}.{strings[-1]}")
    return names


def test_synthetic_file_has_the_official_layout(model_data_dir):
    data = (model_data_dir / "SMPL_NEUTRAL.pkl").read_bytes()
    assert data[:2] == b"\x80\x02"  # protocol 2, as Python 2 wrote it
    refs = _globals_named(data)
    assert "chumpy.ch.Ch" in refs and "scipy.sparse.csc.csc_matrix" in refs
    assert "chumpy" not in sys.modules  # nothing imported a real chumpy


def test_official_layout_loads_without_chumpy_with_sane_arrays(smpl_data):
    assert smpl_data.v_template.shape == (6890, 3)
    assert smpl_data.shapedirs.shape == (6890, 3, 10)
    assert smpl_data.posedirs.shape == (6890, 3, 207)
    assert smpl_data.faces.shape == (13776, 3) and smpl_data.faces.max() == 6889
    assert tuple(smpl_data.parents) == SMPL_PARENTS and smpl_data.parents[0] == -1
    np.testing.assert_allclose(smpl_data.weights.sum(1), 1.0, atol=1e-9)
    # The sparse J_regressor was densified correctly: it regresses the designed rest joints.
    np.testing.assert_allclose(smpl_data.J_regressor @ smpl_data.v_template, REST_JOINTS, atol=1e-9)


def test_synthetic_mesh_is_a_closed_surface(smpl_data):
    faces = smpl_data.faces
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all()  # every edge shared by two faces
    assert 6890 - len(counts) + len(faces) == 2  # Euler characteristic of a sphere


def test_chumpy_free_and_300_beta_files_load_the_same_body(tmp_path, smpl_data):
    plain = load_smpl(write_smpl_pkl(tmp_path / "plain.pkl", seed=0, chumpy=False))
    wide = load_smpl(write_smpl_pkl(tmp_path / "wide.pkl", seed=0, num_betas=300))
    np.testing.assert_array_equal(plain.v_template, smpl_data.v_template)
    np.testing.assert_array_equal(plain.shapedirs, smpl_data.shapedirs)
    assert wide.shapedirs.shape == (6890, 3, 10)
    np.testing.assert_array_equal(wide.v_template, smpl_data.v_template)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_would_run_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps({"v_template": _Evil(marker)}, protocol=2))
    with pytest.raises(BackendError) as info:
        load_smpl(path)
    assert info.value.code == Code.DATA_INVALID and "system" in info.value.message
    assert not marker.exists()


def test_missing_wrong_and_garbage_files_are_coded_errors(tmp_path):
    with pytest.raises(BackendError) as info:
        load_smpl(tmp_path / "SMPL_NEUTRAL.pkl")
    assert info.value.code == Code.DATA_MISSING and "smplify" in info.value.hint.lower()

    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"this is not a pickle at all")
    with pytest.raises(BackendError) as info:
        load_smpl(garbage)
    assert info.value.code == Code.DATA_INVALID and "garbage.pkl" in info.value.message

    smplh_like = tmp_path / "smplh.pkl"
    fake = {"v_template": np.zeros((6890, 3)), "shapedirs": np.zeros((6890, 3, 10)),
            "posedirs": np.zeros((6890, 3, 459)), "J_regressor": np.zeros((52, 6890)),
            "weights": np.zeros((6890, 52)), "f": np.zeros((13776, 3), np.uint32),
            "kintree_table": np.zeros((2, 52), np.int64)}
    smplh_like.write_bytes(pickle.dumps(fake, protocol=2))
    with pytest.raises(BackendError) as info:
        load_smpl(smplh_like)
    assert info.value.code == Code.DATA_INVALID and "posedirs" in info.value.message
