"""A result made by the real backend (`python -m backend regress --verts` on the synthetic model
data): the Blender character matches the backend's own SMPL vertices (smplx LBS in torch)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from .conftest import evaluated_vertices
from .result_factory import write_result
from .smpl_reference import blender_to_camera

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 3


def test_character_matches_backend_vertices(bpy_addon, model_data_dir, smpl_ref, tmp_path):
    from backend.models.smpl import rest_joints

    bpy = bpy_addon
    rng = np.random.default_rng(0)
    features = tmp_path / "features.npy"
    np.save(features, rng.normal(0.0, 1.0, size=(FRAMES, 2048)).astype(np.float32))
    out = tmp_path / "out.npz"
    cmd = [sys.executable, "-m", "backend", "regress", str(features), "--out", str(out), "--verts",
           "--data-dir", str(model_data_dir), "--device", "cpu"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reg = np.load(out)
    pose, betas, verts = reg["pose"], reg["betas"], reg["verts"]  # (F,72), (F,10), (F,V,3)
    # The network regresses one shape per frame and a track has one; so one single-frame track
    # per frame (each with that frame's betas), all in one result directory.
    transl = rng.normal(0.0, 0.3, size=(FRAMES, 3)) + np.array([0.0, 0.0, 5.0])
    tracks = {}
    for f in range(FRAMES):
        tracks[f + 1] = {
            "frame_index": np.array([f]), "global_orient": pose[f:f + 1, :3],
            "body_pose": pose[f:f + 1, 3:].reshape(1, 23, 3), "betas_per_frame": betas[f:f + 1],
            "betas": betas[f], "transl": transl[f:f + 1].astype(np.float32),
            "cam_weak": reg["pred_cam"][f:f + 1], "bbox_xywh": np.array([[0.0, 0.0, 100.0, 200.0]]),
            "joints3d": reg["joints3d"][f:f + 1],
            "parents": smpl_ref.parents,
        }
    folder = write_result(tmp_path / "clip", tracks, frame_count=FRAMES,
                          joints_rest=lambda b: rest_joints(smpl_ref, b))
    assert bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(model_data_dir)) == {"FINISHED"}
    for f in range(FRAMES):
        body = bpy.data.objects[f"TCMR track {f + 1} body"]
        got = blender_to_camera(evaluated_vertices(bpy, body, f + 1))
        want = verts[f].astype(np.float64) + transl[f].astype(np.float32)
        assert np.abs(got - want).max() < 1e-4, f"frame {f}: {np.abs(got - want).max():.2e} m"
