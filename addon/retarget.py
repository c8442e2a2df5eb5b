"""Bake an SMPL armature's motion onto another rig (bpy side of `tcmr.bake_to_rig`).

Method (docs/blender_facts.md, helper bones and rests): a temporary copy of the source
armature gets one helper bone per mapped joint. Each helper carries the *target* bone's rest
orientation, first turned so that the target's rest segment direction matches the source's
(T-pose vs A-pose), and is parented to the source bone. Every mapped target bone gets a
world-space Copy Rotation from its helper, so any bone roll or rest orientation works. The
hips' world position follows the source pelvis, scaled by the hip-height ratio. Each frame is
evaluated, read back as local pose values (visual keying) and written in bulk into a new action
(anim_shim). Then every constraint and helper we added is removed; the source armature, its
action and its pose are never modified.

The source is read by SMPL joint role: an SMPL armature's bones are named by the roles; another
skeleton (the lifted H36M armature, bone_maps.SOURCE_SKELETONS) comes with `source_bones`
naming the bone that plays each role it has, and the mapping then holds only those roles.
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
    # {SMPL joint: source bone} of a source that is not an SMPL armature (bone_maps.SOURCE_SKELETONS,
    # e.g. the lifted H36M armature); empty: the source's bones are named by the joints
    source_bones: dict = field(default_factory=dict)


def source_names(config: BakeConfig) -> dict:
    """{SMPL joint: the source bone that plays it}."""
    return dict(config.source_bones) if config.source_bones else {j: j for j in JOINT_NAMES}


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
        raise RetargetError("the source must be an SMPL or lifted H36M armature",
                            "pick the imported character's (or lifted skeleton's) armature")
    if target is None or target.type != "ARMATURE":
        raise RetargetError("the target must be an armature", "pick the rig to bake onto")
    if source == target:
        raise RetargetError("source and target are the same armature", "pick a different target rig")
    if config.frame_end < config.frame_start:
        raise RetargetError(f"empty frame range {config.frame_start}..{config.frame_end}",
                            "set the end frame at or after the start frame")
    bones = source.data.bones
    roles = [j for j, b in source_names(config).items() if b in bones]
    try:
        bone_maps.validate(config.mapping, target.data.bones.keys(), roles)
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
    points along the source's rest segment (T-pose vs A-pose). Chain ends reuse their mapped parent's
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


def _make_helper_rig(context, source, helpers: dict, source_bones: dict) -> dict:
    """Copy of the source armature (same action and slot) with one helper bone per driven
    target bone, parented to its joint's source bone (`source_bones`: {joint: source bone}).
    Returns (rig, {target bone: helper name})."""
    data = source.data.copy()
    data.name = "TCMR_bake_helper"
    rig = source.copy()
    rig.data = data
    rig.name = "TCMR_bake_helper"
    context.scene.collection.objects.link(rig)
    rig.hide_viewport = False  # a hidden copy (of a hidden source) can't be edited or evaluated
    rig.hide_set(False)
    anim_shim.share_action(source, rig)  # the copy keeps the action; its slot is set explicitly
    to_local = _rot3(rig.matrix_world).T
    context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        bones = data.edit_bones
        names = {}
        for index, (bone, (joint, rotation)) in enumerate(helpers.items()):
            parent = bones[source_bones[joint]]
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
    """Bake source's motion onto target as a new action assigned to target (see module doc).

    The steps, in order: save the scene state the bake touches; face the target like the
    source; build the helper rig and the Copy Rotation constraints; sample every frame as the
    target's local pose values (`_sample_motion`); remove every helper; then write the keys.
    Passes that refine the sampled motion on the target rig (a foot IK pass, say) belong at
    the marked boundary between sampling and writing: they take and return a `SampledMotion`.
    On failure everything is rolled back; the scene state is put back in every case."""
    check(source, target, config)
    if context.view_layer.objects.get(target.name) is None:
        raise RetargetError(f"{target.name} is not in the current view layer",
                            "enable the rig's collection in the view layer, then bake again")
    mapping = {j: b for j, b in config.mapping.items() if b}
    scene_state = _save_scene(context, source, target)
    assignment = anim_shim.assignment(target)
    target_pose = _capture_target_pose(target, mapping, config)
    source_heads = _source_heads(source, mapping, source_names(config))
    turn, yaw = _facing(source_heads, target, mapping)
    if not config.match_facing:
        turn = 0.0
    if turn:
        # Face the rig like the source while baking: the keys are object-local, so once its
        # transform is back the motion happens towards the rig's own front.
        target.matrix_world = Matrix.Rotation(turn, 4, "Z") @ target.matrix_world
        context.view_layer.update()
    scaffold = _Scaffold()
    try:
        helpers = helper_rotations(source_heads, target, mapping, config.segments, config.extras)
        scaffold.helper, helper_names = _make_helper_rig(context, source, helpers, source_names(config))
        anim_shim.detach_action(target)
        _pose_for_bake(target, target_pose)
        scaffold.constraints = _add_constraints(target, target_pose.driven, scaffold.helper, helper_names)
        root = _root_motion(source_heads, target, mapping, config)
        motion = _sample_motion(context.scene, target, scaffold.helper, mapping, target_pose.driven, root,
                                config)
        _remove_scaffold(target, scaffold)  # the result must play without any helper

        # ---- step boundary: passes over the sampled target motion (e.g. foot IK) go here ----

        action, keys = _write_motion(target, source, motion, target_pose.switches, config)
        if assignment is not None:
            target.animation_data.use_nla = assignment.use_nla
    except Exception:
        _remove_scaffold(target, scaffold)
        anim_shim.revert_assignment(target, assignment)  # also removes an action written meanwhile
        _restore_target_pose(target, target_pose)
        raise
    finally:
        _restore_scene(context, source, target, scene_state)
    return BakeResult(action.name, len(motion.frames), root.scale, keys, target_pose.skipped,
                      facing_degrees=abs(float(np.degrees(yaw - turn))),
                      turned_degrees=float(np.degrees(turn)))


# ------------------------------------------------------------------ bake steps

@dataclass
class _SceneState:
    """What a bake changes in the scene and always puts back (also after a failure)."""

    frame: tuple  # (frame_current, frame_subframe)
    active: object
    mode: str  # the mode to return to
    source_pose: dict  # evaluating frames rewrites the source's pose
    target_hidden: bool
    quieted: list  # the source's meshes switched off while baking
    target_transform: list


def _save_scene(context, source, target) -> _SceneState:
    """Save the scene state, then set it up for baking: object mode, the target visible (objects
    disabled in viewports are not evaluated) and the source's body meshes off: their skinning
    and 200+ shape keys dominate each frame's evaluation and nothing in the bake reads them."""
    scene = context.scene
    frame = (scene.frame_current, scene.frame_subframe)
    active = context.view_layer.objects.active
    source_pose = _pose_values(source)
    mode = _set_mode_object(context)
    hidden = target.hide_viewport
    target.hide_viewport = False
    quieted = [o for o in source.children_recursive
               if o.type == "MESH" and not o.hide_viewport and o not in (target, *target.children_recursive)]
    for obj in quieted:
        obj.hide_viewport = True
    return _SceneState(frame, active, mode, source_pose, hidden, quieted, _transform_values(target))


def _restore_scene(context, source, target, state: _SceneState) -> None:
    _restore_transform_values(target, state.target_transform)
    target.hide_viewport = state.target_hidden
    for obj in state.quieted:
        obj.hide_viewport = False
    context.view_layer.objects.active = state.active
    if state.active is not None and state.mode != "OBJECT":
        bpy.ops.object.mode_set(mode=state.mode)
    context.scene.frame_set(state.frame[0], subframe=state.frame[1])
    _restore_pose_values(source, state.source_pose)


@dataclass
class _TargetPose:
    """The target bones a bake drives, their pose before it, and the property switches it sets."""

    driven: list  # target bones taking a rotation: mapped bones, then extras
    basis: dict  # {bone: matrix_basis before the bake}
    switches: list  # (pose bone, property, old value, baking value)
    skipped: list  # "bone[property]" switches the rig does not have


def _capture_target_pose(target, mapping: dict, config: BakeConfig) -> _TargetPose:
    pose = target.pose.bones
    driven = list(mapping.values())
    driven += [b for b, j in config.extras if j in mapping and b not in driven]
    switches, skipped = [], []
    for bone, prop, value in config.switches:
        if bone in pose and prop in pose[bone]:
            switches.append((bone, prop, pose[bone][prop], value))
        else:
            skipped.append(f"{bone}[{prop}]")
    return _TargetPose(driven, {b: pose[b].matrix_basis.copy() for b in driven}, switches, skipped)


def _pose_for_bake(target, state: _TargetPose) -> None:
    """Switches to their baking values (e.g. Rigify FK), driven bones to their rest."""
    pose = target.pose.bones
    for bone, prop, _old, value in state.switches:
        pose[bone][prop] = value
    for bone in state.driven:
        pose[bone].matrix_basis = Matrix.Identity(4)


def _restore_target_pose(target, state: _TargetPose) -> None:
    pose = target.pose.bones
    for bone, basis in state.basis.items():
        pose[bone].matrix_basis = basis
    for bone, prop, old, _value in state.switches:
        pose[bone][prop] = old


def _source_heads(source, mapping: dict, names: dict) -> dict:
    """{mapped joint: (3,) world position of its source bone's rest head}."""
    world = source.matrix_world
    return {j: np.array(world @ source.data.bones[names[j]].head_local) for j in mapping}


@dataclass
class _Scaffold:
    """What a bake adds to the scene and removes before writing (or on failure)."""

    helper: object = None  # the helper rig
    constraints: list = field(default_factory=list)  # (target bone, constraint)


def _add_constraints(target, driven: list, helper, helper_names: dict) -> list:
    """A world-space Copy Rotation from its helper on every driven target bone."""
    pose = target.pose.bones
    made = []
    for bone in driven:
        con = pose[bone].constraints.new("COPY_ROTATION")
        con.name = CONSTRAINT_NAME
        con.target = helper
        con.subtarget = helper_names[bone]
        con.target_space = "WORLD"
        con.owner_space = "WORLD"
        con.mix_mode = "REPLACE"
        made.append((bone, con))
    return made


def _remove_scaffold(target, scaffold: _Scaffold) -> None:
    for bone, con in scaffold.constraints:
        target.pose.bones[bone].constraints.remove(con)
    scaffold.constraints = []
    if scaffold.helper is not None:
        _remove_helper(scaffold.helper)
        scaffold.helper = None


@dataclass(frozen=True)
class _RootMotion:
    """How the source pelvis path becomes the target's hips path (retarget_math.root_path)."""

    bone: str  # the target's root bone
    target_ref: np.ndarray  # (3,) world rest head of the target's root bone
    scale: float  # the hip-height ratio target/source, or the configured root_scale
    source_ref: np.ndarray | None  # (3,) source pelvis at REST; None: at the first baked frame


def _root_motion(source_heads: dict, target, mapping: dict, config: BakeConfig) -> _RootMotion:
    root_bone = mapping[bone_maps.ROOT_JOINT]
    world = target.matrix_world
    bones = target.data.bones
    target_ref = np.array(world @ bones[root_bone].head_local)
    if config.root_scale > 0.0:
        scale = float(config.root_scale)
    else:
        # the hip joint: the root bone's head, or where a preset says the pelvis starts
        hip_bone = {j: a for j, a, _b in config.segments}.get(bone_maps.ROOT_JOINT, root_bone)
        feet = [j for j in FOOT_JOINTS if j in mapping]
        tgt_hips = np.array(world @ bones[hip_bone].head_local)
        tgt_feet = [np.array(world @ bones[mapping[j]].head_local) for j in feet]
        src_height = retarget_math.hip_height(source_heads["pelvis"], [source_heads[j] for j in feet])
        tgt_height = retarget_math.hip_height(tgt_hips, tgt_feet)
        scale = tgt_height / src_height if src_height > 1e-6 and tgt_height > 1e-6 else 1.0
    source_ref = source_heads["pelvis"] if config.root_origin == "REST" else None
    return _RootMotion(root_bone, target_ref, scale, source_ref)


@dataclass
class SampledMotion:
    """The target's motion as sampled from the constraints, before it is written as keys.

    frames (F,) scene frames; bones: target bones in writing order; paths {bone: rotation
    data path in the bone's own rotation mode}; values {bone: (F, C) rotation channels};
    root_bone and root_location (F, 3): the root bone's local location, metres."""

    frames: np.ndarray
    bones: list
    paths: dict
    values: dict
    root_bone: str
    root_location: np.ndarray


def _sample_motion(scene, target, helper, mapping: dict, driven: list, root: _RootMotion,
                   config: BakeConfig) -> SampledMotion:
    """Evaluate every frame and read each driven bone back as local pose values (visual
    keying); the root bone's location follows the (scaled) source pelvis path."""
    frames = np.arange(config.frame_start, config.frame_end + 1)
    order = [mapping[j] for j in JOINT_NAMES if j in mapping]
    order += [b for b in driven if b not in order]
    pose = target.pose.bones
    values = {bone: [] for bone in order}
    order_bones = [(bone, pose[bone]) for bone in order]  # name lookups are linear in bpy
    helper_pelvis = helper.pose.bones[source_names(config)[bone_maps.ROOT_JOINT]]
    paths = {}
    root_locs = []
    to_target = target.matrix_world.inverted()
    source_ref = root.source_ref
    for frame in frames:
        scene.frame_set(int(frame))
        pelvis = np.array(helper.matrix_world @ helper_pelvis.head)
        if source_ref is None:
            source_ref = pelvis
        world_pos = retarget_math.root_path(pelvis, source_ref, root.target_ref, root.scale,
                                            config.in_place)[0]
        for bone, pb in order_bones:
            pose_matrix = pb.matrix.copy()
            if bone == root.bone:
                pose_matrix.translation = to_target @ Vector(world_pos)
            basis = target.convert_space(pose_bone=pb, matrix=pose_matrix,
                                         from_space="POSE", to_space="LOCAL")
            previous = values[bone][-1] if values[bone] else None
            paths[bone], vals = _key_values(pb, basis, previous)
            values[bone].append(vals)
            if bone == root.bone:
                root_locs.append(tuple(basis.to_translation()))
    arrays = {bone: np.array(rows, dtype=np.float64) for bone, rows in values.items()}
    return SampledMotion(frames, order, paths, arrays, root.bone, np.array(root_locs, dtype=np.float64))


def _write_motion(target, source, motion: SampledMotion, switches: list, config: BakeConfig):
    """Write the sampled motion as a new action on target (anim_shim); returns (action, keys)."""
    name = config.action_name or f"{target.name}|{_source_action_name(source)}"
    frames = motion.frames
    curves = []
    for bone in motion.bones:
        curves += _property_curves(f'pose.bones["{bone}"].{motion.paths[bone]}', bone, frames,
                                   motion.values[bone], config)
    curves += _property_curves(f'pose.bones["{motion.root_bone}"].location', motion.root_bone, frames,
                               motion.root_location, config)
    for bone, prop, _old, value in switches:  # one key: the action keeps the switch on
        curves.append(anim_shim.Curve(f'pose.bones["{bone}"]["{prop}"]', 0, bone, frames[:1],
                                      np.array([value], dtype=np.float64)))
    action = anim_shim.write_action(target, name, curves)
    return action, sum(len(c.frames) for c in curves)


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
