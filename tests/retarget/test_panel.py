"""The bake panel draws against the real settings and operator properties (headless: a
recording layout stands in for Blender's UI)."""

import pytest

from . import rigs


class _Layout:
    """Records draw calls; checks every property and operator property name exists."""

    def __init__(self, bpy, calls):
        self.bpy, self.calls = bpy, calls
        self.scale_y, self.enabled = 1.0, True

    def _child(self, *args, **kwargs):
        return _Layout(self.bpy, self.calls)

    column = row = box = _child

    def prop(self, data, name, **kwargs):
        assert name in data.bl_rna.properties, name
        self.calls.append(("prop", name))

    def prop_search(self, data, name, search_data, search_name, **kwargs):
        assert name in data.bl_rna.properties and hasattr(search_data, search_name)
        self.calls.append(("prop_search", name))

    def label(self, **kwargs):
        self.calls.append(("label", kwargs.get("text")))

    def operator(self, idname, **kwargs):
        module, name = idname.split(".")
        rna = getattr(getattr(self.bpy.ops, module), name).get_rna_type()
        self.calls.append(("operator", idname))
        return _OperatorProps(rna, self.calls)


class _OperatorProps:
    def __init__(self, rna, calls):
        object.__setattr__(self, "_rna", rna)
        object.__setattr__(self, "_calls", calls)

    def __setattr__(self, name, value):
        assert name in self._rna.properties, name
        self._calls.append(("set", name, value))


@pytest.mark.bpy
def test_panel_draws_and_passes_the_settings_to_the_bake_operator(bpy_module):
    bpy = bpy_module
    from addon import ops_bake
    from addon.panel_bake import TCMR_PT_bake

    assert TCMR_PT_bake.bl_category == "Mocap" and TCMR_PT_bake.bl_space_type == "VIEW_3D"
    source = rigs.build_smpl_source()
    target = rigs.build_rig("UE", rigs.UE_NAMES, rigs.rig_joints(1.0))
    settings = bpy.context.scene.tcmr_bake
    settings.source, settings.target = source, target
    ops_bake.set_editor_mapping(settings, rigs.UE_NAMES)
    settings.preset, settings.show_mapping, settings.in_place = "CUSTOM", True, True

    calls = []
    stand_in = type("Panel", (), {"layout": _Layout(bpy, calls),
                                  "_draw_mapping": staticmethod(TCMR_PT_bake._draw_mapping)})()
    TCMR_PT_bake.draw(stand_in, bpy.context)

    assert ("operator", "tcmr.bake_to_rig") in calls
    sets = {c[1]: c[2] for c in calls if c[0] == "set"}
    assert sets["source"] == source.name and sets["target"] == target.name
    assert sets["preset"] == "CUSTOM" and sets["in_place"] is True
    assert '"left_knee": "calf_l"' in sets["mapping"]
    assert sum(1 for c in calls if c[0] == "prop_search") == 24  # one row per SMPL joint
    # the button's properties, as drawn, bake the custom map
    assert bpy.ops.tcmr.bake_to_rig(**sets) == {"FINISHED"}
    assert target.animation_data.action is not None
