"""Headless Blender step of the main job: result directory -> .blend and FBX.

    python scripts/headless_blender.py --result OUT/result --blend OUT/mocap.blend --fbx OUT/mocap.fbx

Runs with the bpy module (no Blender window): registers the add-on straight from this
repository, imports the result with `tcmr.import_result` (one character per person over the
video), exports the active character with `tcmr.export_fbx` and saves the .blend.
Optionally renders a still from the video camera with Workbench (`--render PNG`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--result", required=True, help="result directory written by `python -m backend run`")
    p.add_argument("--blend", required=True, help=".blend file to write")
    p.add_argument("--fbx", default="", help="FBX file to write (empty: no FBX)")
    p.add_argument("--target", default="GENERIC", choices=("GENERIC", "UNITY", "UNREAL"))
    p.add_argument("--data-dir", default="", help="model data folder (default: $TCMR_DATA_DIR or per-user)")
    p.add_argument("--render", default="", help="also render a Workbench still from the video camera")
    p.add_argument("--frame", type=int, default=None, help="frame to render (default: middle)")
    args = p.parse_args(argv)

    result = Path(args.result).resolve()
    if not (result / "result.json").is_file():
        print(f"headless_blender: {result} is not a finished result (no result.json)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    import bpy

    import addon

    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon.register()
    # "" = the add-on's own resolution ($TCMR_DATA_DIR, else the per-user folder)
    res = bpy.ops.tcmr.import_result(filepath=str(result), data_dir=args.data_dir)
    if "FINISHED" not in res:
        print(f"headless_blender: import failed ({res})", file=sys.stderr)
        return 2
    if args.fbx:
        Path(args.fbx).parent.mkdir(parents=True, exist_ok=True)
        res = bpy.ops.tcmr.export_fbx(filepath=str(Path(args.fbx).resolve()), target=args.target)
        if "FINISHED" not in res:
            print(f"headless_blender: FBX export failed ({res})", file=sys.stderr)
            return 2
    if args.render:
        render_still(bpy, Path(args.render).resolve(), args.frame)
    Path(args.blend).parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(Path(args.blend).resolve()))
    print(f"headless_blender: wrote {args.blend}" + (f" and {args.fbx}" if args.fbx else ""))
    return 0


def render_still(bpy, path: Path, frame: int | None, resolution_pct: int = 50) -> Path:
    """Workbench render from the scene camera (the video camera the import set up)."""
    scene = bpy.context.scene
    if scene.camera is None:
        cams = [o for o in scene.objects if o.type == "CAMERA"]
        if not cams:
            raise RuntimeError("no camera in the scene to render from")
        scene.camera = cams[0]
    scene.frame_set(frame if frame is not None else (scene.frame_start + scene.frame_end) // 2)
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_percentage = resolution_pct
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
