"""Batch input expansion and content hashes (no models)."""

from __future__ import annotations

import pytest

from backend.batch.inputs import content_hash, expand
from backend.errors import BackendError, Code
from tests.pipeline.clips import write_images, write_mp4


def test_folder_list_file_and_unique_names(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_mp4(a / "clip.mp4", 2)
    write_mp4(b / "clip.mp4", 2)
    write_images(a / "frames", 2)
    listing = tmp_path / "list.txt"
    listing.write_text("# two clips with one name\nb/clip.mp4\n\n" + str(a / "clip.mp4") + "\n")
    items = expand([str(a), str(listing)])  # a/clip.mp4 again in the list: counted once
    assert [(i.name, i.kind) for i in items] == [("clip", "video"), ("frames", "images"), ("clip-2", "video")]
    assert items[2].path == str((b / "clip.mp4").resolve())


def test_missing_input_is_coded(tmp_path):
    with pytest.raises(BackendError) as info:
        expand([str(tmp_path / "nope.mp4")])
    assert info.value.code == Code.INPUT_NOT_FOUND and info.value.hint


def test_content_hash_follows_bytes(tmp_path):
    write_images(tmp_path / "f", 2)
    (item,) = expand([str(tmp_path / "f")])
    before = content_hash(item)
    assert content_hash(item) == before
    (tmp_path / "f" / "frame_0001.png").write_bytes(b"changed")
    assert content_hash(item) != before
