"""The README's main job, `bash scripts/mocap.sh VIDEO OUT_DIR`, with this interpreter
(TCMR_PYTHON skips the .venv setup) on the synthetic model data and a synthetic clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _mocap(video: Path, out: Path, data_dir: Path, *extra: str, timeout: int = 400):
    env = {**os.environ, "TCMR_PYTHON": sys.executable, "TCMR_DATA_DIR": str(data_dir)}
    return subprocess.run(["bash", str(REPO / "scripts" / "mocap.sh"), str(video), str(out), *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_without_model_data_it_stops_at_once_with_the_check_report(clip, tmp_path):
    empty = tmp_path / "no model data"
    empty.mkdir()
    proc = _mocap(clip, tmp_path / "out", empty, timeout=120)
    assert proc.returncode == 2
    text = proc.stdout + proc.stderr
    assert "SMPL_NEUTRAL.pkl" in text and "tcmr_demo_model.pth.tar" in text  # check's report
    assert "nothing was processed" in text
    assert not (tmp_path / "out").exists()


def test_video_to_result_blend_and_fbx(clip, tmp_path, model_data_dir):
    out = tmp_path / "out dir"
    proc = _mocap(clip, out, model_data_dir, "--device", "cpu", "--bbox", "50,10,60,105")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (out / "result" / "result.json").is_file()
    assert list((out / "result").glob("track_*.npz"))
    blend, fbx = out / "mocap.blend", out / "mocap.fbx"
    assert fbx.is_file() and fbx.read_bytes()[:18] == b"Kaydara FBX Binary"
    assert b"pelvis" in fbx.read_bytes()
    probe = ("import bpy, json, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]); "
             "arm = [o for o in bpy.data.objects if o.type == 'ARMATURE']; "
             "print(json.dumps({'armatures': len(arm), 'animated': sum(o.animation_data is not None "
             "and o.animation_data.action is not None for o in arm), "
             "'cameras': sum(o.type == 'CAMERA' for o in bpy.data.objects)}))")
    opened = subprocess.run([sys.executable, "-c", probe, str(blend)], capture_output=True, text=True,
                            timeout=120)
    assert opened.returncode == 0, opened.stderr[-2000:]
    info = json.loads(opened.stdout.strip().splitlines()[-1])
    assert info["armatures"] == 1 and info["animated"] == 1 and info["cameras"] >= 1


def test_a_failed_run_keeps_the_earlier_result(clip, tmp_path, model_data_dir):
    """mocap.sh no longer deletes OUT/result first: a run that fails leaves the earlier one as it was."""
    result = tmp_path / "out" / "result"
    result.mkdir(parents=True)
    (result / "result.json").write_text('{"tracks": [{"id": 1, "file": "track_1.npz"}]}')
    (result / "track_1.npz").write_bytes(b"earlier track")
    before = {p.name: p.read_bytes() for p in result.iterdir()}
    proc = _mocap(clip, tmp_path / "out", model_data_dir, "--device", "cpu", "--bbox", "nan,10,60,105",
                  timeout=300)
    assert proc.returncode != 0 and "BAD_ARGUMENT" in proc.stdout + proc.stderr
    assert {p.name: p.read_bytes() for p in result.iterdir()} == before
