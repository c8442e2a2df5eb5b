"""A TCMR and a VIBE result of the same features side by side in Blender (scripts/compare_models.py):
each character follows its own network's SMPL vertices, the second one offset along world X."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tests.model.conftest import make_features

from .conftest import evaluated_vertices
from .result_factory import write_result
from .smpl_reference import blender_to_camera

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 3
SPACING = 1.5


def _script():
    spec = importlib.util.spec_from_file_location("compare_models", ROOT / "scripts" / "compare_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def two_results(vibe_data_dir, tmp_path_factory):
    """The same features through TCMR and through VIBE -> two result folders + the expected verts."""
    import torch

    from backend.models.inference import regress_track
    from backend.models.loading import load_models
    from backend.models.smpl import rest_joints

    features = make_features(FRAMES, seed=12)
    transl = np.array([[0.1, 0.2, 5.0], [0.15, 0.2, 5.1], [0.2, 0.25, 5.2]], np.float32)
    base = tmp_path_factory.mktemp("compare")
    out = {}
    for model in ("tcmr", "vibe"):
        models = load_models(vibe_data_dir, "cpu", backbone=False, model=model)
        reg = regress_track(models, features)
        betas = reg["betas"].astype(np.float64).mean(0)
        with torch.inference_mode():  # the character's body: per-frame pose, the track's one shape
            b = torch.from_numpy(np.tile(betas, (FRAMES, 1)).astype(np.float32))
            verts = models.smpl(torch.from_numpy(reg["rotmat"]), b)[0].numpy().astype(np.float64)
        track = {"frame_index": np.arange(FRAMES), "global_orient": reg["pose"][:, :3],
                 "body_pose": reg["pose"][:, 3:].reshape(-1, 23, 3), "betas_per_frame": reg["betas"],
                 "betas": betas.astype(np.float32), "transl": transl, "cam_weak": reg["pred_cam"],
                 "bbox_xywh": np.tile([0.0, 0.0, 100.0, 100.0], (FRAMES, 1)), "joints3d": reg["joints3d"],
                 "parents": models.smpl_data.parents}
        folder = write_result(base / f"{model}_clip", {1: track}, frame_count=FRAMES,
                              joints_rest=lambda bt, m=models: rest_joints(m.smpl_data, bt))
        out[model] = (folder, verts + transl[:, None].astype(np.float64))
    return out


def test_two_models_side_by_side(bpy_addon, two_results, vibe_data_dir):
    bpy = bpy_addon
    folders = [two_results["tcmr"][0], two_results["vibe"][0]]
    names = _script().import_side_by_side(bpy, folders, str(vibe_data_dir), spacing=SPACING)
    assert [len(n) for n in names] == [1, 1] and names[0] != names[1]
    assert {"TCMR tcmr_clip track 1", "TCMR vibe_clip track 1"} <= {c.name for c in bpy.data.collections}
    bodies = [next(c for c in bpy.data.objects[n[0]].children if c.type == "MESH") for n in names]
    assert tuple(bodies[0].color) != tuple(bodies[1].color)
    got = {}
    for model, body, offset in (("tcmr", bodies[0], 0.0), ("vibe", bodies[1], SPACING)):
        want = two_results[model][1]
        for f in range(FRAMES):
            world = evaluated_vertices(bpy, body, f + 1) - np.array([offset, 0.0, 0.0])  # X = camera x
            cam = blender_to_camera(world)
            assert np.abs(cam - want[f]).max() < 1e-4, (model, f, np.abs(cam - want[f]).max())
            got[model, f] = cam
    # side by side: the VIBE body sits SPACING to the right of where its own result puts it, and the
    # two networks really moved differently
    assert np.abs(got["tcmr", 1] - got["vibe", 1]).max() > 1e-3
