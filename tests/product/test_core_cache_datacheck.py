"""Result cache keys and index, model data checklist and install: pure, no bpy."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from addon.core import datacheck
from addon.core.cache import ResultCache, cache_key, file_hash, input_hash, model_fingerprint
from addon.core.datacheck import FOUND, INVALID, MISSING, check_folder, install_model_data
from addon.core.errors import AddonError


def test_cache_key_depends_on_content_settings_and_models(tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "copy of a.mp4"
    a.write_bytes(b"video bytes" * 1000)
    b.write_bytes(a.read_bytes())
    assert file_hash(a) == file_hash(b)  # content, not path
    settings = {"start": None, "end": None, "people": "all", "smoothing": "light"}
    base = cache_key(file_hash(a), settings, "m1")
    assert cache_key(file_hash(b), dict(settings), "m1") == base
    assert cache_key(file_hash(a), {**settings, "smoothing": "none"}, "m1") != base
    assert cache_key(file_hash(a), {**settings, "end": 40}, "m1") != base
    assert cache_key(file_hash(a), settings, "m2") != base
    b.write_bytes(b"video bytes" * 999 + b"VIDEO BYTES")
    assert cache_key(file_hash(b), settings, "m1") != base


def test_model_fingerprint_changes_when_a_model_file_changes(tmp_path):
    fp0 = model_fingerprint(tmp_path)
    (tmp_path / "tcmr_demo_model.pth.tar").write_bytes(b"x")
    fp1 = model_fingerprint(tmp_path)
    (tmp_path / "tcmr_demo_model.pth.tar").write_bytes(b"xy")
    assert len({fp0, fp1, model_fingerprint(tmp_path)}) == 3


def test_image_folder_hash_follows_names_and_bytes(tmp_path):
    (tmp_path / "0001.png").write_bytes(b"1")
    (tmp_path / "0002.png").write_bytes(b"2")
    (tmp_path / "notes.txt").write_bytes(b"ignored")
    h = input_hash(tmp_path)
    (tmp_path / "notes.txt").write_bytes(b"changed")
    assert input_hash(tmp_path) == h
    (tmp_path / "0002.png").write_bytes(b"3")
    assert input_hash(tmp_path) != h


def test_cache_index_only_lists_finished_results_newest_first(tmp_path):
    cache = ResultCache(tmp_path / "cache", max_entries=2)
    r1, r2, r3 = (cache.folder_for(k) for k in ("k1" * 8, "k2" * 8, "k3" * 8))
    for r in (r1, r2, r3):
        r.mkdir(parents=True)
    with pytest.raises(FileNotFoundError):
        cache.add("k1" * 8, r1, "v.mp4", {})  # no result.json yet: a cancelled run is never cached
    for r in (r1, r2, r3):
        (r / "result.json").write_text("{}")
    cache.add("k1" * 8, r1, "/v/one.mp4", {"a": 1}, now=1.0)
    cache.add("k2" * 8, r2, "/v/two.mp4", {"a": 2}, now=2.0)
    assert [e.key for e in cache.entries()] == ["k2" * 8, "k1" * 8]
    assert cache.lookup("k1" * 8).settings == {"a": 1}
    cache.add("k3" * 8, r3, "/v/three.mp4", {}, now=3.0)  # max 2 entries: the oldest drops out
    assert cache.lookup("k1" * 8) is None
    (r2 / "result.json").unlink()  # deleted by the user: no longer a hit
    assert [e.key for e in cache.entries()] == ["k3" * 8]
    assert "three.mp4" in cache.entries()[0].label
    (cache.index_path).write_text("not json")
    assert cache.entries() == []


def test_file_table_matches_the_backend():
    from backend.datafiles import ALL_FILES

    assert tuple(f.name for f in ALL_FILES) == datacheck.NAMES


def _fake_official(folder: Path) -> Path:
    """Small files with the official names and basic formats (headers, shapes, keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    import pickle

    (folder / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps(
        {k: 0 for k in ("v_template", "weights", "shapedirs", "posedirs", "J_regressor", "f")}, protocol=2))
    np.save(folder / "J_regressor_extra.npy", np.zeros((9, 6890), np.float32))
    np.save(folder / "J_regressor_h36m.npy", np.zeros((17, 6890), np.float32))
    np.savez(folder / "smpl_mean_params.npz", pose=np.zeros(144), shape=np.zeros(10), cam=np.zeros(3))
    with zipfile.ZipFile(folder / "spin_model_checkpoint.pth.tar", "w") as zf:
        zf.writestr("archive/data.pkl", b"x")
    (folder / "tcmr_demo_model.pth.tar").write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.")
    return folder


def test_checklist_names_found_missing_and_invalid(tmp_path):
    folder = _fake_official(tmp_path / "d")
    assert all(s.state == FOUND for s in check_folder(folder))
    assert datacheck.ready_for_run(check_folder(folder))
    (folder / "tcmr_demo_model.pth.tar").unlink()
    np.save(folder / "J_regressor_extra.npy", np.zeros((9, 100)))
    (folder / "SMPL_NEUTRAL.pkl").write_bytes(b"<html>login required</html>")
    states = {s.name: s for s in check_folder(folder)}
    assert states["tcmr_demo_model.pth.tar"].state == MISSING
    assert "TCMR" in states["tcmr_demo_model.pth.tar"].source
    assert states["J_regressor_extra.npy"].state == INVALID
    assert "shape" in states["J_regressor_extra.npy"].detail
    assert states["SMPL_NEUTRAL.pkl"].state == INVALID and "pickle" in states["SMPL_NEUTRAL.pkl"].detail
    assert "smplify" in states["SMPL_NEUTRAL.pkl"].source
    assert states["smpl_mean_params.npz"].state == FOUND
    assert not datacheck.ready_for_run(list(states.values()))


def test_checklist_accepts_the_synthetic_fixture(model_data_dir):
    assert all(s.state == FOUND for s in check_folder(model_data_dir)), check_folder(model_data_dir)
    assert datacheck.is_synthetic(model_data_dir)


def test_install_from_official_zip_layout(tmp_path):
    src = _fake_official(tmp_path / "src")
    zpath = tmp_path / "base_data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in src.iterdir():
            zf.write(p, f"data/base_data/{p.name}")
        zf.writestr("data/base_data/../../evil.txt", "x")  # never extracted: not a known name
    dest = tmp_path / "dest"
    (dest).mkdir()
    (dest / datacheck.SYNTHETIC_MARKER).write_text("old synthetic")
    assert install_model_data(zpath, dest) == sorted(datacheck.NAMES)
    assert all(s.state == FOUND for s in check_folder(dest))
    assert not (dest / datacheck.SYNTHETIC_MARKER).exists()
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in dest.iterdir()) == sorted(datacheck.NAMES)  # no temp leftovers


def test_install_from_folder_is_all_or_nothing(tmp_path):
    src = _fake_official(tmp_path / "TCMR" / "data" / "base_data")
    (src / "smpl_mean_params.npz").write_bytes(b"PK\x03\x04broken")
    dest = tmp_path / "dest"
    with pytest.raises(AddonError) as err:
        install_model_data(tmp_path / "TCMR", dest)
    assert "smpl_mean_params.npz" in str(err.value)
    assert list(dest.iterdir()) == []
    with pytest.raises(AddonError, match="no model data files"):
        install_model_data(tmp_path / "dest", tmp_path / "dest2")
    with pytest.raises(AddonError, match="not a readable zip"):
        bad = tmp_path / "bad.zip"
        bad.write_bytes(b"nope")
        install_model_data(bad, dest)


def test_partial_install_keeps_other_files(tmp_path):
    src = _fake_official(tmp_path / "src")
    for name in ("SMPL_NEUTRAL.pkl", "J_regressor_h36m.npy"):
        (src / name).unlink()
    dest = _fake_official(tmp_path / "dest")
    before = (dest / "SMPL_NEUTRAL.pkl").read_bytes()
    assert "SMPL_NEUTRAL.pkl" not in install_model_data(src, dest)
    assert (dest / "SMPL_NEUTRAL.pkl").read_bytes() == before
    assert json.dumps(install_model_data(src, dest))  # idempotent
