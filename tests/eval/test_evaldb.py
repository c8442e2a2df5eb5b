"""The safe database reader against files written by real joblib, plain pickles and hostile input."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from backend.errors import BackendError, Code
from backend.evaldb import read_db, split_sequences, validate_db
from tests.eval.joblib_fixture import fixture_dict

DATA = Path(__file__).parent / "data"
JOBLIB_FILES = sorted(DATA.glob("joblib*.pt"))


def assert_same(loaded: dict, expected: dict) -> None:
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert loaded[key].shape == value.shape, key
        assert loaded[key].dtype.kind == value.dtype.kind, key
        assert np.array_equal(loaded[key], value), key


def test_fixtures_cover_the_joblib_variants():
    names = {p.name for p in JOBLIB_FILES}
    # joblib 1.4.2: aligned arrays, protocols 4 and 2, four compressors; joblib 0.14.1: no alignment.
    assert {"joblib142_p4.pt", "joblib142_p2.pt", "joblib142_zlib.pt", "joblib142_gzip.pt",
            "joblib142_bz2.pt", "joblib142_xz.pt", "joblib0141_p3.pt", "joblib0141_p4.pt"} <= names


@pytest.mark.parametrize("path", JOBLIB_FILES, ids=lambda p: p.name)
def test_reads_real_joblib_dumps(path):
    assert_same(read_db(path), fixture_dict())


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_reads_plain_pickles_of_the_same_layout(tmp_path, protocol):
    path = tmp_path / "db.pt"
    path.write_bytes(pickle.dumps(fixture_dict(), protocol=protocol))
    assert_same(read_db(path), fixture_dict())


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo owned > /dev/null",))


def test_refuses_code_and_names_the_global(tmp_path):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"features": _Evil()}, protocol=2))
    with pytest.raises(BackendError) as exc:
        read_db(path)
    assert exc.value.code == Code.DB_INVALID
    assert "posix.system" in exc.value.message or "os.system" in exc.value.message
    assert "nothing was executed" in exc.value.message
    assert "3dpw_test_db.pt" in exc.value.hint


def test_refuses_a_disguised_reconstructor(tmp_path):
    """copyreg._reconstructor is allowed only for joblib's wrapper stand-in."""
    path = tmp_path / "evil2.pt"
    path.write_bytes(b"ccopy_reg\n_reconstructor\n(cbuiltins\ndict\ncbuiltins\nobject\nNtR.")
    with pytest.raises(BackendError, match=r"builtins\.dict"):  # not on the allow-list at all
        read_db(path)
    path.write_bytes(b"ccopy_reg\n_reconstructor\n(cnumpy\nndarray\ncbuiltins\nobject\nNtR.")
    with pytest.raises(BackendError, match="refused to reconstruct"):  # allowed class, wrong use
        read_db(path)


def test_truncated_joblib_file_is_a_clear_error(tmp_path):
    data = (DATA / "joblib142_p4.pt").read_bytes()
    path = tmp_path / "3dpw_test_db.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackendError) as exc:
        read_db(path)
    assert exc.value.code == Code.DB_INVALID
    assert "3dpw_test_db.pt" in exc.value.message


@pytest.mark.parametrize(("content", "words"), [
    (b"PK\x03\x04rest", "zip archive"),
    (b"\x89HDF\r\n\x1a\n", "HDF5"),
    (b"not a pickle at all", "not a readable"),
])
def test_foreign_files_are_named(tmp_path, content, words):
    path = tmp_path / "db.pt"
    path.write_bytes(content)
    with pytest.raises(BackendError, match=words) as exc:
        read_db(path)
    assert exc.value.code == Code.DB_INVALID


def test_top_level_must_be_a_dict_of_arrays(tmp_path):
    path = tmp_path / "db.pt"
    path.write_bytes(pickle.dumps([np.zeros(3)]))
    with pytest.raises(BackendError, match="not a dict"):
        read_db(path)
    path.write_bytes(pickle.dumps({"features": {"nested": 1}}))
    with pytest.raises(BackendError, match="'features' is a dict"):
        read_db(path)


def test_missing_file_is_input_not_found(tmp_path):
    with pytest.raises(BackendError) as exc:
        read_db(tmp_path / "nope_db.pt")
    assert exc.value.code == Code.INPUT_NOT_FOUND


# -- layout and sequences --------------------------------------------------------------------------
def small_db(n: int = 6) -> dict[str, np.ndarray]:
    return {
        "vid_name": np.array(["b_1", "b_1", "a_0", "a_0", "a_0", "b_1"][:n]),
        "features": np.ones((n, 2048), np.float32),
        "joints3D": np.zeros((n, 14, 3)),
        "pose": np.zeros((n, 72)),
        "shape": np.zeros((n, 10)),
        "valid": np.array([1, 1, 1, 0, 1, 1][:n]),
    }


def test_split_sequences_sorted_names_row_order_and_valid_filter():
    seqs = split_sequences(small_db())
    assert [s.name for s in seqs] == ["a_0", "b_1"]
    assert seqs[0].rows.tolist() == [2, 4]  # row 3 has valid == 0
    assert seqs[0].num_rows == 3
    assert seqs[1].rows.tolist() == [0, 1, 5]  # all rows with that name, in row order


def test_validate_names_missing_keys_and_bad_shapes():
    db = small_db()
    assert validate_db(Path("3dpw_test_db.pt"), db, "3dpw") == 6
    del db["pose"]
    with pytest.raises(BackendError, match=r"no key.*pose") as exc:
        validate_db(Path("3dpw_test_db.pt"), db, "3dpw")
    assert exc.value.code == Code.DB_INVALID
    assert validate_db(Path("h36m_test_db.pt"), db, "h36m") == 6  # h36m needs no SMPL parameters
    db = small_db()
    db["features"] = np.ones((6, 1024), np.float32)
    with pytest.raises(BackendError, match=r"'features' has shape \(6, 1024\)"):
        validate_db(Path("x.pt"), db, "3dpw")
    db = small_db()
    db["joints3D"] = np.zeros((6, 17, 3))
    with pytest.raises(BackendError, match="joints3D"):
        validate_db(Path("x.pt"), db, "h36m")
    db = small_db()
    db["features"][0, 0] = np.nan
    with pytest.raises(BackendError, match="NaN"):
        validate_db(Path("x.pt"), db, "3dpw")


@pytest.mark.parametrize(("protocol", "reference"), [(4, "joblib142_p4.pt"), (2, "joblib142_p2.pt")])
def test_the_tests_joblib_writer_is_byte_identical_to_real_joblib(protocol, reference):
    """The end-to-end tests build their databases with tests/eval/joblib_writer.py: prove its format."""
    from tests.eval import joblib_writer

    assert joblib_writer.dumps(fixture_dict(), protocol) == (DATA / reference).read_bytes()
