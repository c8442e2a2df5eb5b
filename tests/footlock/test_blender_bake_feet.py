"""tcmr.bake_to_rig keeps planted feet planted on a Mixamo rig whose legs are 20 % longer
than the source's (bpy). The source is the whole chain: synthetic truth -> simulated network
output -> apply_foot_lock -> a character with contact curves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from addon.core.result_io import Track
from backend import smpl_np
from backend.footlock import body
from backend.footlock.lock import apply_foot_lock
from tests.footlock import truth
from tests.retarget import rigs

# world (Z up) -> the camera convention the importer reads (Blender = (x, z, -y) of it), so the
# character stands on Blender's floor exactly as in the world
WORLD_TO_IMPORT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
FRAMES = 64
FEET = (("LeftFoot", 0), ("RightFoot", 1), ("LeftToeBase", 2), ("RightToeBase", 3))


@dataclass(frozen=True)
class TrackWithContact(Track):
    contact: np.ndarray | None = None


def _long_legs(factor=1.2) -> np.ndarray:
    joints = rigs.rig_joints(1.0)
    for hip, chain in ((1, (4, 7, 10)), (2, (5, 8, 11))):
        joints[list(chain)] = joints[hip] + factor * (joints[list(chain)] - joints[hip])
    joints[:, 2] -= joints[:, 2].min()
    return joints


@pytest.fixture(scope="module")
def locked_walk(smpl_data):
    scene = truth.make_scene(smpl_data, seed=0, frames=FRAMES)
    person = scene.people[0]
    new, contact, report = apply_foot_lock(person.world_input, scene.camera_to_world, smpl_data, truth.FPS)
    assert report["locked"]
    j0 = body.body_model(smpl_data, new["betas"]).rest_joints[0]
    go, tr = smpl_np.rigid_to_world(new["world_global_orient"], new["world_transl"], j0, WORLD_TO_IMPORT,
                                    np.zeros(3))
    return TrackWithContact(id=1, frame_index=np.arange(FRAMES), global_orient=go,
                            body_pose=new["world_body_pose"], betas=new["betas"], transl=tr, joints_rest=None,
                            contact=contact)


def _sliding_mm(bpy, target, contact, prefix="mixamorig:"):
    """Mean world displacement (mm/frame) of the target's foot bones over planted frames."""
    heads = np.zeros((FRAMES, 4, 3))
    for f in range(FRAMES):
        bpy.context.scene.frame_set(f + 1)
        for bone, k in FEET:
            heads[f, k] = np.array(target.matrix_world @ target.pose.bones[prefix + bone].head)
    both = (contact[1:] > 0.5) & (contact[:-1] > 0.5)
    return float(np.linalg.norm(heads[1:] - heads[:-1], axis=-1)[both].mean() * 1000.0)


def _bake(bpy, model_data_dir, track, keep, keying="ALL"):
    from addon.character import CharacterOptions, build_character
    from addon.core.smpl_model import load_smpl_model

    bpy.ops.wm.read_factory_settings(use_empty=True)
    model = load_smpl_model(model_data_dir / "SMPL_NEUTRAL.pkl")
    scene = bpy.context.scene
    source = build_character(bpy.context, model, track, scene.collection, "walker",
                             CharacterOptions(pose_correctives=False))
    target = rigs.build_rig("Mixamo", rigs.prefixed(rigs.MIXAMO_NAMES, "mixamorig:"), _long_legs())
    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="MIXAMO",
                                      keep_feet_planted=keep, keying=keying)
    assert result == {"FINISHED"}
    return source, target


def test_bake_keeps_planted_feet_on_a_rig_with_longer_legs(bpy_module, model_data_dir, locked_walk):
    bpy = bpy_module
    source, target = _bake(bpy, model_data_dir, locked_walk, keep=True)
    assert "contact_left_ankle" in source
    on = _sliding_mm(bpy, target, locked_walk.contact)
    _source, plain = _bake(bpy, model_data_dir, locked_walk, keep=False)
    off = _sliding_mm(bpy, plain, locked_walk.contact)
    print(f"target foot sliding: {off:.2f} mm/frame without the foot pass, {on:.2f} with it")
    assert on < 6.0
    assert on < off
    _source, simplified = _bake(bpy, model_data_dir, locked_walk, keep=True, keying="SIMPLIFY")
    assert _sliding_mm(bpy, simplified, locked_walk.contact) < 6.0  # the legs are re-keyed per frame
