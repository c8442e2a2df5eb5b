"""The H36M source preset: a lifted clip (tcmr.import_lifted) baked onto a Mixamo rig keeps the
lifted joints' limb directions. The truth is the synthetic joints written into the file."""

from __future__ import annotations

import math

import numpy as np
import pytest

from . import lifted_source, rigs

MAX_DEGREES = 2.0
FRAMES = 12

# (lifted joint, lifted joint, Mixamo bone, Mixamo bone): the segments whose directions must match
SEGMENTS = [
    ("hip", "spine", "Hips", "Spine"),
    ("spine", "thorax", "Spine", "Spine2"),  # Spine1 is not driven: it follows Spine rigidly
    *[(f"{s}_{a}", f"{s}_{b}", f"{S}{ta}", f"{S}{tb}")
      for s, S in (("left", "Left"), ("right", "Right"))
      for a, b, ta, tb in (("shoulder", "elbow", "Arm", "ForeArm"), ("elbow", "wrist", "ForeArm", "Hand"),
                           ("hip", "knee", "UpLeg", "Leg"), ("knee", "foot", "Leg", "Foot"))],
]
INDEX = {n: i for i, n in enumerate(lifted_source.NAMES)}


def _angle(a, b):
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _head(obj, bone):
    return np.array(obj.matrix_world @ obj.pose.bones[bone].head)


@pytest.mark.bpy
def test_lifted_h36m_motion_bakes_onto_a_mixamo_rig_with_the_limb_directions(bpy_module, tmp_path):
    bpy = bpy_module
    from addon.anim_shim import action_fcurves

    truth = lifted_source.write_lifted(tmp_path / "walk.npz", lifted_source.h36m_motion(FRAMES))
    assert bpy.ops.tcmr.import_lifted(filepath=str(tmp_path / "walk.npz")) == {"FINISHED"}
    source = bpy.data.objects["walk H36M"]
    assert source["tcmr_skeleton"] == "H36M"
    assert all(b.parent is not None for b in source.data.bones if b.name != "hip")  # a real hierarchy
    names = rigs.prefixed(rigs.MIXAMO_NAMES, "mixamorig:")
    # an A-pose rig (arms 40 degrees down), 1.1x the body, with random bone rolls
    target = rigs.build_rig("Mixamo", names, rigs.rig_joints(2.2, arm_drop_deg=40.0), scale=0.5,
                            location=(2.0, 0.0, 0.0))

    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="MIXAMO")

    assert result == {"FINISHED"}
    assert not any(o.name.startswith("TCMR_bake") for o in bpy.data.objects)
    baked = {fc.data_path for fc in action_fcurves(target)}
    assert 'pose.bones["mixamorig:LeftShoulder"].rotation_quaternion' not in baked  # no H36M collar
    assert 'pose.bones["mixamorig:LeftArm"].rotation_quaternion' in baked
    worst, hips = 0.0, []
    for frame in range(1, FRAMES + 1):
        bpy.context.scene.frame_set(frame)
        joints = truth[frame - 1]
        # the lifted armature still carries the joints exactly
        heads = np.array([_head(source, n) for n in lifted_source.NAMES])
        assert np.abs(heads - joints).max() < 1e-4
        for a, b, ta, tb in SEGMENTS:
            d_src = joints[INDEX[b]] - joints[INDEX[a]]
            d_tgt = _head(target, f"mixamorig:{tb}") - _head(target, f"mixamorig:{ta}")
            worst = max(worst, _angle(d_src, d_tgt))
        hips.append(_head(target, "mixamorig:Hips"))
    assert worst < MAX_DEGREES, worst
    # the hips travel along the lifted pelvis path, scaled by one positive factor
    src = truth[:, 0] - truth[0, 0]
    tgt = np.array(hips) - hips[0]
    factor = float(np.sum(src * tgt) / np.sum(src * src))
    assert factor > 0.5 and np.abs(tgt - factor * src).max() < 1e-3
