"""Bake an SMPL armature's motion onto another rig (bpy side of `tcmr.bake_to_rig`).

Method (BLENDER_NOTES fact 12/13): a temporary copy of the source armature gets one helper
bone per mapped joint. Each helper carries the *target* bone's rest orientation, first turned
so that the target's rest segment direction matches the source's (T-pose vs A-pose), and is
parented to the source bone. Every mapped target bone gets a world-space Copy Rotation from
its helper, so any bone roll or rest orientation works. The hips' world position follows the
source pelvis, scaled by the hip-height ratio. Each frame is evaluated, read back as local
pose values (visual keying) and written in bulk into a new action (anim_shim). Then every constraint and
helper we added is removed; the source armature, its action and its pose are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Euler, Matrix, Vector

from . import anim_shim
from .core import bone_maps, retarget_math
from .core.skeleton import JOINT_NAMES

HELPER_PREFIX = "TCMR_helper."
CONSTRAINT_NAME = "TCMR retarget"
FOOT_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")


class RetargetError(Exception):
    """A bake that cannot run; `hint` names the fix. Nothing in the scene was changed."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class BakeConfig:
    """What to bake. mapping: {SMPL joint: target bone}. frame range inclusive.

    root_scale 0 means the hip-height ratio target/source. root_origin FIRST_FRAME puts the
    target's rest hips where the source pelvis is on the first baked frame; REST where the
    source pelvis is in its rest pose. simplify drops keys that linear interpolation
    reproduces within `tolerance` (quaternion components / radians / metres)."""

    mapping: dict
    frame_start: int
    frame_end: int
    simplify: bool = False
    tolerance: float = 0.001
    in_place: bool = False
    root_scale: float = 0.0
    root_origin: str = "FIRST_FRAME"
    match_facing: bool = True  # a rig facing +Y or +-X performs the motion towards its own front
    action_name: str = ""
    switches: tuple = ()  # (pose bone, custom property, value), e.g. Rigify IK_FK = 1.0
    extras: tuple = ()  # (target bone, joint): more bones taking that joint's rotation
    segments: tuple = ()  # (joint, from bone, to bone): rest segment overrides


@dataclass
class BakeResult:
    action_name: str
    frames: int
    root_scale: float
    keys: int
    skipped_switches: list = field(default_factory=list)
    facing_degrees: float = 0.0  # yaw left between the two rigs' facings (hip to hip)
    turned_degrees: float = 0.0  # the motion was turned by this much to match the rig's facing


# ------------------------------------------------------------------ checks

def check(source, target, config: BakeConfig) -> None:
    """Raise RetargetError for anything that would stop the bake, before touching the scene."""
    if source is None or source.type != "ARMATURE":
        raise RetargetError("the source must be an SMPL armature", "pick the imported character's armature")
    if target is None or target.type != "ARMATURE":
        raise RetargetError("the target must be an armature", "pick the rig to bake onto")
    if source == target:
        raise RetargetError("source and target are the same armature", "pick a different target rig")
    if config.frame_end < config.frame_start:
        raise RetargetError(f"empty frame range {config.frame_start}..{config.frame_end}",
                            "set the end frame at or after the start frame")
    try:
        bone_maps.validate(config.mapping, target.data.bones.keys(), source.data.bones.keys())
    except bone_maps.MappingError as exc:
        raise RetargetError(f"cannot map the bones: {exc}",
                            "choose another preset or fix the mapping in the bone map editor") from None
    if config.root_origin not in ("FIRST_FRAME", "REST"):
        raise RetargetError(f"unknown root origin {config.root_origin!r}", "use FIRST_FRAME or REST")


# ------------------------------------------------------------------ rest alignment

def _rot3(matrix) -> np.ndarray:
    """Rotation part (3,3) of a 4x4 world matrix with its scale removed."""
    return np.array(matrix.to_3x3().normalized(), dtype=np.float64)


def _segment_end(joint: str, mapping: dict) -> str | None:
    """The first mapped joint down the segment chain from `joint` (None at chain ends)."""
    child = bone_maps.SEGMENT_CHILD.get(joint)
    while child is not None and not mapping.get(child):
        child = bone_maps.SEGMENT_CHILD.get(child)
    return child


def helper_rotations(source_heads: dict, target, mapping: dict, segments=(), extras=()) -> dict:
    """{target bone: (joint, (3,3) world rotation of its helper)}.

    A helper carries the target bone's rest orientation turned so that the bone's rest
    segment (its head to the next mapped bone's head, or a preset's `segments` override)
    points along the source's rest segment (fact 13). Chain ends reuse their mapped parent's
    turn; `extras` (bone, joint) reuse their joint's turn."""
    world = target.matrix_world
    bones = target.data.bones

    def head(bone):
        return np.array(world @ bones[bone].head_local)

    override = {joint: (a, b) for joint, a, b in segments}
    turns: dict = {}
    helpers = {}
    for joint in JOINT_NAMES:
        bone = mapping.get(joint)
        if not bone:
            continue
        end = _segment_end(joint, mapping)
        turn = None
        if end is not None:
            start_bone, end_bone = override.get(joint, (bone, mapping[end]))
            d_t = head(end_bone) - head(start_bone)
            d_s = source_heads[end] - source_heads[joint]
            if np.linalg.norm(d_t) > 1e-6 and np.linalg.norm(d_s) > 1e-6:
                turn = retarget_math.rotation_between(d_t, d_s)
        if turn is None:
            parent = bone_maps.mapped_parent(joint, mapping)
            turn = turns[parent] if parent is not None else np.eye(3)
        turns[joint] = turn
        helpers[bone] = (joint, turn @ _rot3(world @ bones[bone].matrix_local))
    for bone, joint in extras:
        if joint in turns and bone not in helpers:
            helpers[bone] = (joint, turns[joint] @ _rot3(world @ bones[bone].matrix_local))
    return helpers


# ------------------------------------------------------------------ the bake

def _set_mode_object(context) -> str:
    """Leave pose/edit mode (edit bones and frame evaluation need object mode); returns the
    mode to go back to."""
    obj = context.view_layer.objects.active
    if obj is None or obj.mode == "OBJECT":
        return "OBJECT"
    mode = obj.mode
    bpy.ops.object.mode_set(mode="OBJECT")
    return mode


def _make_helper_rig(context, source, helpers: dict) -> dict:
    """Copy of the source armature (same action and slot) with one helper bone per driven
    target bone, parented to its joint's bone. Returns (rig, {target bone: helper name})."""
    data = source.data.copy()
    data.name = "TCMR_bake_helper"
    rig = source.copy()
    rig.data = data
    rig.name = "TCMR_bake_helper"
    context.scene.collection.objects.link(rig)
    rig.hide_viewport = False  # a hidden copy (of a hidden source) can't be edited or evaluated
    rig.hide_set(False)
    if source.animation_data is not None:  # copy keeps it, but set the slot explicitly (fact 7)
        rig.animation_data.action = source.animation_data.action
        if bpy.app.version >= (4, 4, 0):
            rig.animation_data.action_slot = source.animation_data.action_slot
    to_local = _rot3(rig.matrix_world).T
    context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        bones = data.edit_bones
        names = {}
        for index, (bone, (joint, rotation)) in enumerate(helpers.items()):
            parent = bones[joint]
            helper = bones.new(f"{HELPER_PREFIX}{index:03d}")
            names[bone] = helper.name
            helper.head = parent.head
            helper.tail = parent.head + Vector((0.0, 0.0, 0.1))  # head/tail first, then matrix
            local = Matrix((to_local @ rotation).tolist()).to_4x4()
            local.translation = parent.head
            helper.matrix = local
            helper.parent = parent
            helper.use_connect = False
            helper.use_deform = False
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    return rig, names


def _key_values(pose_bone, basis: Matrix, previous):
    """(data path, values) of a local matrix in the bone's own rotation mode, continuous with
    the previous frame's values."""
    mode = pose_bone.rotation_mode
    quat = basis.to_quaternion()
    if mode == "QUATERNION":
        if previous is not None and np.dot(previous, quat) < 0.0:
            quat.negate()
        return "rotation_quaternion", tuple(quat)
    if mode == "AXIS_ANGLE":
        axis, angle = quat.to_axis_angle()
        return "rotation_axis_angle", (angle, *axis)
    compat = Euler(previous, mode) if previous is not None else None
    euler = quat.to_euler(mode, compat) if compat is not None else quat.to_euler(mode)
    return "rotation_euler", tuple(euler)


def bake(context, source, target, config: BakeConfig) -> BakeResult:
    """Bake source's motion onto target as a new action assigned to target (see module doc)."""
    check(source, target, config)
    if context.view_layer.objects.get(target.name) is None:
        raise RetargetError(f"{target.name} is not in the current view layer",
                            "enable the rig's collection in the view layer, then bake again")
    scene = context.scene
    mapping = {j: b for j, b in config.mapping.items() if b}
    saved_frame = (scene.frame_current, scene.frame_subframe)
    saved_active = context.view_layer.objects.active
    saved_source_pose = _pose_values(source)  # evaluating frames rewrites the source's pose
    saved_mode = _set_mode_object(context)
    saved_hidden = target.hide_viewport
    target.hide_viewport = False  # objects disabled in viewports are not evaluated
    # The source's body meshes (skinning, 200+ shape keys) dominate each frame's evaluation
    # and nothing in the bake reads them: switch them off while baking.
    quieted = [o for o in source.children_recursive
               if o.type == "MESH" and not o.hide_viewport and o not in (target, *target.children_recursive)]
    for obj in quieted:
        obj.hide_viewport = True
    anim = target.animation_data
    saved_anim = None if anim is None else (anim.action, getattr(anim, "action_slot", None), anim.use_nla)
    pose = target.pose.bones
    driven = list(mapping.values())
    driven += [b for b, j in config.extras if j in mapping and b not in driven]
    saved_basis = {b: pose[b].matrix_basis.copy() for b in driven}
    switches, skipped = [], []
    for bone, prop, value in config.switches:
        if bone in pose and prop in pose[bone]:
            switches.append((bone, prop, pose[bone][prop], value))
        else:
            skipped.append(f"{bone}[{prop}]")
    helper = None
    constraints = []
    src_world = source.matrix_world
    source_heads = {j: np.array(src_world @ source.data.bones[j].head_local) for j in mapping}
    turn, yaw = _facing(source_heads, target, mapping)
    if not config.match_facing:
        turn = 0.0
    saved_transform = _transform_values(target)
    if turn:
        # Face the rig like the source while baking: the keys are object-local, so once its
        # transform is back the motion happens towards the rig's own front.
        target.matrix_world = Matrix.Rotation(turn, 4, "Z") @ target.matrix_world
        context.view_layer.update()
    try:
        helpers = helper_rotations(source_heads, target, mapping, config.segments, config.extras)
        helper, helper_names = _make_helper_rig(context, source, helpers)

        if anim is not None:
            anim.action = None
            anim.use_nla = False
        for bone, prop, _old, value in switches:
            pose[bone][prop] = value
        for bone in driven:
            pose[bone].matrix_basis = Matrix.Identity(4)
        for bone in driven:
            con = pose[bone].constraints.new("COPY_ROTATION")
            con.name = CONSTRAINT_NAME
            con.target = helper
            con.subtarget = helper_names[bone]
            con.target_space = "WORLD"
            con.owner_space = "WORLD"
            con.mix_mode = "REPLACE"
            constraints.append((bone, con))

        root_bone = mapping[bone_maps.ROOT_JOINT]
        feet = [j for j in FOOT_JOINTS if j in mapping]
        tgt_world = target.matrix_world
        target_ref = np.array(tgt_world @ target.data.bones[root_bone].head_local)
        if config.root_scale > 0.0:
            scale = float(config.root_scale)
        else:
            # the hip joint: the root bone's head, or where a preset says the pelvis starts
            hip_bone = {j: a for j, a, _b in config.segments}.get(bone_maps.ROOT_JOINT, root_bone)
            tgt_hips = np.array(tgt_world @ target.data.bones[hip_bone].head_local)
            tgt_feet = [np.array(tgt_world @ target.data.bones[mapping[j]].head_local) for j in feet]
            src_feet = [source_heads[j] for j in feet]
            src_height = retarget_math.hip_height(source_heads["pelvis"], src_feet)
            tgt_height = retarget_math.hip_height(tgt_hips, tgt_feet)
            scale = tgt_height / src_height if src_height > 1e-6 and tgt_height > 1e-6 else 1.0
        source_ref = source_heads["pelvis"] if config.root_origin == "REST" else None

        frames = np.arange(config.frame_start, config.frame_end + 1)
        order = [mapping[j] for j in JOINT_NAMES if j in mapping]
        order += [b for b in driven if b not in order]
        values = {bone: [] for bone in order}
        order_bones = [(bone, pose[bone]) for bone in order]  # name lookups are linear in bpy
        helper_pelvis = helper.pose.bones["pelvis"]
        paths = {}
        root_locs = []
        to_target = tgt_world.inverted()
        for frame in frames:
            scene.frame_set(int(frame))
            pelvis = np.array(helper.matrix_world @ helper_pelvis.head)
            if source_ref is None:
                source_ref = pelvis
            world_pos = retarget_math.root_path(pelvis, source_ref, target_ref, scale, config.in_place)[0]
            for bone, pb in order_bones:
                pose_matrix = pb.matrix.copy()
                if bone == root_bone:
                    pose_matrix.translation = to_target @ Vector(world_pos)
                basis = target.convert_space(pose_bone=pb, matrix=pose_matrix,
                                             from_space="POSE", to_space="LOCAL")
                previous = values[bone][-1] if values[bone] else None
                paths[bone], vals = _key_values(pb, basis, previous)
                values[bone].append(vals)
                if bone == root_bone:
                    root_locs.append(tuple(basis.to_translation()))

        # clean up before writing: the result must play without any helper
        for bone, con in constraints:
            pose[bone].constraints.remove(con)
        constraints = []
        _remove_helper(helper)
        helper = None

        name = config.action_name or f"{target.name}|{_source_action_name(source)}"
        curves = []
        for bone in order:
            rows = np.array(values[bone], dtype=np.float64)  # (F, C)
            curves += _property_curves(f'pose.bones["{bone}"].{paths[bone]}', bone, frames, rows, config)
        curves += _property_curves(f'pose.bones["{root_bone}"].location', root_bone, frames,
                                   np.array(root_locs, dtype=np.float64), config)
        for bone, prop, _old, value in switches:  # one key: the action keeps the switch on
            curves.append(anim_shim.Curve(f'pose.bones["{bone}"]["{prop}"]', 0, bone, frames[:1],
                                          np.array([value], dtype=np.float64)))
        action = anim_shim.write_action(target, name, curves)
        keys = sum(len(c.frames) for c in curves)
        if anim is not None:
            anim.use_nla = saved_anim[2]
    except Exception:
        for bone, con in constraints:
            pose[bone].constraints.remove(con)
        if helper is not None:
            _remove_helper(helper)
        made = target.animation_data.action if target.animation_data is not None else None
        if made is not None and (saved_anim is None or made != saved_anim[0]):
            bpy.data.actions.remove(made)  # written before the failure
        if target.animation_data is not None:
            if saved_anim is None:
                target.animation_data_clear()
            else:
                target.animation_data.action = saved_anim[0]
                if bpy.app.version >= (4, 4, 0) and saved_anim[0] is not None:
                    target.animation_data.action_slot = saved_anim[1]
                target.animation_data.use_nla = saved_anim[2]
        for bone, basis in saved_basis.items():
            pose[bone].matrix_basis = basis
        for bone, prop, old, _value in switches:
            pose[bone][prop] = old
        raise
    finally:
        _restore_transform_values(target, saved_transform)
        target.hide_viewport = saved_hidden
        for obj in quieted:
            obj.hide_viewport = False
        context.view_layer.objects.active = saved_active
        if saved_active is not None and saved_mode != "OBJECT":
            bpy.ops.object.mode_set(mode=saved_mode)
        scene.frame_set(saved_frame[0], subframe=saved_frame[1])
        _restore_pose_values(source, saved_source_pose)
    return BakeResult(action.name, len(frames), scale, keys, skipped,
                      facing_degrees=abs(float(np.degrees(yaw - turn))),
                      turned_degrees=float(np.degrees(turn)))


def _facing(source_heads: dict, target, mapping: dict) -> tuple[float, float]:
    """retarget_math.facing_turn for the two rigs' rest hips (world)."""
    world = target.matrix_world
    left, right = (np.array(world @ target.data.bones[mapping[j]].head_local)
                   for j in ("left_hip", "right_hip"))
    return retarget_math.facing_turn(source_heads["left_hip"] - source_heads["right_hip"], left - right)


_TRANSFORM_CHANNELS = ("location", "rotation_euler", "rotation_quaternion", "rotation_axis_angle", "scale")


def _transform_values(obj) -> list:
    return [tuple(getattr(obj, c)) for c in _TRANSFORM_CHANNELS]


def _restore_transform_values(obj, saved: list) -> None:
    for channel, value in zip(_TRANSFORM_CHANNELS, saved):
        if tuple(getattr(obj, channel)) != value:
            setattr(obj, channel, value)


def _property_curves(data_path, group, frames, rows, config: BakeConfig) -> list:
    """Curves of one property's channels (F,C), all channels keyed on the same frames."""
    if config.simplify:
        keep = retarget_math.simplify_keys(rows, config.tolerance)
    else:
        keep = np.arange(len(frames))
    return [anim_shim.Curve(data_path, index, group, frames[keep], rows[keep, index])
            for index in range(rows.shape[1])]


_POSE_CHANNELS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale")


def _pose_values(obj) -> dict:
    return {pb.name: [tuple(getattr(pb, c)) for c in _POSE_CHANNELS] for pb in obj.pose.bones}


def _restore_pose_values(obj, saved: dict) -> None:
    """Put back pose values exactly (also unkeyed edits the frame changes overwrote)."""
    for pb in obj.pose.bones:
        for channel, value in zip(_POSE_CHANNELS, saved[pb.name]):
            if tuple(getattr(pb, channel)) != value:
                setattr(pb, channel, value)


def _remove_helper(rig):
    data = rig.data
    bpy.data.objects.remove(rig)
    if data.users == 0:
        bpy.data.armatures.remove(data)


def _source_action_name(source) -> str:
    anim = source.animation_data
    return anim.action.name if anim is not None and anim.action is not None else "pose"
