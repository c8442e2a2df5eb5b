"""The H36M source preset: a lifted clip (tcmr.import_lifted) baked onto a Mixamo rig keeps the
lifted joints' limb directions. The truth is the synthetic joints written into the file."""

from __future__ import annotations

import math

import numpy as np
import pytest

from . import lifted_source, rigs

MAX_DEGREES = 2.0
FRAMES = 12


# the lifted limb segments: (joint, joint) and the body parts they are on the target
LIMBS = (("shoulder", "elbow", "upper_arm", "forearm"), ("elbow", "wrist", "forearm", "hand"),
         ("hip", "knee", "thigh", "shin"), ("knee", "foot", "shin", "foot"))


def _segments(spine: tuple, bone) -> list:
    """(lifted joint, lifted joint, target bone, target bone) whose directions must match.
    spine: the target's (hips, lower spine, chest) bones; bone(side, part) names a limb bone."""
    out = [("hip", "spine", spine[0], spine[1]), ("spine", "thorax", spine[1], spine[2])]
    for side in ("left", "right"):
        out += [(f"{side}_{a}", f"{side}_{b}", bone(side, pa), bone(side, pb)) for a, b, pa, pb in LIMBS]
    return out


_MIXAMO_PART = {"upper_arm": "Arm", "forearm": "ForeArm", "hand": "Hand", "thigh": "UpLeg", "shin": "Leg",
                "foot": "Foot"}


def _mixamo():
    names = rigs.prefixed(rigs.MIXAMO_NAMES, "mixamorig:")
    # an A-pose rig (arms 40 degrees down), 1.1x the body, with random bone rolls
    target = rigs.build_rig("Mixamo", names, rigs.rig_joints(2.2, arm_drop_deg=40.0), scale=0.5,
                            location=(2.0, 0.0, 0.0))
    # Spine1 is not driven (H36M has one joint between hips and chest): it follows Spine rigidly
    segments = _segments(("mixamorig:Hips", "mixamorig:Spine", "mixamorig:Spine2"),
                         lambda side, part: f"mixamorig:{side.capitalize()}{_MIXAMO_PART[part]}")
    return target, "MIXAMO", segments, "mixamorig:Hips", "mixamorig:LeftShoulder"


def _rigify():
    target = rigs.build_rig("rig", rigs.RIGIFY_FK_NAMES, rigs.rig_joints(1.05, arm_drop_deg=30.0), seed=7)
    segments = _segments(("torso", "spine_fk.001", "spine_fk.003"),
                         lambda side, part: f"{part}_fk.{side[0].upper()}")
    return target, "AUTO", segments, "torso", "shoulder.L"


INDEX = {n: i for i, n in enumerate(lifted_source.NAMES)}


def _angle(a, b):
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _head(obj, bone):
    return np.array(obj.matrix_world @ obj.pose.bones[bone].head)


@pytest.mark.bpy
@pytest.mark.parametrize("make_target", [_mixamo, _rigify], ids=["mixamo", "rigify_fk"])
def test_lifted_h36m_motion_bakes_onto_a_rig_with_the_limb_directions(bpy_module, tmp_path, make_target):
    bpy = bpy_module
    from addon.anim_shim import action_fcurves

    truth = lifted_source.write_lifted(tmp_path / "walk.npz", lifted_source.h36m_motion(FRAMES))
    assert bpy.ops.tcmr.import_lifted(filepath=str(tmp_path / "walk.npz")) == {"FINISHED"}
    source = bpy.data.objects["walk H36M"]
    assert source["tcmr_skeleton"] == "H36M"
    assert all(b.parent is not None for b in source.data.bones if b.name != "hip")  # a real hierarchy
    target, preset, segments, hips_bone, collar = make_target()

    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset=preset)

    assert result == {"FINISHED"}
    assert not any(o.name.startswith("TCMR_bake") for o in bpy.data.objects)
    baked = {fc.data_path for fc in action_fcurves(target)}
    assert f'pose.bones["{collar}"].rotation_quaternion' not in baked  # H36M has no collar
    assert f'pose.bones["{segments[2][2]}"].rotation_quaternion' in baked
    worst, hips = 0.0, []
    for frame in range(1, FRAMES + 1):
        bpy.context.scene.frame_set(frame)
        joints = truth[frame - 1]
        # the lifted armature still carries the joints exactly
        heads = np.array([_head(source, n) for n in lifted_source.NAMES])
        assert np.abs(heads - joints).max() < 1e-4
        for a, b, ta, tb in segments:
            d_src = joints[INDEX[b]] - joints[INDEX[a]]
            d_tgt = _head(target, tb) - _head(target, ta)
            worst = max(worst, _angle(d_src, d_tgt))
        hips.append(_head(target, hips_bone))
    assert worst < MAX_DEGREES, worst
    # the hips travel along the lifted pelvis path, scaled by one positive factor
    src = truth[:, 0] - truth[0, 0]
    tgt = np.array(hips) - hips[0]
    factor = float(np.sum(src * tgt) / np.sum(src * src))
    assert factor > 0.5 and np.abs(tgt - factor * src).max() < 1e-3
