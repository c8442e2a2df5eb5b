"""Bone maps from the SMPL skeleton onto other rigs: presets, name-based guessing, JSON, checks.

Pure (stdlib only). A *mapping* is a plain dict `{smpl_joint_name: target_bone_name}`; joints
that are left out are simply not driven. Keys are `skeleton.JOINT_NAMES`.

Presets know several spellings of the same rig (Mixamo's `mixamorig:`/`mixamorig1:`/no prefix,
SMPL's lower-case add-on names and the Unity FBX `m_avg_`/`f_avg_` names), so
`resolve_preset(preset, bone_names)` picks the spelling the target actually uses.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .skeleton import JOINT_NAMES, PARENTS

FORMAT_NAME = "tcmr-bone-map"
FORMAT_VERSION = 1

# Joints a usable body mapping must drive: the root, the spine top and the four limbs.
REQUIRED_JOINTS = (
    "pelvis", "spine3", "head",
    "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle",
)
ROOT_JOINT = "pelvis"

# The child that continues each joint's segment (for rest-direction alignment); joints
# missing here are ends (head, feet, hands) and inherit their parent's alignment.
SEGMENT_CHILD = {
    "pelvis": "spine1", "spine1": "spine2", "spine2": "spine3", "spine3": "neck", "neck": "head",
    "left_collar": "left_shoulder", "right_collar": "right_shoulder",
    "left_shoulder": "left_elbow", "right_shoulder": "right_elbow",
    "left_elbow": "left_wrist", "right_elbow": "right_wrist",
    "left_wrist": "left_hand", "right_wrist": "right_hand",
    "left_hip": "left_knee", "right_hip": "right_knee",
    "left_knee": "left_ankle", "right_knee": "right_ankle",
    "left_ankle": "left_foot", "right_ankle": "right_foot",
}

# Side-less table: role -> name for `{side}` filled with the preset's side spelling.
_SIDES = ("left", "right")


@dataclass(frozen=True)
class Preset:
    """One rig family. `names` maps a joint to its bone name pattern(s): `{p}` is the detected
    prefix, `{S}` the side as the rig spells it. `optional` joints may be absent from a rig."""

    id: str
    label: str
    description: str
    names: dict
    optional: tuple = ()
    prefix_probe: str = ""  # bone name suffix that reveals the prefix (e.g. "Hips")
    # custom properties to set (pose bone name, property name, value) before baking
    switches: tuple = ()
    # (bone, joint): further bones that take the joint's world rotation (rigs where two
    # controls share one body part, like Rigify's torso/spine_fk or spine_fk.001/hips)
    extras: tuple = ()
    # (joint, from bone, to bone): the rest segment a joint's bones actually swing, when it
    # is not "this bone's head to the next mapped bone's head"
    segments: tuple = ()


def _sided(table: dict, left: str, right: str) -> dict:
    """Expand {'collar': 'Left{X}'...}-style templates: keys with `{side}` get both sides."""
    out = {}
    for joint, pattern in table.items():
        if "{side}" in joint:
            for side, spelled in (("left", left), ("right", right)):
                out[joint.replace("{side}", side)] = pattern.replace("{S}", spelled)
        else:
            out[joint] = pattern
    return out


_MIXAMO = _sided({
    "pelvis": "{p}Hips", "spine1": "{p}Spine", "spine2": "{p}Spine1", "spine3": "{p}Spine2",
    "neck": "{p}Neck", "head": "{p}Head",
    "{side}_collar": "{p}{S}Shoulder", "{side}_shoulder": "{p}{S}Arm",
    "{side}_elbow": "{p}{S}ForeArm", "{side}_wrist": "{p}{S}Hand",
    "{side}_hip": "{p}{S}UpLeg", "{side}_knee": "{p}{S}Leg", "{side}_ankle": "{p}{S}Foot",
    "{side}_foot": "{p}{S}ToeBase",
}, "Left", "Right")

_RIGIFY_METARIG = _sided({
    "pelvis": "spine", "spine1": "spine.001", "spine2": "spine.002", "spine3": "spine.003",
    "neck": "spine.004", "head": "spine.006",
    "{side}_collar": "shoulder.{S}", "{side}_shoulder": "upper_arm.{S}",
    "{side}_elbow": "forearm.{S}", "{side}_wrist": "hand.{S}",
    "{side}_hip": "thigh.{S}", "{side}_knee": "shin.{S}", "{side}_ankle": "foot.{S}",
    "{side}_foot": "toe.{S}",
}, "L", "R")

_RIGIFY = _sided({
    "pelvis": "torso", "spine1": "spine_fk.001", "spine2": "spine_fk.002", "spine3": "spine_fk.003",
    "neck": "neck", "head": "head",
    "{side}_collar": "shoulder.{S}", "{side}_shoulder": "upper_arm_fk.{S}",
    "{side}_elbow": "forearm_fk.{S}", "{side}_wrist": "hand_fk.{S}",
    "{side}_hip": "thigh_fk.{S}", "{side}_knee": "shin_fk.{S}", "{side}_ankle": "foot_fk.{S}",
    "{side}_foot": "toe_fk.{S}",
}, "L", "R")

_SMPL = {name: "{p}" + name for name in JOINT_NAMES}

_UNITY_NAMES = (
    "Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle",
    "Spine3", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder",
    "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand",
)
_SMPL_FBX = {joint: "{p}" + name for joint, name in zip(JOINT_NAMES, _UNITY_NAMES)}

# Rigify's spine pivots at spine.002: spine_fk.001 swings the lumbar segment *below* its own
# head and spine_fk the pelvis segment; the lower MCH bones copy `hips` at 50%, so `hips`
# must turn with spine_fk.001 for the lumbar to bend fully.
_RIGIFY_EXTRAS = (("spine_fk", "pelvis"), ("hips", "spine1"))
_RIGIFY_SEGMENTS = (("pelvis", "ORG-spine", "ORG-spine.001"), ("spine1", "ORG-spine.001", "ORG-spine.002"))

_RIGIFY_SWITCHES = tuple(
    (bone, "IK_FK", 1.0)
    for bone in ("upper_arm_parent.L", "upper_arm_parent.R", "thigh_parent.L", "thigh_parent.R")
)

PRESETS = {
    p.id: p
    for p in (
        Preset("MIXAMO", "Mixamo", "Mixamo rigs (mixamorig:Hips ...), T-pose", _MIXAMO,
               optional=("left_foot", "right_foot", "left_collar", "right_collar", "neck"),
               prefix_probe="Hips"),
        Preset("RIGIFY_METARIG", "Rigify metarig", "Rigify human metarig (spine, upper_arm.L ...)",
               _RIGIFY_METARIG, optional=("left_foot", "right_foot", "left_collar", "right_collar")),
        Preset("RIGIFY", "Rigify rig (FK)",
               "Generated Rigify rig: FK controls, arms and legs switched to FK (IK_FK = 1)",
               _RIGIFY, optional=("left_foot", "right_foot", "left_collar", "right_collar", "neck"),
               switches=_RIGIFY_SWITCHES, extras=_RIGIFY_EXTRAS, segments=_RIGIFY_SEGMENTS),
        Preset("SMPL", "SMPL / SMPL-X", "SMPL or SMPL-X add-on names (pelvis, left_hip ...)", _SMPL,
               optional=("left_hand", "right_hand", "left_foot", "right_foot", "left_collar",
                         "right_collar", "neck", "spine1", "spine2"),
               prefix_probe="pelvis"),
        Preset("SMPL_FBX", "SMPL (Unity FBX)", "SMPL Unity FBX names (m_avg_Pelvis ...)", _SMPL_FBX,
               optional=("left_hand", "right_hand", "left_foot", "right_foot"),
               prefix_probe="Pelvis"),
    )
}


# ---------------------------------------------------------------- source skeletons

# The bake reads a source armature by SMPL joint role; a source skeleton says which of its bones
# plays each role. SMPL armatures name their bones by the roles. The lifted H36M armature
# (tcmr.import_lifted, core/lifted_rig.py) has 17 bones: no collars, hands, toes or middle spine
# joint, so those roles stay undriven (the target's bones there follow their parents). Its
# `foot` bones sit on the ankles; `spine` (mid-back) drives spine1 and `thorax` (between the
# shoulders) the chest (spine3).
H36M_SOURCE = {
    "pelvis": "hip", "left_hip": "left_hip", "right_hip": "right_hip", "spine1": "spine",
    "left_knee": "left_knee", "right_knee": "right_knee", "left_ankle": "left_foot",
    "right_ankle": "right_foot", "spine3": "thorax", "neck": "neck_nose", "head": "head",
    "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder", "left_elbow": "left_elbow",
    "right_elbow": "right_elbow", "left_wrist": "left_wrist", "right_wrist": "right_wrist",
}
SOURCE_SKELETONS = {"SMPL": {j: j for j in JOINT_NAMES}, "H36M": H36M_SOURCE}


def detect_source(bone_names, declared: str = "") -> str:
    """The source skeleton of an armature: `declared` (its `tcmr_skeleton` property) when known,
    else H36M when it has every H36M bone and no SMPL pelvis, else SMPL."""
    if declared in SOURCE_SKELETONS:
        return declared
    names = set(bone_names)
    if "pelvis" not in names and set(H36M_SOURCE.values()) <= names:
        return "H36M"
    return "SMPL"


def restrict_to_source(mapping: dict, skeleton: str) -> dict:
    """The mapping limited to the roles the source skeleton has (the others cannot be driven)."""
    roles = SOURCE_SKELETONS[skeleton]
    return {j: b for j, b in mapping.items() if j in roles}


class MappingError(ValueError):
    """A mapping that cannot be used; the message names the joints/bones at fault."""


def _prefix(preset: Preset, bone_names) -> str:
    """The namespace prefix the rig uses ("mixamorig:", "m_avg_", ""), from the probe bone."""
    if not preset.prefix_probe:
        return ""
    candidates = sorted(
        (name[: -len(preset.prefix_probe)] for name in bone_names if name.endswith(preset.prefix_probe)),
        key=len,
    )
    return candidates[0] if candidates else ""


def resolve_preset(preset_id: str, bone_names) -> dict:
    """The mapping of a preset spelled as the target rig spells it.

    Optional joints whose bone is missing are dropped. Raises MappingError naming every
    missing required bone."""
    if preset_id not in PRESETS:
        raise MappingError(f"unknown preset {preset_id!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[preset_id]
    names = set(bone_names)
    prefix = _prefix(preset, names)
    mapping, missing = {}, []
    for joint in JOINT_NAMES:
        if joint not in preset.names:
            continue
        bone = preset.names[joint].replace("{p}", prefix)
        if bone in names:
            mapping[joint] = bone
        elif joint not in preset.optional:
            missing.append(bone)
    if missing:
        raise MappingError(
            f"the target rig has no bone named {', '.join(missing)} "
            f"(needed by the {preset.label} preset)"
        )
    return mapping


def detect_preset(bone_names) -> str | None:
    """The first preset whose required bones all exist in the rig, else None."""
    for preset_id in PRESETS:
        try:
            resolve_preset(preset_id, bone_names)
        except MappingError:
            continue
        return preset_id
    return None


# ---------------------------------------------------------------- name-based guessing

_SIDE_TOKENS = {"left": "left", "l": "left", "right": "right", "r": "right"}
# words that say what kind of bone it is, not which body part (3ds Max "Bip01", "DEF-", "_fk")
_NOISE_WORDS = {"bip", "def", "jnt", "joint", "bone", "ctrl", "ctl", "fk"}

# core word (letters only, side removed) -> role; checked in order, first hit wins
_SIDED_ROLES = (
    (("clavicle", "collar", "collarbone"), "collar"),
    (("upperarm", "uparm", "arm", "humerus"), "shoulder"),
    (("forearm", "lowerarm", "elbow"), "elbow"),
    (("hand", "wrist"), "wrist"),
    (("upleg", "upperleg", "thigh", "hip", "femur"), "hip"),
    (("leg", "lowerleg", "shin", "calf", "knee"), "knee"),
    (("foot", "ankle"), "ankle"),
    (("toebase", "toe", "toes", "ball"), "foot"),
)


def _split_name(name: str) -> tuple[str | None, str]:
    """(side or None, letters-only core word) of a bone name, namespace prefix removed.

    "mixamorig:LeftForeArm" -> ("left", "forearm"); "upperarm_l" -> ("left", "upperarm")."""
    base = name.rsplit(":", 1)[-1]
    lower = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", base).lower()  # LeftUpLeg -> left_up_leg
    side, words = None, []
    for token in re.split(r"[^a-z0-9]+", lower):
        if side is None and token in _SIDE_TOKENS:
            side = _SIDE_TOKENS[token]
        elif re.sub(r"[^a-z]", "", token) not in _NOISE_WORDS:
            words.append(token)
    return side, re.sub(r"[^a-z]", "", "".join(words))


def guess_mapping(bone_names, parents: dict | None = None) -> dict:
    """Best-effort mapping from bone names alone (generic rigs; the user checks it in the panel).

    bone_names: the target's bones in hierarchy order. parents: {bone: parent or None}, used
    to find the spine chain between the hips and the neck/head. Presets that fit win."""
    names = list(bone_names)
    preset_id = detect_preset(names)
    if preset_id is not None:
        return resolve_preset(preset_id, names)
    parents = parents or {}
    mapping: dict = {}
    sided: dict = {}
    for name in names:
        side, core = _split_name(name)
        if side is None:
            if core in ("hips", "pelvis", "hip") and "pelvis" not in mapping:
                mapping["pelvis"] = name
            elif core == "neck" and "neck" not in mapping:
                mapping["neck"] = name
            elif core == "head" and "head" not in mapping:
                mapping["head"] = name
            continue
        for words, role in _SIDED_ROLES:
            if core in words or (role == "collar" and core == "shoulder"):
                sided.setdefault((side, role), name)
                break
    # "shoulder" is the clavicle when the same side also has an arm bone, else the upper arm
    for side in _SIDES:
        collar = sided.get((side, "collar"))
        lone_shoulder = collar is not None and (side, "shoulder") not in sided
        if lone_shoulder and _split_name(collar)[1] == "shoulder":
            sided[(side, "shoulder")] = sided.pop((side, "collar"))
        for (s, role), bone in sided.items():
            if s == side:
                mapping[f"{side}_{role}"] = bone
    _guess_spine(mapping, names, parents)
    return mapping


def _guess_spine(mapping: dict, names, parents: dict) -> None:
    """Fill spine1..3 with the bones between the pelvis and the neck (or head) bone."""
    top = mapping.get("neck") or mapping.get("head")
    pelvis = mapping.get("pelvis")
    if top is None or pelvis is None:
        return
    chain = []
    bone = parents.get(top)
    while bone is not None and bone != pelvis:
        chain.append(bone)
        bone = parents.get(bone)
    if bone != pelvis:  # neck not below the pelvis: fall back to spine-named bones in order
        chain = [n for n in reversed(names) if "spine" in n.lower() or "chest" in n.lower()]
    chain.reverse()  # pelvis -> neck order
    if not chain:
        return
    if len(chain) >= 3:
        picks = [chain[0], chain[len(chain) // 2], chain[-1]] if len(chain) > 3 else chain
    else:
        picks = chain
    for joint, bone in zip(("spine1", "spine2", "spine3"), picks):
        mapping[joint] = bone
    if len(picks) < 3:  # spine3 is required: the last chain bone carries the chest
        mapping["spine3"] = picks[-1]
        if len(picks) == 2:
            mapping.pop("spine2", None)
        else:
            mapping.pop("spine1", None)


# ---------------------------------------------------------------- checks and JSON

def validate(mapping: dict, target_bones, source_bones=JOINT_NAMES) -> None:
    """Raise MappingError naming every problem: unknown joints, bones the target lacks,
    required joints left unmapped, one bone driven by two joints."""
    problems = []
    unknown = sorted(j for j in mapping if j not in JOINT_NAMES)
    if unknown:
        problems.append(f"not SMPL joints: {', '.join(unknown)}")
    used = {j: b for j, b in mapping.items() if b}
    target = set(target_bones)
    missing = [f"{b} (for {j})" for j, b in used.items() if b not in target]
    if missing:
        problems.append(f"the target rig has no bone named {', '.join(missing)}")
    source = set(source_bones)
    no_source = [j for j in used if j in JOINT_NAMES and j not in source]
    if no_source:
        problems.append(f"the source armature has no bone named {', '.join(no_source)}")
    unmapped = [j for j in REQUIRED_JOINTS if not used.get(j)]
    if unmapped:
        problems.append(f"no target bone chosen for {', '.join(unmapped)}")
    seen: dict = {}
    for joint, bone in used.items():
        seen.setdefault(bone, []).append(joint)
    twice = [f"{b} ({' and '.join(js)})" for b, js in seen.items() if len(js) > 1]
    if twice:
        problems.append(f"bones mapped more than once: {', '.join(twice)}")
    if problems:
        raise MappingError("; ".join(problems))


def mapped_parent(joint: str, mapping: dict) -> str | None:
    """The nearest SMPL ancestor of `joint` that is mapped (None for the root)."""
    index = PARENTS[JOINT_NAMES.index(joint)]
    while index >= 0:
        name = JOINT_NAMES[index]
        if mapping.get(name):
            return name
        index = PARENTS[index]
    return None


def to_json(mapping: dict, name: str = "") -> str:
    """Serialise a mapping (joints in skeleton order, empty entries dropped)."""
    ordered = {j: mapping[j] for j in JOINT_NAMES if mapping.get(j)}
    doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "name": name, "map": ordered}
    return json.dumps(doc, indent=2) + "\n"


def from_json(text: str) -> dict:
    """Parse a mapping saved by to_json; MappingError with the reason otherwise."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MappingError(f"not a bone-map JSON file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise MappingError(f"not a bone-map JSON file (expected \"format\": \"{FORMAT_NAME}\")")
    version = doc.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise MappingError(f"bone-map version {version!r} is newer than this add-on reads "
                           f"({FORMAT_VERSION}); update the add-on")
    raw = doc.get("map")
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise MappingError("bone-map \"map\" must be an object of joint name -> bone name strings")
    unknown = sorted(j for j in raw if j not in JOINT_NAMES)
    if unknown:
        raise MappingError(f"bone-map names unknown SMPL joints: {', '.join(unknown)}")
    return {j: raw[j] for j in JOINT_NAMES if raw.get(j)}
