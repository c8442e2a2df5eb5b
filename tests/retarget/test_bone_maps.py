"""Pure tests of the bone maps: presets, guessing, validation, JSON."""

import pytest

from addon.core import bone_maps
from addon.core.bone_maps import MappingError
from addon.core.skeleton import JOINT_NAMES

MIXAMO_BASE = [
    "Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftHandIndex1",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase",
]


@pytest.mark.parametrize("prefix", ["mixamorig:", "mixamorig1:", ""])
def test_mixamo_preset_follows_the_rigs_prefix(prefix):
    mapping = bone_maps.resolve_preset("MIXAMO", [prefix + n for n in MIXAMO_BASE])
    assert mapping["pelvis"] == prefix + "Hips"
    # SMPL's left_shoulder is the upper arm; Mixamo's LeftShoulder is the clavicle
    assert mapping["left_shoulder"] == prefix + "LeftArm"
    assert mapping["left_collar"] == prefix + "LeftShoulder"
    assert mapping["right_knee"] == prefix + "RightLeg"
    assert mapping["spine3"] == prefix + "Spine2"
    assert len(mapping) == 22  # 24 joints minus the two SMPL hand ends


def test_preset_names_every_missing_required_bone_and_drops_missing_optional_ones():
    names = [n for n in MIXAMO_BASE if n not in ("LeftForeArm", "RightUpLeg", "LeftToeBase")]
    with pytest.raises(MappingError) as err:
        bone_maps.resolve_preset("MIXAMO", ["mixamorig:" + n for n in names])
    assert "mixamorig:LeftForeArm" in str(err.value)
    assert "mixamorig:RightUpLeg" in str(err.value)
    assert "LeftToeBase" not in str(err.value)
    names = [n for n in MIXAMO_BASE if n != "LeftToeBase"]
    mapping = bone_maps.resolve_preset("MIXAMO", names)
    assert "left_foot" not in mapping and mapping["right_foot"] == "RightToeBase"


def test_detect_preset_recognises_each_rig_family():
    metarig = ["spine", "spine.001", "spine.002", "spine.003", "spine.004", "spine.005", "spine.006",
               "pelvis.L", "breast.L"]
    for s in "LR":
        metarig += [f"{b}.{s}" for b in ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin",
                                        "foot", "toe")]
    rigify = ["root", "torso", "hips", "chest", "spine_fk", "spine_fk.001", "spine_fk.002", "spine_fk.003",
              "neck", "head"]
    for s in "LR":
        rigify += [f"{b}.{s}" for b in ("shoulder", "upper_arm_fk", "forearm_fk", "hand_fk", "thigh_fk",
                                        "shin_fk", "foot_fk", "toe_fk", "upper_arm_parent", "thigh_parent")]
    unity = ["m_avg_root"] + ["m_avg_" + n for n in (
        "Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3",
        "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
        "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand")]
    assert bone_maps.detect_preset(["mixamorig:" + n for n in MIXAMO_BASE]) == "MIXAMO"
    assert bone_maps.detect_preset(metarig) == "RIGIFY_METARIG"
    assert bone_maps.detect_preset(rigify) == "RIGIFY"
    assert bone_maps.detect_preset(["root", *JOINT_NAMES]) == "SMPL"
    assert bone_maps.detect_preset(unity) == "SMPL_FBX"
    assert bone_maps.resolve_preset("SMPL_FBX", unity)["left_shoulder"] == "m_avg_L_Shoulder"
    assert bone_maps.detect_preset(["Bone", "Bone.001"]) is None
    switches = bone_maps.PRESETS["RIGIFY"].switches
    assert ("upper_arm_parent.L", "IK_FK", 1.0) in switches and ("thigh_parent.R", "IK_FK", 1.0) in switches


def _chain_parents(pairs):
    return dict(pairs)


def test_guess_mapping_reads_unreal_style_names():
    names = ["root", "pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head"]
    parents = {"root": None, "pelvis": "root", "spine_01": "pelvis", "spine_02": "spine_01",
               "spine_03": "spine_02", "neck_01": "spine_03", "head": "neck_01"}
    for s in "lr":
        side = [f"clavicle_{s}", f"upperarm_{s}", f"lowerarm_{s}", f"hand_{s}", f"thigh_{s}", f"calf_{s}",
                f"foot_{s}", f"ball_{s}"]
        names += side
        parents.update({side[0]: "spine_03", side[1]: side[0], side[2]: side[1], side[3]: side[2],
                        side[4]: "pelvis", side[5]: side[4], side[6]: side[5], side[7]: side[6]})
    mapping = bone_maps.guess_mapping(names, parents)
    assert mapping == {
        "pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_02", "spine3": "spine_03",
        "neck": "neck_01", "head": "head",
        "left_collar": "clavicle_l", "left_shoulder": "upperarm_l", "left_elbow": "lowerarm_l",
        "left_wrist": "hand_l", "left_hip": "thigh_l", "left_knee": "calf_l", "left_ankle": "foot_l",
        "left_foot": "ball_l",
        "right_collar": "clavicle_r", "right_shoulder": "upperarm_r", "right_elbow": "lowerarm_r",
        "right_wrist": "hand_r", "right_hip": "thigh_r", "right_knee": "calf_r", "right_ankle": "foot_r",
        "right_foot": "ball_r",
    }


def test_guess_mapping_reads_humanoid_style_names_with_a_shoulder_clavicle():
    names = ["Hips", "Spine", "Chest", "UpperChest", "Neck", "Head"]
    parents = {"Hips": None, "Spine": "Hips", "Chest": "Spine", "UpperChest": "Chest",
               "Neck": "UpperChest", "Head": "Neck"}
    for s in "LR":
        side = [f"Shoulder.{s}", f"UpperArm.{s}", f"LowerArm.{s}", f"Hand.{s}", f"UpperLeg.{s}",
                f"LowerLeg.{s}", f"Foot.{s}", f"Toes.{s}"]
        names += side
        parents.update({side[0]: "UpperChest", side[1]: side[0], side[2]: side[1], side[3]: side[2],
                        side[4]: "Hips", side[5]: side[4], side[6]: side[5], side[7]: side[6]})
    mapping = bone_maps.guess_mapping(names, parents)
    assert mapping["left_collar"] == "Shoulder.L"
    assert mapping["left_shoulder"] == "UpperArm.L"
    assert mapping["right_knee"] == "LowerLeg.R"
    assert mapping["right_foot"] == "Toes.R"
    assert (mapping["spine1"], mapping["spine2"], mapping["spine3"]) == ("Spine", "Chest", "UpperChest")
    bone_maps.validate(mapping, names)


def test_guess_mapping_treats_a_lone_shoulder_as_the_upper_arm():
    names = ["Hips", "Chest", "Neck", "Head", "LeftShoulder", "LeftElbow", "LeftWrist"]
    parents = {"Hips": None, "Chest": "Hips", "Neck": "Chest", "Head": "Neck", "LeftShoulder": "Chest",
               "LeftElbow": "LeftShoulder", "LeftWrist": "LeftElbow"}
    mapping = bone_maps.guess_mapping(names, parents)
    assert mapping["left_shoulder"] == "LeftShoulder"
    assert "left_collar" not in mapping
    assert mapping["spine3"] == "Chest"


def test_validate_names_each_problem():
    mapping = bone_maps.resolve_preset("MIXAMO", MIXAMO_BASE)
    bone_maps.validate(mapping, MIXAMO_BASE)
    broken = dict(mapping, left_elbow="ForeArmL", right_knee="", bogus="X")
    broken["right_ankle"] = broken["left_ankle"]
    with pytest.raises(MappingError) as err:
        bone_maps.validate(broken, MIXAMO_BASE)
    text = str(err.value)
    assert "ForeArmL (for left_elbow)" in text
    assert "right_knee" in text  # required but left empty
    assert "bogus" in text
    assert "LeftFoot (left_ankle and right_ankle)" in text


def test_json_round_trip_and_refusals():
    mapping = bone_maps.resolve_preset("MIXAMO", MIXAMO_BASE)
    text = bone_maps.to_json(mapping, "my rig")
    assert bone_maps.from_json(text) == mapping
    assert '"format": "tcmr-bone-map"' in text
    with pytest.raises(MappingError, match="newer"):
        bone_maps.from_json('{"format": "tcmr-bone-map", "version": 99, "map": {}}')
    with pytest.raises(MappingError, match="not a bone-map"):
        bone_maps.from_json('{"map": {}}')
    with pytest.raises(MappingError, match="not a bone-map"):
        bone_maps.from_json("{oops")
    with pytest.raises(MappingError, match="left_elbw"):
        bone_maps.from_json('{"format": "tcmr-bone-map", "version": 1, "map": {"left_elbw": "A"}}')


def test_mapped_parent_skips_unmapped_joints():
    mapping = {"pelvis": "Hips", "spine3": "Chest", "head": "Head"}
    assert bone_maps.mapped_parent("head", mapping) == "spine3"
    assert bone_maps.mapped_parent("spine3", mapping) == "pelvis"
    assert bone_maps.mapped_parent("pelvis", mapping) is None


def test_guess_mapping_reads_3ds_max_biped_names():
    parents = {"Bip01": None, "Bip01 Pelvis": "Bip01", "Bip01 Spine": "Bip01 Pelvis",
               "Bip01 Spine1": "Bip01 Spine", "Bip01 Spine2": "Bip01 Spine1", "Bip01 Neck": "Bip01 Spine2",
               "Bip01 Head": "Bip01 Neck"}
    for s in "LR":
        chain = [f"Bip01 {s} {n}" for n in ("Clavicle", "UpperArm", "Forearm", "Hand")]
        legs = [f"Bip01 {s} {n}" for n in ("Thigh", "Calf", "Foot", "Toe0")]
        parents.update({chain[0]: "Bip01 Neck", chain[1]: chain[0], chain[2]: chain[1], chain[3]: chain[2],
                        legs[0]: "Bip01 Pelvis", legs[1]: legs[0], legs[2]: legs[1], legs[3]: legs[2]})
    mapping = bone_maps.guess_mapping(list(parents), parents)
    assert mapping["pelvis"] == "Bip01 Pelvis"
    assert (mapping["spine1"], mapping["spine3"]) == ("Bip01 Spine", "Bip01 Spine2")
    assert mapping["left_shoulder"] == "Bip01 L UpperArm"
    assert mapping["right_collar"] == "Bip01 R Clavicle"
    assert mapping["right_knee"] == "Bip01 R Calf"
    assert mapping["left_foot"] == "Bip01 L Toe0"
    bone_maps.validate(mapping, list(parents))


def test_source_skeletons_h36m_is_recognised_and_limits_the_mapping():
    from addon.core.lifted_rig import NAMES

    assert bone_maps.detect_source(NAMES) == "H36M"
    assert bone_maps.detect_source(JOINT_NAMES) == "SMPL"
    assert bone_maps.detect_source(JOINT_NAMES, declared="H36M") == "H36M"  # the armature's own tag wins
    assert set(bone_maps.H36M_SOURCE.values()) == set(NAMES)  # every lifted bone plays one role
    mixamo = bone_maps.resolve_preset("MIXAMO", [f"mixamorig:{b}" for b in MIXAMO_BASE])
    limited = bone_maps.restrict_to_source(mixamo, "H36M")
    assert "left_collar" not in limited and "spine2" not in limited and "left_foot" not in limited
    assert limited["left_ankle"] == "mixamorig:LeftFoot" and limited["spine1"] == "mixamorig:Spine"
    bone_maps.validate(limited, mixamo.values(), [j for j in bone_maps.H36M_SOURCE])  # a usable body map
