"""Keep planted feet planted on the user's rig after a bake (bpy side; math in core/foot_pins).

The source armature's contact curves (contact_curves.py) say when a foot is planted. For each
mapped leg (hip, knee and ankle bones), the target is sampled over the baked frames, each
planted run's ankle is pinned (core.foot_pins), the thigh and shin are turned by two-bone IK
and the foot bone keeps its baked world orientation. The leg bones' rotation curves are then
rewritten with one key per frame (through anim_shim). Bones are assumed to inherit their
parent's rotation and scale (all common rigs); legs without contact curves are left alone.
"""

from __future__ import annotations

import numpy as np
from mathutils import Euler, Matrix

from . import anim_shim, contact_curves
from .core import foot_pins

SIDES = (("left", 0, 2), ("right", 1, 3))  # side, its ankle and foot contact columns


def source_contacts(source, frames: np.ndarray) -> np.ndarray | None:
    """(F,4) contact values of the source's contact curves at `frames`, or None without them."""
    curves = {fc.data_path: fc for fc in anim_shim.action_fcurves(source)}
    paths = [f'["{name}"]' for name in contact_curves.PROPERTIES]
    if not all(p in curves for p in paths):
        return None
    return np.array([[curves[p].evaluate(float(f)) for p in paths] for f in frames])


def _sample(context, target, bones: list, frames: np.ndarray) -> dict:
    """{bone: (F,4,4) world matrices of its pose bone} over `frames`."""
    scene = context.scene
    saved = (scene.frame_current, scene.frame_subframe)
    pose = target.pose.bones
    out = {b: np.zeros((len(frames), 4, 4)) for b in bones}
    try:
        for i, frame in enumerate(frames):
            scene.frame_set(int(frame))
            world = target.matrix_world
            for b in bones:
                out[b][i] = np.array(world @ pose[b].matrix)
    finally:
        scene.frame_set(saved[0], subframe=saved[1])
    return out


def _basis(target, bone: str, pose_m: np.ndarray, parent_pose: np.ndarray | None) -> np.ndarray:
    """Local (basis) matrices (F,4,4) giving pose-space matrices `pose_m` under `parent_pose`."""
    rest = np.array(target.data.bones[bone].matrix_local)
    parent = target.data.bones[bone].parent
    if parent is None or parent_pose is None:
        return np.linalg.inv(rest) @ pose_m
    offset = np.linalg.inv(np.array(parent.matrix_local)) @ rest
    return np.linalg.inv(offset) @ np.linalg.inv(parent_pose) @ pose_m


def _rotation_curves(pose_bone, basis: np.ndarray, frames: np.ndarray) -> list:
    mode = pose_bone.rotation_mode
    rows, previous = [], None
    for m in basis:
        quat = Matrix(m.tolist()).to_quaternion()
        if mode == "QUATERNION":
            if previous is not None and np.dot(previous, quat) < 0.0:
                quat.negate()
            values = tuple(quat)
        elif mode == "AXIS_ANGLE":
            axis, angle = quat.to_axis_angle()
            values = (angle, *axis)
        else:
            values = tuple(quat.to_euler(mode, Euler(previous, mode)) if previous else quat.to_euler(mode))
        rows.append(values)
        previous = values
    names = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}
    path = names.get(mode, "rotation_euler")
    data_path = f'pose.bones["{pose_bone.name}"].{path}'
    rows = np.array(rows)
    return [anim_shim.Curve(data_path, i, pose_bone.name, frames, rows[:, i]) for i in range(rows.shape[1])]


def _solve_leg(target, chain: tuple, mats: dict, planted: np.ndarray, blend: int):
    """New pose-space matrices {bone: (F,4,4)} of thigh, shin and foot; frames reached."""
    thigh, shin, foot, _parent = chain
    hip, knee, ankle = (mats[b][:, :3, 3] for b in (thigh, shin, foot))
    goal, weight = foot_pins.ankle_goals(ankle, planted, blend)
    front = -np.array(target.matrix_world)[:3, 1]  # rigs face -Y: knees bend towards it
    forward = np.tile(front / max(np.linalg.norm(front), 1e-9), (len(hip), 1))
    r1, r2, new_knee, new_ankle = foot_pins.two_bone(hip, knee, ankle, goal, forward)
    m1 = foot_pins.about(r1, hip)
    m2 = foot_pins.about(r2, new_knee) @ m1
    world = {thigh: m1 @ mats[thigh], shin: m2 @ mats[shin], foot: mats[foot].copy()}
    world[foot][:, :3, 3] = new_ankle  # the foot keeps its world orientation
    to_pose = np.linalg.inv(np.array(target.matrix_world))
    reached = np.linalg.norm(new_ankle - goal, axis=1) < 1e-4
    return {b: to_pose @ m for b, m in world.items()}, weight, reached


def keep_feet_planted(context, source, target, mapping: dict, frame_start: int, frame_end: int,
                      blend: int = 3) -> dict:
    """Run the pass on the baked target. Returns {"legs": n legs fixed, "frames": planted
    frames, "unreached": planted frames whose pin was out of the leg's reach, "reason": why
    nothing was done or ""}."""
    frames = np.arange(frame_start, frame_end + 1)
    contact = source_contacts(source, frames)
    if contact is None:
        return {"legs": 0, "frames": 0, "unreached": 0, "reason": "the source has no contact curves"}
    chains = []
    for side, ca, cf in SIDES:
        bones = [mapping.get(f"{side}_{j}") for j in ("hip", "knee", "ankle")]
        if all(bones):
            parent = target.data.bones[bones[0]].parent
            chains.append(((*bones, parent.name if parent else None), ca, cf))
    if not chains:
        return {"legs": 0, "frames": 0, "unreached": 0, "reason": "no mapped hip, knee and ankle bones"}
    sampled = sorted({b for chain, _a, _f in chains for b in chain if b})
    mats = _sample(context, target, sampled, frames)
    to_pose = np.linalg.inv(np.array(target.matrix_world))
    curves, paths, planted_frames, unreached = [], [], 0, 0
    for chain, ca, cf in chains:
        planted = (contact[:, ca] > 0.5) | (contact[:, cf] > 0.5)
        if not planted.any():
            continue
        new, _weight, reached = _solve_leg(target, chain, mats, planted, blend)
        planted_frames += int(planted.sum())
        unreached += int((planted & ~reached).sum())
        thigh, shin, foot, parent = chain
        parent_pose = to_pose @ mats[parent] if parent else None
        for bone, up in ((thigh, parent_pose), (shin, new[thigh]), (foot, new[shin])):
            pb = target.pose.bones[bone]
            made = _rotation_curves(pb, _basis(target, bone, new[bone], up), frames)
            curves += made
            paths.append(made[0].data_path)
    if curves:
        anim_shim.remove_curves(target, paths)
        anim_shim.add_curves(target, target.animation_data.action.name, curves)
        context.view_layer.update()
    return {"legs": len(paths) // 3, "frames": planted_frames, "unreached": unreached, "reason": ""}
