"""Install Model Data against hostile or unlucky input: a zip bomb, an oversized file, a full
disk, a destination that is a file. Each ends in one AddonError with a hint, writes nothing
into the destination, and leaves no temporary files (pure, no bpy)."""

from __future__ import annotations

import errno
import zipfile
from pathlib import Path

import pytest

from addon.core import datacheck
from addon.core.errors import AddonError

from .test_core_cache_datacheck import _fake_official

MB = 1 << 20


def _zip_with(path: Path, name: str, size: int, src: Path | None = None) -> Path:
    """A zip with the official files of `src` (if given) plus `name` = `size` zero bytes,
    streamed (deflate: 64 MB of zeros take about 64 KB)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.iterdir()) if src else ():
            if p.name != name:
                zf.write(p, f"base_data/{p.name}")
        with zf.open(f"base_data/{name}", "w", force_zip64=True) as f:
            block = bytes(MB)
            for _ in range(size // MB):
                f.write(block)
    return path


def _only_official(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


@pytest.mark.parametrize("name", ["SMPL_NEUTRAL.pkl", "J_regressor_extra.npy"])
def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path, name, monkeypatch):
    bomb = _zip_with(tmp_path / "base_data.zip", name, 64 * MB, _fake_official(tmp_path / "src"))
    assert bomb.stat().st_size < MB  # unpacks 64 times larger (and a 1 GiB one is refused alike)
    opened = []
    real = datacheck._open_target
    monkeypatch.setattr(datacheck, "_open_target", lambda p: opened.append(p.name) or real(p))
    dest = tmp_path / "dest"
    with pytest.raises(AddonError, match=rf"{name} in the zip claims 64 MB") as err:
        datacheck.install_model_data(bomb, dest)
    assert "official" in err.value.hint
    assert opened == []  # refused from the entry's declared size: not one file was opened
    assert _only_official(dest) == []


def test_an_entry_that_unpacks_past_its_limit_is_cut_off_while_writing(tmp_path, monkeypatch):
    """Whatever a zip declares, no more than the limit is ever written."""
    bomb = _zip_with(tmp_path / "z.zip", "smpl_mean_params.npz", 8 * MB)
    monkeypatch.setattr(datacheck, "_entry_limit", lambda info, name: 2 * MB)  # as if it lied
    written = []
    real = datacheck._open_target

    def counting(path):
        f = real(path)
        write = f.write
        f.write = lambda b: written.append(len(b)) or write(b)
        return f

    monkeypatch.setattr(datacheck, "_open_target", counting)
    dest = tmp_path / "dest"
    with pytest.raises(AddonError, match="unpacks to more than 2 MB"):
        datacheck.install_model_data(bomb, dest)
    assert sum(written) <= 2 * MB
    assert _only_official(dest) == []


def test_an_oversized_file_in_a_folder_is_refused(tmp_path):
    src = _fake_official(tmp_path / "src")
    with open(src / "smpl_mean_params.npz", "r+b") as f:
        f.truncate(datacheck.MAX_BYTES["smpl_mean_params.npz"] + 1)  # sparse: no disk used
    dest = tmp_path / "dest"
    with pytest.raises(AddonError, match=r"smpl_mean_params\.npz is 1 MB, far larger than the official"):
        datacheck.install_model_data(src, dest)
    assert _only_official(dest) == []


def test_a_full_disk_is_an_error_with_a_hint_and_leaves_nothing(tmp_path, monkeypatch):
    src = _fake_official(tmp_path / "src")
    zpath = _zip_with(tmp_path / "base_data.zip", "J_regressor_h36m.npy", 0, src)

    class FullDisk:
        def __init__(self, path):
            self.path = path
            path.write_bytes(b"")

        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(datacheck, "_open_target", FullDisk)
    for source in (src, zpath):
        dest = tmp_path / f"dest-{source.suffix or 'folder'}"
        with pytest.raises(AddonError, match=r"disk .* is full") as err:
            datacheck.install_model_data(source, dest)
        assert "Free some space" in err.value.hint
        assert _only_official(dest) == []  # the staging folder went with the error


def test_a_destination_that_is_a_file_is_an_error_with_a_hint(tmp_path):
    src = _fake_official(tmp_path / "src")
    dest = tmp_path / "base_data"
    dest.write_text("not a folder")
    with pytest.raises(AddonError, match="is a file, not a folder") as err:
        datacheck.install_model_data(src, dest)
    assert "Choose a folder" in err.value.hint
    with pytest.raises(AddonError, match="cannot write into") as err:
        datacheck.install_model_data(src, dest / "inside")
    assert dest.read_text() == "not a folder"


def test_progress_counts_the_bytes_copied(tmp_path):
    src = _fake_official(tmp_path / "src")
    calls = []
    datacheck.install_model_data(src, tmp_path / "dest", lambda done, total: calls.append((done, total)))
    total = sum(p.stat().st_size for p in src.iterdir())
    assert calls and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
