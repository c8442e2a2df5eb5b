"""The one place that writes animation, across Blender 4.2 to 5.0 (docs/blender_facts.md).

* 4.2/4.3: legacy `Action.fcurves.new(data_path, index=, action_group=)`.
* 4.4+ (incl. 5.0, where `Action.fcurves` no longer exists): slotted actions. One slot per
  animated ID, one layer with one keyframe strip, and the slot's channelbag holds the F-curves.
  The slot is assigned to the ID explicitly (`animation_data.action_slot`): relying on the
  automatic match by name silently animates nothing after a rename ("Action slots").

Keys are written in bulk (`keyframe_points.add` + `foreach_set`) with LINEAR interpolation
("Writing keys in bulk"): thousands of frames take milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import bpy
import numpy as np

SLOTTED_ACTIONS = bpy.app.version >= (4, 4, 0)


@dataclass(frozen=True)
class Curve:
    """One F-curve's keys: frames (F,) and values (F,), on `data_path[index]`, in `group`."""

    data_path: str
    index: int
    group: str
    frames: np.ndarray
    values: np.ndarray


def _linear_enum() -> int:
    return bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


def _id_type(id_data) -> str:
    return "KEY" if isinstance(id_data, bpy.types.Key) else "OBJECT"


def _fcurve_container(action, id_data):
    """Assign `action` to `id_data` and return (collection with .new for F-curves, groups)."""
    anim = id_data.animation_data or id_data.animation_data_create()
    if not SLOTTED_ACTIONS:
        anim.action = action
        return action.fcurves, action.groups
    slot = action.slots.new(id_type=_id_type(id_data), name=id_data.name)
    anim.action = action
    anim.action_slot = slot
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    channelbag = strip.channelbag(slot, ensure=True)
    return channelbag.fcurves, channelbag.groups


def write_action(id_data, action_name: str, curves: Iterable[Curve]):
    """Create a new action named `action_name` (uniquified by Blender), assign it to `id_data`
    (an Object or a shape-key Key) and fill it with `curves`. Returns the action."""
    action = bpy.data.actions.new(action_name)
    fcurves, groups = _fcurve_container(action, id_data)
    _fill(fcurves, groups, curves)
    return action


def add_curves(id_data, action_name: str, curves: Iterable[Curve]):
    """Add `curves` to the action (and slot) already animating `id_data`; without one, like
    write_action. Returns the action."""
    anim = id_data.animation_data
    action = None if anim is None else anim.action
    if action is None or (SLOTTED_ACTIONS and anim.action_slot is None):
        return write_action(id_data, action_name, curves)
    if not SLOTTED_ACTIONS:
        _fill(action.fcurves, action.groups, curves)
        return action
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    bag = strip.channelbag(anim.action_slot, ensure=True)
    _fill(bag.fcurves, bag.groups, curves)
    return action


def _fill(fcurves, groups, curves: Iterable[Curve]) -> None:
    linear = _linear_enum()
    made_groups = {}
    for curve in curves:
        if curve.group not in made_groups:
            made_groups[curve.group] = groups.new(curve.group)
        if SLOTTED_ACTIONS:
            fc = fcurves.new(curve.data_path, index=curve.index)
            fc.group = made_groups[curve.group]
        else:
            fc = fcurves.new(curve.data_path, index=curve.index, action_group=curve.group)
        n = len(curve.frames)
        co = np.empty(2 * n, dtype=np.float32)
        co[0::2] = curve.frames
        co[1::2] = curve.values
        fc.keyframe_points.add(n)
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", np.full(n, linear, dtype=np.int32))
        fc.update()


def action_fcurves(id_data) -> list:
    """The F-curves that animate `id_data` through its assigned action (and slot)."""
    anim = id_data.animation_data
    if anim is None or anim.action is None:
        return []
    action = anim.action
    if not SLOTTED_ACTIONS:
        return list(action.fcurves)
    slot = anim.action_slot
    if slot is None:
        return []
    out = []
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                out.extend(bag.fcurves)
    return out


# ------------------------------------------------------------------ which action plays on an ID

@dataclass(frozen=True)
class Assignment:
    """What animates an ID: its action, the action's slot (None before 4.4) and its NLA use."""

    action: object
    slot: object
    use_nla: bool


def assignment(id_data) -> Assignment | None:
    """The ID's current assignment, None when it has no animation data."""
    anim = id_data.animation_data
    if anim is None:
        return None
    return Assignment(anim.action, anim.action_slot if SLOTTED_ACTIONS else None, anim.use_nla)


def detach_action(id_data) -> None:
    """Play nothing on the ID (no action, NLA off) until an action is assigned again."""
    anim = id_data.animation_data
    if anim is not None:
        anim.action = None
        anim.use_nla = False


def share_action(source, dest) -> None:
    """Let `dest` play `source`'s action through the same slot. An object copy keeps the action,
    but its slot must be set explicitly: the automatic match is by the slot's name."""
    anim = source.animation_data
    if anim is None:
        return
    dest_anim = dest.animation_data or dest.animation_data_create()
    dest_anim.action = anim.action
    if SLOTTED_ACTIONS:
        dest_anim.action_slot = anim.action_slot


def revert_assignment(id_data, saved: Assignment | None) -> None:
    """Put back `saved` (from `assignment`) on the ID. An action assigned since then, e.g. one
    `write_action` made before a failure, is removed from the file."""
    anim = id_data.animation_data
    made = anim.action if anim is not None else None
    if made is not None and (saved is None or made != saved.action):
        bpy.data.actions.remove(made)
    anim = id_data.animation_data
    if anim is None:
        return
    if saved is None:
        id_data.animation_data_clear()
        return
    anim.action = saved.action
    if SLOTTED_ACTIONS and saved.action is not None:
        anim.action_slot = saved.slot
    anim.use_nla = saved.use_nla


def remove_curves(id_data, data_paths) -> int:
    """Remove the F-curves on any of `data_paths` from the action (and slot) animating
    `id_data`. Returns how many were removed."""
    anim = id_data.animation_data
    if anim is None or anim.action is None:
        return 0
    paths = set(data_paths)
    if not SLOTTED_ACTIONS:
        bags = [anim.action.fcurves]
    else:
        if anim.action_slot is None:
            return 0
        bags = [strip.channelbag(anim.action_slot) for layer in anim.action.layers for strip in layer.strips]
        bags = [bag.fcurves for bag in bags if bag is not None]
    removed = 0
    for fcurves in bags:
        for fc in [fc for fc in fcurves if fc.data_path in paths]:
            fcurves.remove(fc)
            removed += 1
    return removed
