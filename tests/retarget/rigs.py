"""Rigs for the bake tests, built from scratch in the current bpy session.

`build_smpl_source` makes an armature shaped like the imported SMPL character (24 bones named
by JOINT_NAMES at SMPL rest joints, tails +Z 0.1 m, roll 0, quaternions, a keyed action).
`build_rig` makes a target rig whose bones lie along the limbs with arbitrary rolls, in T- or
A-pose, with any naming (Mixamo, Rigify, UE-like).
"""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Quaternion, Vector

from addon.core.bone_maps import SEGMENT_CHILD
from addon.core.skeleton import JOINT_NAMES, PARENTS

# Approximate rest joints of a neutral SMPL body, SMPL canonical frame (Y up, Z forward), m.
SMPL_REST = np.array([
    [-0.0018, -0.2233, 0.0282], [0.0695, -0.3139, 0.0239], [-0.0677, -0.3144, 0.0234],
    [-0.0025, -0.1089, 0.0015], [0.1040, -0.6941, 0.0287], [-0.1056, -0.6984, 0.0192],
    [0.0055, 0.0246, 0.0291], [0.0884, -1.0890, -0.0132], [-0.0925, -1.0873, -0.0146],
    [0.0016, 0.0777, 0.0273], [0.1193, -1.1435, 0.1222], [-0.1170, -1.1433, 0.1233],
    [-0.0021, 0.2915, -0.0132], [0.0771, 0.1960, -0.0031], [-0.0811, 0.1952, -0.0065],
    [0.0049, 0.3767, 0.0406], [0.1737, 0.2297, -0.0152], [-0.1753, 0.2254, -0.0210],
    [0.4332, 0.2160, -0.0378], [-0.4289, 0.2138, -0.0414], [0.6862, 0.2237, -0.0434],
    [-0.6869, 0.2228, -0.0482], [0.7712, 0.2114, -0.0551], [-0.7748, 0.2130, -0.0553],
])


def smpl_joints_blender() -> np.ndarray:
    """(24,3) rest joints in Blender coordinates (x, -z, y): standing along +Z, facing -Y."""
    j = SMPL_REST
    return np.stack([j[:, 0], -j[:, 2], j[:, 1]], axis=1)


def _link(name, data):
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    return obj


def build_smpl_source(name="SMPL", key_frames=(1, 6, 12), seed=0, location=(0.3, 4.0, 0.0), linear=False):
    """The source character: rest = SMPL T-pose, keyed quaternions on every joint and a pelvis
    location path (Bezier keys, or linear ones). Returns the armature object."""
    obj = _link(name, bpy.data.armatures.new(name))
    obj.location = location
    joints = smpl_joints_blender()
    bpy.ops.object.mode_set(mode="EDIT")
    bones = obj.data.edit_bones
    for i, joint in enumerate(JOINT_NAMES):
        eb = bones.new(joint)
        eb.head = Vector(joints[i])
        eb.tail = Vector(joints[i]) + Vector((0.0, 0.0, 0.1))
        eb.roll = 0.0
        if PARENTS[i] >= 0:
            eb.parent = bones[JOINT_NAMES[PARENTS[i]]]
    bpy.ops.object.mode_set(mode="OBJECT")
    rng = np.random.default_rng(seed)
    limits = {"pelvis": 0.8, "spine1": 0.3, "spine2": 0.3, "spine3": 0.3, "neck": 0.4, "head": 0.4}
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    for k, frame in enumerate(key_frames):
        for pb in obj.pose.bones:
            axis = rng.normal(size=3)
            angle = limits.get(pb.name, 1.0) * rng.uniform(0.3, 1.0)
            pb.rotation_quaternion = Quaternion(Vector(axis).normalized(), angle)
            pb.keyframe_insert("rotation_quaternion", frame=frame)
        pelvis = obj.pose.bones["pelvis"]
        # bone-local axes of the SMPL pelvis: X = world X, Y = world Z, Z = world -Y
        pelvis.location = (0.6 * k, 0.05 * k, -0.4 * k)
        pelvis.keyframe_insert("location", frame=frame)
    if linear:
        from addon.anim_shim import action_fcurves

        for fc in action_fcurves(obj):
            for key in fc.keyframe_points:
                key.interpolation = "LINEAR"
    return obj


def _rotate_about(points, pivot, axis, angle):
    q = Quaternion(Vector(axis), angle)
    return [pivot + q @ (Vector(p) - pivot) for p in points]


def rig_joints(scale=1.0, arm_drop_deg=0.0) -> np.ndarray:
    """(24,3) joints of a target body: SMPL proportions times `scale`, feet on z=0, arms
    lowered by arm_drop_deg about the forward axis (A-pose)."""
    joints = smpl_joints_blender() * scale
    joints[:, 2] -= joints[:, 2].min()
    if arm_drop_deg:
        for side, sign in (("left", 1.0), ("right", -1.0)):
            chain = [JOINT_NAMES.index(f"{side}_{n}") for n in ("shoulder", "elbow", "wrist", "hand")]
            pivot = Vector(joints[chain[0]])
            moved = _rotate_about([joints[i] for i in chain], pivot, (0.0, sign, 0.0),
                                  math.radians(arm_drop_deg))
            for i, p in zip(chain, moved):
                joints[i] = np.array(p)
    return joints


def build_rig(name, names: dict, joints, seed=1, extra=(), location=(0.0, 0.0, 0.0), scale=1.0,
              parent_of_root=None):
    """A target armature: bone names[joint] at joints[joint], pointing at the segment child
    (ends continue their parent's direction), random rolls. extra: (bone, parent bone, head,
    tail) for unmapped bones. parent_of_root: name of an extra bone at the floor that parents
    the hips (like a rig's root bone)."""
    obj = _link(name, bpy.data.armatures.new(name))
    bpy.ops.object.mode_set(mode="EDIT")
    bones = obj.data.edit_bones
    rng = np.random.default_rng(seed)
    index = {j: i for i, j in enumerate(JOINT_NAMES)}
    if parent_of_root:
        root = bones.new(parent_of_root)
        root.head = (0.0, 0.0, 0.0)
        root.tail = (0.0, 0.3, 0.0)
    for joint in JOINT_NAMES:
        if joint not in names:
            continue
        eb = bones.new(names[joint])
        head = Vector(joints[index[joint]])
        child = SEGMENT_CHILD.get(joint)
        while child is not None and child not in names and child in SEGMENT_CHILD:
            child = SEGMENT_CHILD[child]
        if child is not None:
            direction = Vector(joints[index[child]]) - head
        else:  # chain end: continue the parent's segment
            parent = JOINT_NAMES[PARENTS[index[joint]]]
            direction = head - Vector(joints[index[parent]])
            if joint == "head":
                direction = Vector((0.0, 0.0, 1.0))
            elif joint.endswith("_foot"):
                direction = Vector((0.0, -1.0, 0.0))
        eb.head = head
        eb.tail = head + direction.normalized() * max(direction.length, 0.05)
        eb.roll = float(rng.uniform(-math.pi, math.pi))
        p = PARENTS[index[joint]]
        while p >= 0 and JOINT_NAMES[p] not in names:
            p = PARENTS[p]
        if p >= 0:
            eb.parent = bones[names[JOINT_NAMES[p]]]
        elif parent_of_root:
            eb.parent = bones[parent_of_root]
    for bone, parent, head, tail in extra:
        eb = bones.new(bone)
        eb.head = head
        eb.tail = tail
        if parent:
            eb.parent = bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.location = location
    obj.scale = (scale, scale, scale)
    bpy.context.view_layer.update()  # matrix_world
    return obj


MIXAMO_NAMES = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
    "head": "Head", "left_collar": "LeftShoulder", "left_shoulder": "LeftArm",
    "left_elbow": "LeftForeArm", "left_wrist": "LeftHand", "left_hip": "LeftUpLeg",
    "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
}
MIXAMO_NAMES.update({k.replace("left", "right"): v.replace("Left", "Right")
                     for k, v in list(MIXAMO_NAMES.items()) if k.startswith("left")})

UE_NAMES = {
    "pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_02", "spine3": "spine_03",
    "neck": "neck_01", "head": "head", "left_collar": "clavicle_l", "left_shoulder": "upperarm_l",
    "left_elbow": "lowerarm_l", "left_wrist": "hand_l", "left_hip": "thigh_l", "left_knee": "calf_l",
    "left_ankle": "foot_l", "left_foot": "ball_l",
}
UE_NAMES.update({k.replace("left", "right"): v[:-1] + "r"
                 for k, v in list(UE_NAMES.items()) if k.startswith("left")})

RIGIFY_FK_NAMES = {
    "pelvis": "torso", "spine1": "spine_fk.001", "spine2": "spine_fk.002", "spine3": "spine_fk.003",
    "neck": "neck", "head": "head", "left_collar": "shoulder.L", "left_shoulder": "upper_arm_fk.L",
    "left_elbow": "forearm_fk.L", "left_wrist": "hand_fk.L", "left_hip": "thigh_fk.L",
    "left_knee": "shin_fk.L", "left_ankle": "foot_fk.L", "left_foot": "toe_fk.L",
}
RIGIFY_FK_NAMES.update({k.replace("left", "right"): v[:-1] + "R"
                        for k, v in list(RIGIFY_FK_NAMES.items()) if k.startswith("left")})


def prefixed(names: dict, prefix: str) -> dict:
    return {j: prefix + b for j, b in names.items()}
