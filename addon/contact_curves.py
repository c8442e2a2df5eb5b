"""Foot-contact curves on an imported SMPL armature (Graph Editor, Dope Sheet, drivers).

Four animated custom properties on the armature object, one per contact joint of the result
contract's `contact (T,4)` (SMPL joints 7, 8, 10, 11), keyed at the character's frames:

    contact_left_ankle, contact_right_ankle, contact_left_foot, contact_right_foot

Values in [0, 1], > 0.5 where planted (docs/footlock.md). Optionally timeline markers at the
start of each planted range of a foot (ankle or foot joint planted): `<armature> L down` /
`R down`. Keys go through anim_shim, into the armature's existing motion action.
"""

from __future__ import annotations

import numpy as np

from . import anim_shim
from .core.skeleton import JOINT_NAMES

CONTACT_JOINTS = (7, 8, 10, 11)
PROPERTIES = tuple(f"contact_{JOINT_NAMES[j]}" for j in CONTACT_JOINTS)
GROUP = "Foot contact"


def planted_starts(contact: np.ndarray) -> dict:
    """{"L": frame indices, "R": ...} where a foot (ankle or foot joint > 0.5) becomes planted."""
    out = {}
    for side, cols in (("L", (0, 2)), ("R", (1, 3))):
        planted = (contact[:, list(cols)] > 0.5).any(axis=1)
        out[side] = np.nonzero(planted & ~np.concatenate([[False], planted[:-1]]))[0]
    return out


def add_contact_curves(arm_obj, contact, frames, scene=None) -> bool:
    """Key the four contact properties on `arm_obj` at scene `frames` (T,). `contact` (T,4) or
    None (a result without contacts: nothing is added, returns False). With `scene`, also add
    timeline markers where a foot is planted."""
    if contact is None:
        return False
    contact = np.clip(np.nan_to_num(np.asarray(contact, dtype=np.float64), nan=0.0), 0.0, 1.0)
    frames = np.asarray(frames, dtype=np.float64)
    if contact.shape != (len(frames), 4):
        return False
    for name in PROPERTIES:
        arm_obj[name] = 0.0
        arm_obj.id_properties_ui(name).update(min=0.0, max=1.0, soft_min=0.0, soft_max=1.0,
                                              description="foot contact probability, > 0.5 planted")
    curves = [anim_shim.Curve(f'["{name}"]', 0, GROUP, frames, contact[:, k])
              for k, name in enumerate(PROPERTIES)]
    anim_shim.add_curves(arm_obj, f"{arm_obj.name} motion", curves)
    if scene is not None:
        for side, starts in planted_starts(contact).items():
            for i in starts:
                scene.timeline_markers.new(f"{arm_obj.name} {side} down", frame=round(float(frames[i])))
    return True
