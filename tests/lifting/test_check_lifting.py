"""`check` lists the optional VideoPose3D checkpoint: absent is no failure (the table says where to
get it and where it goes), present is validated by the lifting checkpoint reader."""

from __future__ import annotations

import io
import os
from types import SimpleNamespace

from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.synthetic_lift import LIFT_CHECKPOINT_NAME


def _check(folder):
    from backend.commands import check

    out, err = io.StringIO(), io.StringIO()
    try:
        reporter = Reporter(jsonl=True, out=out, err=err)
        _, fields = check.execute(SimpleNamespace(data_dir=str(folder)), reporter)
        error, files = None, {f["name"]: f for f in fields["files"]}
    except BackendError as exc:
        error, files = exc, {}
    return error, files, err.getvalue()


def _linked(src, dst, *extra):
    dst.mkdir()
    for f in (*src.iterdir(), *extra):
        os.symlink(f, dst / f.name)
    return dst


def test_absent_lifting_checkpoint_is_optional_and_the_table_says_where_to_get_and_put_it(model_data_dir):
    error, files, table = _check(model_data_dir)
    assert error is None
    assert files[LIFT_CHECKPOINT_NAME]["status"] == "optional"
    lines = [ln for ln in table.splitlines() if LIFT_CHECKPOINT_NAME in ln]
    assert any("optional" in ln for ln in lines)
    assert any("get it:" in ln and "dl.fbaipublicfiles.com/video-pose-3d" in ln for ln in lines)
    assert any("put it:" in ln and str(model_data_dir / LIFT_CHECKPOINT_NAME) in ln for ln in lines)


def test_present_lifting_checkpoint_is_validated(model_data_dir, lift_data_dir, tmp_path):
    folder = _linked(model_data_dir, tmp_path / "d", lift_data_dir / LIFT_CHECKPOINT_NAME)
    error, files, _ = _check(folder)
    assert error is None
    assert files[LIFT_CHECKPOINT_NAME]["status"] == "found"


def test_a_wrong_file_under_the_lifting_name_fails_the_check(model_data_dir, tmp_path):
    folder = _linked(model_data_dir, tmp_path / "d")
    os.symlink(model_data_dir / "tcmr_demo_model.pth.tar", folder / LIFT_CHECKPOINT_NAME)
    error, _, table = _check(folder)
    assert error is not None and error.code == Code.DATA_INVALID
    assert LIFT_CHECKPOINT_NAME in error.message and "invalid" in error.message
    assert str(folder / LIFT_CHECKPOINT_NAME) in error.hint
    assert any(LIFT_CHECKPOINT_NAME in ln and "invalid" in ln for ln in table.splitlines())
