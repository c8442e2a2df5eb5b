"""3D Viewport sidebar, tab "Mocap": process a clip (TCMR_PT_main), recent results,
import/export. The bake panel (panel_bake.py) adds itself to the same tab."""

from pathlib import Path

import bpy

from . import preferences, resolve
from .core import cache, datacheck

CATEGORY = "Mocap"


class TCMR_PT_main(bpy.types.Panel):
    bl_idname = "TCMR_PT_main"
    bl_label = "Video Motion Capture"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY

    def draw(self, context):
        layout = self.layout
        ui = context.scene.tcmr_settings
        st = context.window_manager.tcmr_job
        prefs = resolve.get_prefs(context)

        layout.prop(ui, "video", text="")
        col = layout.column(align=True)
        col.prop(ui, "use_range")
        if ui.use_range:
            row = col.row(align=True)
            row.prop(ui, "frame_start")
            row.prop(ui, "frame_end")
        layout.prop(ui, "people")
        layout.prop(ui, "smoothing")
        layout.prop(ui, "model")
        layout.prop(ui, "bbox")
        layout.prop(ui, "ground")
        row = layout.row()
        row.enabled = ui.ground
        row.prop(ui, "foot_lock")
        layout.prop(ui, "use_cache")

        data = resolve.data_dir(prefs)
        statuses = preferences.cached_check(data)
        if not datacheck.ready_for_run(statuses):
            missing = [s.name for s in statuses if s.state != "found"]
            box = layout.box()
            box.label(text=f"Model data incomplete: {len(missing)} file(s)", icon="ERROR")
            box.label(text="Install it in the add-on preferences")
        elif datacheck.is_synthetic(data):
            layout.label(text="SYNTHETIC model data: output is meaningless", icon="ERROR")

        if st.running:
            layout.progress(factor=st.factor, type="BAR", text=f"{st.stage_label}  {st.factor * 100:.0f}%")
            row = layout.row()
            row.label(text=f"{st.fps:.1f} {st.rate_unit}/s" if st.fps > 0 else "measuring speed...")
            row.label(text=f"ETA {st.eta}")
            layout.operator("tcmr.cancel_job", icon="CANCEL").slot = "run"
        else:
            row = layout.row()
            row.scale_y = 1.4
            row.operator("tcmr.process_video", icon="PLAY")
        if st.warning:
            for i, line in enumerate(_wrap(st.warning, 48)):
                layout.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
        if st.error_code and not st.running:
            box = layout.box()
            box.label(text=f"[{st.error_code}] {st.error_message}", icon="ERROR")
            if st.error_hint:
                for line in _wrap(st.error_hint, 48):
                    box.label(text=line)
        elif st.message and not st.running:
            layout.label(text=st.message, icon="CHECKMARK")
        if st.log_path:
            layout.operator("tcmr.open_log", icon="TEXT").slot = "run"


class TCMR_PT_recent(bpy.types.Panel):
    bl_idname = "TCMR_PT_recent"
    bl_label = "Recent Results"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY
    bl_parent_id = "TCMR_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        entries = _recent(resolve.results_dir(resolve.get_prefs(context)))
        if not entries:
            self.layout.label(text="No results yet")
        for entry in entries[:8]:
            row = self.layout.row()
            row.label(text=entry.label, icon="ARMATURE_DATA")
            row.operator("tcmr.reimport", text="", icon="IMPORT").result_dir = entry.result_dir


class TCMR_PT_import_export(bpy.types.Panel):
    bl_idname = "TCMR_PT_import_export"
    bl_label = "Import / Export"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        col = self.layout.column()
        col.operator("tcmr.import_result", icon="IMPORT")
        col.operator("tcmr.export_fbx", icon="EXPORT")


_RECENT = {"key": None, "value": []}


def _recent(folder: str) -> list:
    """The cache index, re-read only when it changed (panels redraw often)."""
    index = Path(folder) / "index.json"
    try:
        key = (str(index), index.stat().st_mtime_ns)
    except OSError:
        return []
    if _RECENT["key"] != key:
        _RECENT.update(key=key, value=cache.ResultCache(folder).entries())
    return _RECENT["value"]


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


_CLASSES = (TCMR_PT_main, TCMR_PT_recent, TCMR_PT_import_export)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
