"""bpy tests of tcmr.bake_to_rig: world-space limb directions, root path, clean-up, errors.

Every check runs after the operator returned, i.e. with its constraints and helpers gone:
the target is evaluated from the baked action alone.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from addon.core.bone_maps import SEGMENT_CHILD

from . import rigs

SAMPLE_FRAMES = (1, 3, 6, 8, 12)
MAX_DEGREES = 2.0


def _world_head(obj, bone):
    return np.array(obj.matrix_world @ obj.pose.bones[bone].head)


def _angle(a, b):
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _segments(mapping):
    """(joint, next mapped joint down the limb) for every mapped segment."""
    out = []
    for joint in mapping:
        child = SEGMENT_CHILD.get(joint)
        while child is not None and child not in mapping:
            child = SEGMENT_CHILD.get(child)
        if child is not None:
            out.append((joint, child))
    return out


def worst_direction_error(bpy, source, target, mapping, frames=SAMPLE_FRAMES):
    """Largest angle (degrees) between a target segment and the source segment it maps."""
    worst = 0.0
    segments = _segments(mapping)
    assert len(segments) >= 16
    for frame in frames:
        bpy.context.scene.frame_set(frame)
        for joint, child in segments:
            d_src = _world_head(source, child) - _world_head(source, joint)
            d_tgt = _world_head(target, mapping[child]) - _world_head(target, mapping[joint])
            worst = max(worst, _angle(d_src, d_tgt))
    return worst


def root_positions(bpy, obj, bone, frames):
    out = []
    for frame in frames:
        bpy.context.scene.frame_set(frame)
        out.append(_world_head(obj, bone))
    return np.array(out)


def source_snapshot(bpy, source):
    """Everything about the source that the bake must not change."""
    from addon.anim_shim import action_fcurves

    curves = {}
    for fc in action_fcurves(source):
        co = np.zeros(2 * len(fc.keyframe_points))
        fc.keyframe_points.foreach_get("co", co)
        curves[(fc.data_path, fc.array_index)] = co
    return {
        "action": source.animation_data.action.name,
        "slot": source.animation_data.action_slot.identifier,
        "curves": curves,
        "rest": {b.name: (tuple(b.head_local), tuple(b.tail_local), b.parent.name if b.parent else None)
                 for b in source.data.bones},
        "basis": {pb.name: np.array(pb.matrix_basis) for pb in source.pose.bones},
        "constraints": sum(len(pb.constraints) for pb in source.pose.bones),
        "world": np.array(source.matrix_world),
    }


def assert_same_snapshot(a, b):
    assert a["action"] == b["action"] and a["slot"] == b["slot"]
    assert a["curves"].keys() == b["curves"].keys()
    for key in a["curves"]:
        assert np.array_equal(a["curves"][key], b["curves"][key]), key
    assert a["rest"] == b["rest"]
    for name in a["basis"]:
        assert np.allclose(a["basis"][name], b["basis"][name], atol=1e-6), name
    assert a["constraints"] == b["constraints"]
    assert np.allclose(a["world"], b["world"])


def assert_clean(bpy, target, user_constraints=0):
    assert sum(len(pb.constraints) for pb in target.pose.bones) == user_constraints
    assert not any(o.name.startswith(("TCMR_helper", "TCMR_bake")) for o in bpy.data.objects)
    assert not any(a.name.startswith("TCMR_bake") for a in bpy.data.armatures)
    assert not any(b.name.startswith("TCMR_helper") for b in target.data.bones)


def _keys_per_curve(target):
    from addon.anim_shim import action_fcurves

    return {(fc.data_path, fc.array_index): len(fc.keyframe_points) for fc in action_fcurves(target)}


@pytest.mark.bpy
def test_mixamo_t_pose_rig_with_rolls_follows_the_source(bpy_module):
    bpy = bpy_module
    source = rigs.build_smpl_source()
    names = rigs.prefixed(rigs.MIXAMO_NAMES, "mixamorig:")
    # joints x2.2 in an object scaled 0.5: the rig is 1.1x the source in world units
    target = rigs.build_rig(
        "Mixamo", names, rigs.rig_joints(2.2), location=(2.0, 0.0, 0.0), scale=0.5,
        extra=(("mixamorig:HeadTop_End", "mixamorig:Head", (0.0, 0.0, 3.9), (0.0, 0.0, 4.1)),),
    )
    target.pose.bones["mixamorig:LeftForeArm"].rotation_mode = "YXZ"  # Euler bones work too
    target.pose.bones["mixamorig:RightUpLeg"].rotation_mode = "AXIS_ANGLE"
    target.pose.bones["mixamorig:HeadTop_End"].constraints.new("LIMIT_ROTATION")  # the user's own
    objects_before = {o.name for o in bpy.data.objects}
    before = source_snapshot(bpy, source)
    rest_hips = np.array(target.matrix_world @ target.data.bones["mixamorig:Hips"].head_local)

    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="MIXAMO")

    assert result == {"FINISHED"}
    assert {o.name for o in bpy.data.objects} == objects_before
    assert_clean(bpy, target, user_constraints=1)
    assert_same_snapshot(before, source_snapshot(bpy, source))
    action = target.animation_data.action
    assert action is not None and action != source.animation_data.action
    assert target.animation_data.action_slot is not None
    keys = _keys_per_curve(target)
    assert keys[('pose.bones["mixamorig:LeftArm"].rotation_quaternion', 0)] == 12  # every frame
    assert ('pose.bones["mixamorig:LeftForeArm"].rotation_euler', 2) in keys
    assert ('pose.bones["mixamorig:RightUpLeg"].rotation_axis_angle', 3) in keys
    assert ('pose.bones["mixamorig:Hips"].location', 0) in keys

    assert worst_direction_error(bpy, source, target, names) < MAX_DEGREES
    frames = list(SAMPLE_FRAMES)
    src_path = root_positions(bpy, source, "pelvis", frames)
    tgt_path = root_positions(bpy, target, "mixamorig:Hips", frames)
    assert np.allclose(tgt_path[0], rest_hips, atol=1e-4)  # starts where the rig stands
    assert np.allclose(tgt_path - tgt_path[0], 1.1 * (src_path - src_path[0]), atol=1e-4)
    assert np.ptp(tgt_path[:, 0]) > 1.0  # the source really travels


@pytest.mark.bpy
def test_a_pose_rig_with_guessed_names_is_aligned_and_in_place_keeps_x_y(bpy_module):
    bpy = bpy_module
    source = rigs.build_smpl_source(seed=3)
    target = rigs.build_rig("UE", rigs.UE_NAMES, rigs.rig_joints(0.9, arm_drop_deg=40.0), seed=5)
    rest = {b.name: np.array(b.tail_local - b.head_local) for b in target.data.bones}
    arm = rest["upperarm_l"]
    assert math.degrees(math.atan2(-arm[2], arm[0])) > 35.0  # really an A-pose
    rest_hips = np.array(target.data.bones["pelvis"].head_local)

    bpy.context.view_layer.objects.active = target
    bpy.ops.object.mode_set(mode="POSE")  # animators call it from pose mode

    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="AUTO", in_place=True)

    assert result == {"FINISHED"}
    assert target.mode == "POSE" and bpy.context.view_layer.objects.active == target
    assert_clean(bpy, target)
    assert worst_direction_error(bpy, source, target, rigs.UE_NAMES) < MAX_DEGREES
    frames = list(SAMPLE_FRAMES)
    src_path = root_positions(bpy, source, "pelvis", frames)
    tgt_path = root_positions(bpy, target, "pelvis", frames)
    assert np.allclose(tgt_path[:, :2], rest_hips[:2], atol=1e-4)  # no horizontal root motion
    assert np.allclose(tgt_path[:, 2] - rest_hips[2], 0.9 * (src_path[:, 2] - src_path[0, 2]), atol=1e-4)
    assert np.ptp(tgt_path[:, 2]) > 0.05


@pytest.mark.bpy
def test_rigify_metarig_a_pose_with_rest_origin(bpy_module):
    import addon_utils

    bpy = bpy_module
    addon_utils.enable("rigify", default_set=True)
    source = rigs.build_smpl_source(seed=7, location=(0.0, 0.0, 0.0))
    bpy.ops.object.armature_human_metarig_add()
    target = bpy.context.object
    bones = target.data.bones
    arm = np.array(bones["upper_arm.L"].tail_local - bones["upper_arm.L"].head_local)
    assert math.degrees(math.atan2(-arm[2], arm[0])) > 20.0  # the metarig's arms point down
    mapping = {
        "pelvis": "spine", "spine1": "spine.001", "spine2": "spine.002", "spine3": "spine.003",
        "neck": "spine.004", "head": "spine.006",
    }
    for side, s in (("left", "L"), ("right", "R")):
        mapping.update({f"{side}_collar": f"shoulder.{s}", f"{side}_shoulder": f"upper_arm.{s}",
                        f"{side}_elbow": f"forearm.{s}", f"{side}_wrist": f"hand.{s}",
                        f"{side}_hip": f"thigh.{s}", f"{side}_knee": f"shin.{s}",
                        f"{side}_ankle": f"foot.{s}", f"{side}_foot": f"toe.{s}"})
    # hip-height ratio from the two rigs' rest joints (hips above the lowest ankle/toe joint)
    feet = ("left_ankle", "right_ankle", "left_foot", "right_foot")
    src_heads = {b.name: np.array(b.head_local) for b in source.data.bones}
    tgt_heads = {j: np.array(bones[b].head_local) for j, b in mapping.items()}
    src_h = src_heads["pelvis"][2] - min(src_heads[j][2] for j in feet)
    tgt_h = tgt_heads["pelvis"][2] - min(tgt_heads[j][2] for j in feet)
    ratio = tgt_h / src_h

    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="RIGIFY_METARIG",
                                      root_origin="REST")

    assert result == {"FINISHED"}
    assert_clean(bpy, target, user_constraints=0)
    assert worst_direction_error(bpy, source, target, mapping) < MAX_DEGREES
    frames = list(SAMPLE_FRAMES)
    src_path = root_positions(bpy, source, "pelvis", frames)
    tgt_path = root_positions(bpy, target, "spine", frames)
    assert np.allclose(tgt_path - tgt_heads["pelvis"], ratio * (src_path - src_heads["pelvis"]), atol=1e-4)


@pytest.mark.bpy
def test_rigify_fk_controls_switch_to_fk_and_follow(bpy_module):
    bpy = bpy_module
    source = rigs.build_smpl_source(seed=11)
    joints = rigs.rig_joints(1.05, arm_drop_deg=30.0)
    extra = [(f"{limb}_parent.{s}", "torso", (0.0, 0.0, 1.0), (0.0, 0.1, 1.0))
             for limb in ("upper_arm", "thigh") for s in "LR"]
    target = rigs.build_rig("rig", rigs.RIGIFY_FK_NAMES, joints, extra=extra, parent_of_root="root")
    for bone, *_ in extra:
        target.pose.bones[bone]["IK_FK"] = 0.0  # Rigify's default: IK
    target.pose.bones["root"].location = (0.0, 0.0, 0.0)

    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="AUTO")

    assert result == {"FINISHED"}
    assert_clean(bpy, target)
    for limb in ("upper_arm", "thigh"):
        for s in "LR":
            assert target.pose.bones[f"{limb}_parent.{s}"]["IK_FK"] == 1.0
    keys = _keys_per_curve(target)
    assert ('pose.bones["upper_arm_parent.L"]["IK_FK"]', 0) in keys  # the action keeps FK on
    assert ('pose.bones["torso"].location', 2) in keys
    assert worst_direction_error(bpy, source, target, rigs.RIGIFY_FK_NAMES) < MAX_DEGREES


@pytest.mark.bpy
def test_simplified_keys_are_fewer_and_stay_close(bpy_module):
    bpy = bpy_module
    # linear source keys: the baked local rotations are then close to linear between them
    source = rigs.build_smpl_source(key_frames=(1, 12, 24), seed=2, linear=True)
    full = rigs.build_rig("Full", rigs.MIXAMO_NAMES, rigs.rig_joints(1.0))
    thin = rigs.build_rig("Thin", rigs.MIXAMO_NAMES, rigs.rig_joints(1.0), location=(3.0, 0.0, 0.0))
    assert bpy.ops.tcmr.bake_to_rig(source=source.name, target=full.name, preset="MIXAMO") == {"FINISHED"}
    assert bpy.ops.tcmr.bake_to_rig(source=source.name, target=thin.name, preset="MIXAMO",
                                    keying="SIMPLIFY", tolerance=0.002) == {"FINISHED"}
    full_keys = sum(_keys_per_curve(full).values())
    thin_keys = sum(_keys_per_curve(thin).values())
    assert thin_keys < 0.5 * full_keys
    worst = 0.0
    for frame in range(1, 25):  # linear interpolation of the kept keys stays within the tolerance
        bpy.context.scene.frame_set(frame)
        for bone in rigs.MIXAMO_NAMES.values():
            a = np.array(full.pose.bones[bone].rotation_quaternion)
            b = np.array(thin.pose.bones[bone].rotation_quaternion)
            worst = max(worst, np.abs(a - b).max())
        worst = max(worst, np.abs(np.array(full.pose.bones["Hips"].location)
                                  - np.array(thin.pose.bones["Hips"].location)).max())
    assert worst <= 0.002 + 1e-5
    assert worst_direction_error(bpy, source, thin, rigs.MIXAMO_NAMES, frames=range(1, 25)) < MAX_DEGREES


@pytest.mark.bpy
def test_unmappable_target_names_the_missing_bones_and_changes_nothing(bpy_module):
    bpy = bpy_module
    source = rigs.build_smpl_source()
    names = {j: b for j, b in rigs.prefixed(rigs.MIXAMO_NAMES, "mixamorig:").items()
             if j not in ("left_elbow", "right_hip")}
    target = rigs.build_rig("Broken", names, rigs.rig_joints(1.0))
    objects = sorted(o.name for o in bpy.data.objects)
    actions = sorted(a.name for a in bpy.data.actions)
    before = source_snapshot(bpy, source)
    basis = {pb.name: np.array(pb.matrix_basis) for pb in target.pose.bones}
    frame = bpy.context.scene.frame_current

    with pytest.raises(RuntimeError) as err:
        bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="MIXAMO")

    assert "mixamorig:LeftForeArm" in str(err.value)
    assert "mixamorig:RightUpLeg" in str(err.value)
    assert sorted(o.name for o in bpy.data.objects) == objects
    assert sorted(a.name for a in bpy.data.actions) == actions
    assert target.animation_data is None
    assert_clean(bpy, target)
    assert all(np.allclose(basis[pb.name], np.array(pb.matrix_basis)) for pb in target.pose.bones)
    assert bpy.context.scene.frame_current == frame
    assert_same_snapshot(before, source_snapshot(bpy, source))

    with pytest.raises(RuntimeError) as err:  # a generic rig where the guess finds no legs
        bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="AUTO")
    assert "right_hip" in str(err.value)


@pytest.mark.bpy
def test_bone_map_editor_saves_loads_and_bakes_a_custom_mapping(bpy_module, tmp_path):
    bpy = bpy_module
    from addon import ops_bake
    from addon.core import bone_maps

    assert hasattr(bpy.types, "TCMR_PT_bake")
    source = rigs.build_smpl_source()
    target = rigs.build_rig("Custom", rigs.UE_NAMES, rigs.rig_joints(1.0, arm_drop_deg=35.0))
    settings = bpy.context.scene.tcmr_bake
    settings.source, settings.target = source, target
    assert bpy.ops.tcmr.bake_map_fill(preset="AUTO") == {"FINISHED"}
    assert settings.preset == "CUSTOM"
    assert ops_bake.editor_mapping(settings) == rigs.UE_NAMES
    path = tmp_path / "map.json"
    assert bpy.ops.tcmr.bake_map_save(filepath=str(path)) == {"FINISHED"}
    assert bone_maps.from_json(path.read_text()) == rigs.UE_NAMES
    settings.mapping.clear()
    assert bpy.ops.tcmr.bake_map_load(filepath=str(path)) == {"FINISHED"}
    assert ops_bake.editor_mapping(settings) == rigs.UE_NAMES

    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="CUSTOM",
                                      mapping_file=str(path))
    assert result == {"FINISHED"}
    assert worst_direction_error(bpy, source, target, rigs.UE_NAMES) < MAX_DEGREES

    bad = dict(rigs.UE_NAMES, left_knee="knee_l")
    with pytest.raises(RuntimeError, match=r"knee_l \(for left_knee\)"):
        bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="CUSTOM",
                                 mapping=bone_maps.to_json(bad))


@pytest.mark.bpy
def test_generated_rigify_rig_deform_bones_follow_through_the_fk_controls(bpy_module):
    """A real Rigify rig (generated from the human metarig): the preset drives the FK controls,
    and the deform skeleton (DEF-*) is what must end up matching the source."""
    import addon_utils

    bpy = bpy_module
    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o.name != "metarig")
    assert rig.pose.bones["upper_arm_parent.L"]["IK_FK"] == 0.0  # generated in IK mode
    constraints = sum(len(pb.constraints) for pb in rig.pose.bones)
    source = rigs.build_smpl_source(seed=4)

    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=rig.name, preset="AUTO")

    assert result == {"FINISHED"}
    assert_clean(bpy, rig, user_constraints=constraints)  # Rigify's own constraints stay
    for bone in ("upper_arm_parent.L", "upper_arm_parent.R", "thigh_parent.L", "thigh_parent.R"):
        assert rig.pose.bones[bone]["IK_FK"] == 1.0
    deform = {"pelvis": "DEF-spine", "spine1": "DEF-spine.001", "spine2": "DEF-spine.002",
              "spine3": "DEF-spine.003", "neck": "DEF-spine.004", "head": "DEF-spine.006"}
    for side, s in (("left", "L"), ("right", "R")):
        deform.update({f"{side}_collar": f"DEF-shoulder.{s}", f"{side}_shoulder": f"DEF-upper_arm.{s}",
                       f"{side}_elbow": f"DEF-forearm.{s}", f"{side}_wrist": f"DEF-hand.{s}",
                       f"{side}_hip": f"DEF-thigh.{s}", f"{side}_knee": f"DEF-shin.{s}",
                       f"{side}_ankle": f"DEF-foot.{s}", f"{side}_foot": f"DEF-toe.{s}"})
    assert worst_direction_error(bpy, source, rig, deform) < MAX_DEGREES


@pytest.mark.bpy
def test_a_failure_mid_bake_rolls_everything_back(bpy_module, monkeypatch):
    bpy = bpy_module
    from addon import retarget

    source = rigs.build_smpl_source()
    target = rigs.build_rig("Mixamo", rigs.MIXAMO_NAMES, rigs.rig_joints(1.0))
    old_action = bpy.data.actions.new("Walk")
    target.animation_data_create()
    target.animation_data.action = old_action
    slot = target.animation_data.action_slot
    target.pose.bones["LeftArm"].rotation_quaternion = (0.9, 0.1, 0.0, 0.0)
    basis = {pb.name: np.array(pb.matrix_basis) for pb in target.pose.bones}
    objects = sorted(o.name for o in bpy.data.objects)
    actions = sorted(a.name for a in bpy.data.actions)
    before = source_snapshot(bpy, source)

    write_action = retarget.anim_shim.write_action

    def broken(*args, **kwargs):
        write_action(*args, **kwargs)  # the new action exists and is assigned...
        raise OSError("disk full")  # ...when the failure comes

    monkeypatch.setattr(retarget.anim_shim, "write_action", broken)
    config = retarget.BakeConfig(mapping=dict(rigs.MIXAMO_NAMES), frame_start=1, frame_end=12)
    with pytest.raises(OSError):
        retarget.bake(bpy.context, source, target, config)

    assert sorted(o.name for o in bpy.data.objects) == objects
    assert sorted(a.name for a in bpy.data.actions) == actions
    assert target.animation_data.action == old_action and target.animation_data.action_slot == slot
    assert_clean(bpy, target)
    assert all(np.allclose(basis[pb.name], np.array(pb.matrix_basis), atol=1e-6) for pb in target.pose.bones)
    assert_same_snapshot(before, source_snapshot(bpy, source))


@pytest.mark.bpy
@pytest.mark.parametrize("hidden", ["source", "target"])
def test_hidden_source_or_target_still_bakes(bpy_module, hidden):
    """Objects disabled in viewports are not evaluated and cannot be edited; the bake must
    still see the motion and leave the visibility as it was."""
    bpy = bpy_module
    source = rigs.build_smpl_source()
    target = rigs.build_rig("Mixamo", rigs.MIXAMO_NAMES, rigs.rig_joints(1.0))
    obj = source if hidden == "source" else target
    obj.hide_viewport = True

    assert bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="MIXAMO") == {"FINISHED"}

    assert obj.hide_viewport
    assert_clean(bpy, target)
    obj.hide_viewport = False
    assert worst_direction_error(bpy, source, target, rigs.MIXAMO_NAMES) < MAX_DEGREES


@pytest.mark.bpy
def test_a_rig_facing_plus_y_performs_the_motion_towards_its_own_front(bpy_module):
    bpy = bpy_module
    from addon import retarget

    source = rigs.build_smpl_source()
    joints = rigs.rig_joints(1.0)
    turned = joints * np.array([-1.0, -1.0, 1.0])  # 180 degrees about Z: faces +Y
    back = rigs.build_rig("Back", rigs.MIXAMO_NAMES, turned, location=(1.0, 2.0, 0.0))
    transform = (tuple(back.location), tuple(back.rotation_euler), tuple(back.scale))
    config = retarget.BakeConfig(mapping=dict(rigs.MIXAMO_NAMES), frame_start=1, frame_end=12)

    result = retarget.bake(bpy.context, source, back, config)

    assert abs(abs(result.turned_degrees) - 180.0) < 1e-6 and result.facing_degrees < 5.0
    assert (tuple(back.location), tuple(back.rotation_euler), tuple(back.scale)) == transform
    assert_clean(bpy, back)
    # every segment points where the source's does, seen from the rig's own front: turned 180
    half_turn = np.diag([-1.0, -1.0, 1.0])
    worst = 0.0
    for frame in SAMPLE_FRAMES:
        bpy.context.scene.frame_set(frame)
        for joint, child in _segments(rigs.MIXAMO_NAMES):
            d_src = half_turn @ (_world_head(source, child) - _world_head(source, joint))
            d_tgt = (_world_head(back, rigs.MIXAMO_NAMES[child])
                     - _world_head(back, rigs.MIXAMO_NAMES[joint]))
            worst = max(worst, _angle(d_src, d_tgt))
    assert worst < MAX_DEGREES
    src_path = root_positions(bpy, source, "pelvis", list(SAMPLE_FRAMES))
    tgt_path = root_positions(bpy, back, "Hips", list(SAMPLE_FRAMES))
    assert np.allclose(tgt_path - tgt_path[0], (src_path - src_path[0]) @ half_turn.T, atol=1e-4)

    # with matching off the motion stays in world axes, and the mismatch is reported
    plain = rigs.build_rig("Plain", rigs.MIXAMO_NAMES, turned)
    off = retarget.bake(bpy.context, source, plain, retarget.BakeConfig(
        mapping=dict(rigs.MIXAMO_NAMES), frame_start=1, frame_end=3, match_facing=False))
    assert off.turned_degrees == 0.0 and off.facing_degrees > 175.0
    assert worst_direction_error(bpy, source, plain, rigs.MIXAMO_NAMES, frames=(1, 3)) < MAX_DEGREES


@pytest.mark.bpy
def test_fbx_style_rig_object_rotated_90_and_scaled_0_01(bpy_module):
    """Mixamo FBX imports arrive as a Y-up armature in centimetres inside an object rotated
    +90 degrees about X with scale 0.01; world-space retargeting must not care."""
    bpy = bpy_module
    source = rigs.build_smpl_source(seed=9)
    world = rigs.rig_joints(1.0)
    local = np.stack([world[:, 0], world[:, 2], -world[:, 1]], axis=1) / 0.01  # undo Rx(+90), x0.01
    names = rigs.prefixed(rigs.MIXAMO_NAMES, "mixamorig1:")
    target = rigs.build_rig("Armature", names, local, scale=0.01)
    target.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    bpy.context.view_layer.update()
    head = np.array(target.matrix_world @ target.data.bones["mixamorig1:Head"].head_local)
    assert np.allclose(head, world[15], atol=1e-4)  # really stands up in the world

    assert bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="AUTO") == {"FINISHED"}

    assert worst_direction_error(bpy, source, target, names) < MAX_DEGREES
    frames = list(SAMPLE_FRAMES)
    src_path = root_positions(bpy, source, "pelvis", frames)
    tgt_path = root_positions(bpy, target, "mixamorig1:Hips", frames)
    assert np.allclose(tgt_path - tgt_path[0], src_path - src_path[0], atol=1e-4)  # same size: ratio 1


@pytest.mark.bpy
def test_frame_range_and_action_name(bpy_module):
    bpy = bpy_module
    source = rigs.build_smpl_source()
    target = rigs.build_rig("Mixamo", rigs.MIXAMO_NAMES, rigs.rig_joints(1.0))

    result = bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="MIXAMO",
                                      use_source_range=False, frame_start=3, frame_end=7, action_name="Swing")

    assert result == {"FINISHED"}
    action = target.animation_data.action
    assert action.name == "Swing"
    assert tuple(action.frame_range) == (3.0, 7.0)
    assert set(_keys_per_curve(target).values()) == {5}
    assert worst_direction_error(bpy, source, target, rigs.MIXAMO_NAMES, frames=(3, 5, 7)) < MAX_DEGREES
    with pytest.raises(RuntimeError, match="empty frame range"):
        bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="MIXAMO",
                                 use_source_range=False, frame_start=9, frame_end=4)
