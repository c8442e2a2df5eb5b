"""The panels' and preferences' draw code, run against a recording layout (a real UILayout
needs a window): every property drawn exists, every button is a registered operator, and the
panel shows what the job state says (progress while running, error and hint after)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


class RecordingLayout:
    """Stands in for bpy.types.UILayout; records what would be drawn and checks names."""

    def __init__(self, bpy, log=None):
        self.bpy, self.log = bpy, log if log is not None else []

    def _child(self, *args, **kw):
        return RecordingLayout(self.bpy, self.log)

    row = column = box = split = _child

    def prop(self, data, name, **kw):
        props = getattr(getattr(data, "bl_rna", None), "properties", None)
        if props is not None:
            assert name in props, f"no property {name!r} on {data}"
        else:
            assert hasattr(data, name), f"no attribute {name!r} on {data}"
        self.log.append(("prop", name))

    def operator(self, idname, **kw):
        group, op = idname.split(".")
        assert op in dir(getattr(self.bpy.ops, group)), f"operator {idname} is not registered"
        self.log.append(("operator", idname))
        return SimpleNamespace()

    def label(self, text="", **kw):
        self.log.append(("label", text))

    def progress(self, factor=0.0, type="BAR", text=""):
        assert 0.0 <= factor <= 1.0
        self.log.append(("progress", factor, text))

    def __setattr__(self, name, value):  # scale_y, enabled, alert ...
        object.__setattr__(self, name, value)


def _draw(bpy, panel_cls):
    layout = RecordingLayout(bpy)
    panel_cls.draw(SimpleNamespace(layout=layout), bpy.context)
    return layout.log


def test_main_panel_idle_running_and_failed(bpy_module):
    from addon import panels

    bpy = bpy_module
    st = bpy.context.window_manager.tcmr_job
    st.running, st.error_code, st.message = False, "", ""
    idle = _draw(bpy, panels.TCMR_PT_main)
    assert ("operator", "tcmr.process_video") in idle
    drawn = {e[1] for e in idle if e[0] == "prop"}
    assert {"video", "people", "smoothing", "use_range", "bbox", "use_cache"} <= drawn

    st.running, st.stage_label, st.factor, st.fps, st.eta = True, "Detecting people", 0.25, 12.5, "0:08"
    running = _draw(bpy, panels.TCMR_PT_main)
    assert ("progress", 0.25, "Detecting people  25%") in running
    assert ("label", "12.5 frames/s") in running and ("label", "ETA 0:08") in running
    assert ("operator", "tcmr.cancel_job") in running and ("operator", "tcmr.process_video") not in running

    st.running = False
    st.error_code, st.error_message = "NO_PERSON", "nobody found"
    st.error_hint = "Set a person box around the performer"
    st.log_path = "/tmp/x.log"
    failed = _draw(bpy, panels.TCMR_PT_main)
    assert ("label", "[NO_PERSON] nobody found") in failed
    assert any(e[0] == "label" and "person box" in e[1] for e in failed)
    assert ("operator", "tcmr.open_log") in failed
    st.error_code = st.log_path = ""


def test_recent_results_list_reads_the_cache(bpy_module, tmp_path, monkeypatch):
    from addon import panels, resolve
    from addon.core.cache import ResultCache

    bpy = bpy_module
    cache = ResultCache(tmp_path)
    folder = cache.folder_for("ab" * 32)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text("{}")
    cache.add("ab" * 32, folder, "/clips/jump.mp4", {}, now=0.0)
    monkeypatch.setattr(resolve, "results_dir", lambda prefs: str(tmp_path))
    log = _draw(bpy, panels.TCMR_PT_recent)
    assert any(e[0] == "label" and "jump.mp4" in e[1] for e in log)
    assert ("operator", "tcmr.reimport") in log


@pytest.mark.parametrize("mode", ["MANAGED", "CUSTOM"])
def test_preferences_draw_backend_and_model_data_checklist(bpy_module, tmp_path, mode):
    from addon import preferences

    bpy = bpy_module
    annotations = preferences.TCMR_AddonPreferences.__annotations__
    prefs = SimpleNamespace(python_mode=mode, custom_python="", env_dir=str(tmp_path / "env"),
                            torch_variant="cpu", wheel_dir="", data_dir=str(tmp_path / "data"), device="auto",
                            results_dir=str(tmp_path / "results"), detector_model="", engine="auto",
                            precision="int8")
    assert set(vars(prefs)) == set(annotations)
    layout = RecordingLayout(bpy)
    preferences.TCMR_AddonPreferences.draw(SimpleNamespace(layout=layout, **vars(prefs)), bpy.context)
    log = layout.log
    assert ("operator", "tcmr.test_backend") in log and ("operator", "tcmr.install_model_data") in log
    assert (("operator", "tcmr.create_backend_env") in log) == (mode == "MANAGED")
    labels = [e[1] for e in log if e[0] == "label"]
    assert "SMPL_NEUTRAL.pkl" in labels and labels.count("missing") == 6
    assert any("smplify" in text for text in labels)
    assert any("HOG" in text and "unusual poses" in text for text in labels)  # no ONNX detector chosen
    assert ("prop", "engine") in log and ("prop", "precision") in log and "Speed" in labels
    assert any("stays fp32" in text for text in labels)  # a faster precision: the backend checks it


def test_panel_run_and_import_use_one_model_data_folder(bpy_module, model_data_dir, tmp_path, monkeypatch):
    """No folder chosen anywhere: $TCMR_DATA_DIR decides for the panel's checklist, the run's
    settings and the import alike (before, the panel and the run ignored it)."""
    import numpy as np

    from addon import panels, resolve
    from addon.importer import import_result
    from tests.blender.result_factory import random_track, write_result

    bpy = bpy_module
    monkeypatch.setenv("TCMR_DATA_DIR", str(model_data_dir))
    assert resolve.data_dir(resolve.get_prefs()) == str(model_data_dir)
    panel = _draw(bpy, panels.TCMR_PT_main)
    assert not any(e[0] == "label" and "Model data incomplete" in e[1] for e in panel)
    result = write_result(tmp_path / "r", {1: random_track(np.random.default_rng(0), np.arange(3))},
                          frame_count=3)
    assert import_result(bpy.context, str(result)).armatures == ["TCMR track 1"]
    monkeypatch.setenv("TCMR_DATA_DIR", str(tmp_path / "empty"))
    panel = _draw(bpy, panels.TCMR_PT_main)
    assert any(e[0] == "label" and "Model data incomplete: 6 file(s)" in e[1] for e in panel)
