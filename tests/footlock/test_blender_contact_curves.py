"""Contact curves on imported armatures (bpy): four animated custom properties per character,
keyed into the character's own motion action, visible as F-curves (Graph Editor)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from addon.core.result_io import Track


@dataclass(frozen=True)
class TrackWithContact(Track):
    contact: np.ndarray | None = None


def _track(track_id, rng, frames, with_contact=True):
    t = len(frames)
    contact = rng.uniform(0.0, 1.0, size=(t, 4)) if with_contact else None
    return TrackWithContact(id=track_id, frame_index=np.asarray(frames, dtype=np.int64),
                            global_orient=rng.normal(0, 0.2, (t, 3)),
                            body_pose=rng.normal(0, 0.2, (t, 23, 3)), betas=rng.normal(0, 0.5, 10),
                            transl=rng.normal(0, 0.5, (t, 3)) + np.array([0.0, 0.0, 4.0]),
                            joints_rest=None, contact=contact)


def test_every_foot_of_every_character_gets_a_contact_curve(bpy_module, model_data_dir):
    bpy = bpy_module
    from addon import anim_shim, contact_curves
    from addon.character import CharacterOptions, build_character
    from addon.core.smpl_model import load_smpl_model

    model = load_smpl_model(model_data_dir / "SMPL_NEUTRAL.pkl")
    rng = np.random.default_rng(3)
    coll = bpy.context.scene.collection
    tracks = [_track(1, rng, np.arange(0, 12)), _track(2, rng, np.array([3, 4, 5, 8, 9]))]
    options = CharacterOptions(pose_correctives=False)
    arms = [build_character(bpy.context, model, tr, coll, f"T{tr.id}", options) for tr in tracks]
    assert contact_curves.PROPERTIES == ("contact_left_ankle", "contact_right_ankle", "contact_left_foot",
                                         "contact_right_foot")
    for arm, tr in zip(arms, tracks):
        curves = {fc.data_path: fc for fc in anim_shim.action_fcurves(arm)}
        assert 'pose.bones["pelvis"].rotation_quaternion' in curves  # the motion is still there
        for k, name in enumerate(contact_curves.PROPERTIES):
            fc = curves[f'["{name}"]']
            assert fc.group.name == contact_curves.GROUP
            frames = tr.frame_index + 1  # video frame i is scene frame i + 1
            got = np.array([fc.evaluate(float(f)) for f in frames])
            assert np.abs(got - tr.contact[:, k]).max() < 1e-6
            bpy.context.scene.frame_set(int(frames[2]))
            assert abs(arm[name] - tr.contact[2, k]) < 1e-6  # the property is animated
            assert arm.id_properties_ui(name).as_dict()["max"] == 1.0


def test_no_contact_no_curves_and_markers_on_request(bpy_module, model_data_dir):
    bpy = bpy_module
    from addon import anim_shim, contact_curves
    from addon.character import CharacterOptions, build_character
    from addon.core.smpl_model import load_smpl_model

    model = load_smpl_model(model_data_dir / "SMPL_NEUTRAL.pkl")
    rng = np.random.default_rng(4)
    plain = build_character(bpy.context, model, _track(5, rng, np.arange(6), with_contact=False),
                            bpy.context.scene.collection, "plain", CharacterOptions(pose_correctives=False))
    assert not any(fc.data_path.startswith('["contact') for fc in anim_shim.action_fcurves(plain))
    contact = np.zeros((10, 4))
    contact[2:6, 0] = 0.9  # left ankle planted from frame 2
    contact[7:, 3] = 0.8  # right foot from frame 7
    assert contact_curves.add_contact_curves(plain, contact, np.arange(10) + 1.0, scene=bpy.context.scene)
    marks = sorted((m.frame, m.name) for m in bpy.context.scene.timeline_markers)
    assert marks == [(3, "plain L down"), (8, "plain R down")]
