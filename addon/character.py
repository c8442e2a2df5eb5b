"""Builds one animated, skinned SMPL character (armature + mesh + shape keys) in the scene.

Conventions (see core/rig_math.py for the math and why):
* the armature object and the mesh object sit at the world origin with identity transforms;
* 24 bones named by core.skeleton.JOINT_NAMES, head on the shaped rest joint at (x, -z, y),
  tail +Z (BONE_LENGTH), roll 0, quaternion rotation mode: a bone's local axes are SMPL's;
* the mesh (child of the armature) carries SMPL's skinning weights as vertex groups, an
  Armature modifier (linear blend skinning, no preserve volume) and shape keys:
  `Basis` (v_template), `Shape000..009` (shape blend shapes, set to the track's betas),
  `Pose000..206` (pose correctives, keyed per frame with (R - I) weights) when enabled;
* keys sit at scene frame = video frame + FRAME_OFFSET (rig_math.Timing: retimed only when
  Blender decodes the video at another rate than the backend did).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import bpy
import numpy as np

from . import anim_shim, contact_curves, track_props
from .core import rig_math
from .core.result_io import Track
from .core.skeleton import JOINT_NAMES, PARENTS
from .core.smpl_model import NUM_POSE_BASIS, SmplModel

BONE_LENGTH = 0.1  # metres, along +Z for every bone
BETA_SLIDER = (-10.0, 10.0)  # Blender's widest slider range; the [0, 1] default clamps betas
CORRECTIVE_SLIDER = (-2.0, 2.0)  # (R - I) entries lie in [-2, 1]


@dataclass(frozen=True)
class CharacterOptions:
    pose_correctives: bool = True  # key the 207 pose-corrective shape keys per frame


def shape_key_name(kind: str, index: int) -> str:
    """`Shape000..009` for betas, `Pose000..206` for pose correctives (the MPI add-on's names)."""
    return f"{kind}{index:03d}"


def with_window(context):
    """Edit mode needs a window in the context; timer callbacks (the add-on's job polling) have
    none, so borrow the first one, keeping this scene and view layer."""
    if context.window is not None or not context.window_manager.windows:
        return contextlib.nullcontext()
    return context.temp_override(window=context.window_manager.windows[0], scene=context.scene,
                                 view_layer=context.view_layer)


def _make_armature(name: str, joints_blender: np.ndarray, collection, context):
    """Armature object with 24 bones at `joints_blender` (24,3), tails +Z, roll 0."""
    arm_data = bpy.data.armatures.new(name)
    arm_data.display_type = "STICK"
    arm_obj = bpy.data.objects.new(name, arm_data)
    collection.objects.link(arm_obj)
    arm_obj.show_in_front = True

    view_layer = context.view_layer
    previous_active = view_layer.objects.active
    view_layer.objects.active = arm_obj
    with with_window(context):
        _edit_bones(arm_data, joints_blender)
    view_layer.objects.active = previous_active
    for pb in arm_obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    return arm_obj


def _edit_bones(arm_data, joints_blender: np.ndarray) -> None:
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        bones = []
        for j, joint in enumerate(JOINT_NAMES):
            eb = arm_data.edit_bones.new(joint)
            head = joints_blender[j]
            eb.head = head
            eb.tail = (head[0], head[1], head[2] + BONE_LENGTH)
            eb.roll = 0.0
            eb.use_deform = True
            if PARENTS[j] >= 0:
                eb.parent = bones[PARENTS[j]]
                eb.use_connect = False
            bones.append(eb)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")


def _make_mesh(name: str, model: SmplModel, collection, arm_obj):
    """Mesh object (child of arm_obj) with the SMPL template, skin weights and modifier."""
    mesh = bpy.data.meshes.new(name)
    verts = rig_math.smpl_to_blender(model.v_template)  # (V,3)
    mesh.from_pydata(verts.tolist(), [], model.faces.tolist())
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    obj.parent = arm_obj

    weights = model.weights  # (V,24)
    for j, joint in enumerate(JOINT_NAMES):
        group = obj.vertex_groups.new(name=joint)
        nonzero = np.nonzero(weights[:, j] > 0.0)[0]
        for v in nonzero.tolist():
            group.add([v], float(weights[v, j]), "REPLACE")
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = arm_obj
    mod.use_vertex_groups = True
    mod.use_bone_envelopes = False
    mod.use_deform_preserve_volume = False  # SMPL and game engines use linear blend skinning
    return obj


def _add_shape_keys(obj, model: SmplModel, betas: np.ndarray, pose_correctives: bool) -> None:
    basis = rig_math.smpl_to_blender(model.v_template)  # (V,3)
    obj.shape_key_add(name="Basis", from_mix=False)
    for i in range(model.shapedirs.shape[2]):
        kb = obj.shape_key_add(name=shape_key_name("Shape", i), from_mix=False)
        co = basis + rig_math.smpl_to_blender(model.shapedirs[:, :, i])
        kb.data.foreach_set("co", co.astype(np.float32).ravel())
        kb.slider_min, kb.slider_max = BETA_SLIDER
        kb.value = float(np.clip(betas[i], *BETA_SLIDER))
    if pose_correctives:
        for k in range(NUM_POSE_BASIS):
            kb = obj.shape_key_add(name=shape_key_name("Pose", k), from_mix=False)
            co = basis + rig_math.smpl_to_blender(model.posedirs[:, :, k])
            kb.data.foreach_set("co", co.astype(np.float32).ravel())
            kb.slider_min, kb.slider_max = CORRECTIVE_SLIDER
            kb.value = 0.0
    obj.data.shape_keys.use_relative = True


def _pose_curves(track: Track, j0: np.ndarray, frames: np.ndarray) -> list[anim_shim.Curve]:
    """Bone rotation curves (24 x 4) and the pelvis location curves (3): the world motion when the
    result was grounded, else the camera-frame motion turned to the scene (Z up)."""
    if track.world_global_orient is not None:
        root_q, root_loc = rig_math.world_root_transform(track.world_global_orient, track.world_transl, j0)
        body_q = rig_math.axis_angle_to_quat(track.world_body_pose)  # (T,23,4)
    else:
        root_q, root_loc = rig_math.root_transform(track.global_orient, track.transl, j0)  # (T,4), (T,3)
        body_q = rig_math.axis_angle_to_quat(track.body_pose)  # (T,23,4)
    quats = np.concatenate([root_q[:, None], body_q], axis=1)  # (T,24,4)
    quats = rig_math.quat_continuity(quats)
    curves = []
    for j, joint in enumerate(JOINT_NAMES):
        path = f'pose.bones["{joint}"].rotation_quaternion'
        curves += [anim_shim.Curve(path, c, joint, frames, quats[:, j, c]) for c in range(4)]
    path = f'pose.bones["{JOINT_NAMES[0]}"].location'
    curves += [anim_shim.Curve(path, c, JOINT_NAMES[0], frames, root_loc[:, c]) for c in range(3)]
    return curves


def _corrective_curves(track: Track, frames: np.ndarray) -> list[anim_shim.Curve]:
    pose = track.world_body_pose if track.world_body_pose is not None else track.body_pose
    weights = rig_math.pose_corrective_weights(pose)  # (T,207)
    return [anim_shim.Curve(f'key_blocks["{shape_key_name("Pose", k)}"].value', 0, "Pose correctives",
                            frames, weights[:, k]) for k in range(NUM_POSE_BASIS)]


def build_character(context, model: SmplModel, track: Track, collection, name: str,
                    options: CharacterOptions, timing: rig_math.Timing | None = None) -> bpy.types.Object:
    """Armature + skinned mesh for one track, animated at the track's frames. Returns the
    armature object (named `name`, or `name.001` if taken); the mesh is `<name> body`."""
    betas = track.betas
    joints = model.rest_joints(betas)  # (24,3) SMPL canonical
    arm_obj = _make_armature(name, rig_math.smpl_to_blender(joints), collection, context)
    mesh_obj = _make_mesh(f"{arm_obj.name} body", model, collection, arm_obj)
    _add_shape_keys(mesh_obj, model, betas, options.pose_correctives)

    timing = timing or rig_math.Timing(scene_fps=0.0)
    frames = timing.scene_frames(track.frame_index)  # (T,)
    anim_shim.write_action(arm_obj, f"{arm_obj.name} motion", _pose_curves(track, joints[0], frames)
                           + track_props.confidence_curves(arm_obj, track, frames))
    contact_curves.add_contact_curves(arm_obj, track.contact, frames)
    if options.pose_correctives:
        anim_shim.write_action(mesh_obj.data.shape_keys, f"{arm_obj.name} correctives",
                               _corrective_curves(track, frames))
    arm_obj["tcmr_track_id"] = int(track.id)
    arm_obj["tcmr_betas"] = [float(b) for b in betas]
    return arm_obj
