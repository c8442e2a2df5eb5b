"""Track edits from Blender: `python -m backend edit` as a background job, then the edited result
re-imported in place of the old characters (docs/confidence_and_editing.md).

`start_edit` checks the picked characters (imported characters of one result), builds the
command line and starts the job (jobs.py, slot "run": progress in the main panel). When it ends,
`_on_finish` removes what the old import built for that result (its armatures, their body
meshes, its camera, collections left empty) and imports the new result; nothing else is
touched. The user's own objects, even inside those collections, stay.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import bpy

from . import jobs, resolve
from .core import backend_cmd
from .core.confidence_ranges import scene_to_video_frame
from .core.errors import AddonError
from .importer import import_result

KINDS = {"merge": 2, "split": 1, "swap": 2, "delete": 1}  # edit -> number of characters
WITH_FRAME = ("split", "swap")


def _characters(names: list[str]) -> list:
    arms = []
    for name in names:
        obj = bpy.data.objects.get(name)
        tagged = obj is not None and "tcmr_result_dir" in obj and "tcmr_track_id" in obj
        if not tagged or obj.type != "ARMATURE":
            raise AddonError(f"{name or '(nothing)'} is not an imported mocap character",
                             "Select characters imported from one TCMR result.")
        arms.append(obj)
    if len({a["tcmr_result_dir"] for a in arms}) > 1:
        raise AddonError("the characters come from different results", "Pick characters of one result.")
    return arms


def edit_flag(kind: str, track_ids: list[int], video_frame: int | None) -> list[str]:
    """The backend option of one edit, e.g. ['--swap', '1,2@120']."""
    text = ",".join(str(i) for i in track_ids)
    return [f"--{kind}", f"{text}@{video_frame}" if kind in WITH_FRAME else text]


def start_edit(context, kind: str, names: list[str], scene_frame: float, python: str = "",
               data_dir: str = "") -> jobs.Job:
    """Start `edit` on the result of the characters `names` (armature object names)."""
    if kind not in KINDS:
        raise AddonError(f"unknown edit {kind}", f"Use one of {', '.join(KINDS)}.")
    arms = _characters(names)
    if len(arms) != KINDS[kind]:
        raise AddonError(f"{kind} needs {KINDS[kind]} character(s), got {len(arms)}",
                         "Select two characters for Merge and Swap, one for Split and Delete.")
    frame = None
    if kind in WITH_FRAME:
        frame = scene_to_video_frame(scene_frame, arms[0]["tcmr_scene_frames"], arms[0]["tcmr_video_frames"])
    prefs = resolve.get_prefs(context)
    python = bpy.path.abspath(python) if python else resolve.backend_python(prefs)
    if not Path(python).is_file():
        raise AddonError(f"Backend Python not found: {python}", "Set up the backend in the preferences.")
    source = Path(arms[0]["tcmr_result_dir"])
    out = source.parent / f"{source.name}-edit-{time.strftime('%Y%m%d-%H%M%S')}"
    data = resolve.data_dir(prefs, data_dir)
    argv = backend_cmd.base_argv(python, "edit", data, resolve.device(prefs))
    ids = [int(a["tcmr_track_id"]) for a in arms]
    argv += [str(source), "--out", str(out), *edit_flag(kind, ids, frame)]
    job = jobs.start_backend("edit", argv, jobs.log_path(source.parent, "edit"), on_finish=_on_finish)
    job.extra.update(source=str(source), out=str(out), data_dir=data)
    return job


def _old_objects(source: str) -> tuple[list, list]:
    """(objects the import of `source` built, collections holding them)."""
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE" and o.get("tcmr_result_dir") == source]
    objs = list(arms)
    for arm in arms:
        objs += [c for c in arm.children if c.type == "MESH" and c.name.startswith(f"{arm.name} body")]
    colls = {c for o in arms for c in o.users_collection}
    roots = {r for r in bpy.data.collections if any(c.name in r.children for c in colls)}
    for root in roots:
        objs += [o for o in root.objects if o.type == "CAMERA" and o.name.startswith(f"{root.name} camera")]
    return objs, list(colls) + list(roots)


def replace_characters(context, source: str, out: str, data_dir: str = "") -> list[str]:
    """Import `out`, then remove the characters (and camera) imported from `source`."""
    report = import_result(context, out, data_dir, set_scene=False)
    objs, colls = _old_objects(source)
    for obj in objs:
        data = obj.data
        bpy.data.objects.remove(obj)
        _remove_data(data)
    for coll in colls:  # children first: track collections were listed before their roots
        with contextlib.suppress(ReferenceError):
            if not coll.objects and not coll.children:
                bpy.data.collections.remove(coll)
    with contextlib.suppress(RuntimeError):
        bpy.ops.ed.undo_push(message="TCMR track edit")
    return report.armatures


def _remove_data(data) -> None:
    for name, cls in (("armatures", bpy.types.Armature), ("meshes", bpy.types.Mesh),
                      ("cameras", bpy.types.Camera)):
        with contextlib.suppress(ReferenceError, RuntimeError):
            if isinstance(data, cls) and data.users == 0:
                getattr(bpy.data, name).remove(data)


def _on_finish(job: jobs.Job) -> None:
    if job.state.error:
        return
    names = replace_characters(bpy.context, job.extra["source"], job.state.result_path or job.extra["out"],
                               job.extra.get("data_dir", ""))
    jobs.status_of(job.kind).message = f"Edited: {', '.join(names)}"
