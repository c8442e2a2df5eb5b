"""One suite of crafted hostile pickles against every reader of pickled files: the backend's SMPL
reader, the evaluation-database reader and the add-on's SMPL reader. All three go through
backend/safe_pickle.py; each must end in its own coded error, run nothing and allocate nothing big."""

from __future__ import annotations

import pytest

from addon.core.smpl_model import SmplModelError, load_smpl_model
from backend.errors import BackendError, Code
from backend.evaldb import read_db
from backend.smpl_file import load_smpl
from tests.hostile_files import crafted_pickles


def _backend_smpl(path):
    with pytest.raises(BackendError) as info:
        load_smpl(path)
    assert info.value.code == Code.DATA_INVALID and "SMPL_NEUTRAL.pkl" in info.value.hint
    return info.value.message


def _evaldb(path):
    with pytest.raises(BackendError) as info:
        read_db(path)
    assert info.value.code == Code.DB_INVALID and "3dpw_test_db.pt" in info.value.hint
    return info.value.message


def _addon_smpl(path):
    with pytest.raises(SmplModelError) as info:
        load_smpl_model(path)
    assert "SMPL_NEUTRAL.pkl" in info.value.hint
    return info.value.message


READERS = {"backend_smpl": _backend_smpl, "evaldb": _evaldb, "addon_smpl": _addon_smpl}
NAMES = sorted(crafted_pickles("x"))


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("name", NAMES)
def test_every_reader_refuses_every_crafted_pickle(tmp_path, reader, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "crafted.pkl"
    path.write_bytes(crafted_pickles(marker)[name])
    message = READERS[reader](path)
    assert "crafted.pkl" in message
    assert not marker.exists()


@pytest.mark.parametrize("reader", sorted(READERS))
def test_the_refusal_names_what_was_refused(tmp_path, reader):
    cases = {"runs_os_system": "system", "eval_global": "builtins.eval", "billion_laughs": "billion laughs",
             "self_referencing_chumpy": "contains itself", "binbytes8_1TB": "bytes of data",
             "array_claims_8TB": "larger than", "nested_20000_deep": "deeper than"}
    crafted = crafted_pickles(tmp_path / "m")
    for name, words in cases.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(crafted[name])
        assert words in READERS[reader](path), name


def test_sparse_bombs_are_layout_errors_before_allocating(tmp_path):
    crafted = crafted_pickles(tmp_path / "m")
    for name in ("sparse_indptr_1e12", "sparse_shape_1e12"):
        path = tmp_path / "SMPL_NEUTRAL.pkl"
        path.write_bytes(crafted[name])
        for reader in (_backend_smpl, _addon_smpl):
            assert "J_regressor" in reader(path) and "sparse" in reader(path)


def test_the_shared_module_imports_only_the_standard_library_and_numpy():
    import ast
    import sys
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "backend" / "safe_pickle.py"
    roots = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0] if node.level == 0 else "<relative>")
    assert roots - set(sys.stdlib_module_names) == {"numpy"}


def test_the_built_addon_loads_the_bundled_copy(tmp_path):
    """In the extension layout (build.py's stage), core/smpl_model.py finds <ext>/backend/safe_pickle.py."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo))
    try:
        import build
    finally:
        sys.path.remove(str(repo))
    ext = build.stage(tmp_path / "ext")
    probe = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('m', sys.argv[1]); "
             "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
             "print(m._safe_pickle().__file__)")
    proc = subprocess.run([sys.executable, "-c", probe, str(ext / "core" / "smpl_model.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == ext / "backend" / "safe_pickle.py"
