"""Two (or more) results of one clip side by side in Blender, e.g. TCMR's and VIBE's (docs/models.md).

    python -m backend run CLIP --out OUT/tcmr --model tcmr
    python -m backend run CLIP --out OUT/vibe --model vibe
    python scripts/compare_models.py --result OUT/tcmr --result OUT/vibe --blend OUT/compare.blend

Runs with the bpy module (no Blender window): registers the add-on from this repository, imports
each result with `tcmr.import_result` (the first one also sets the scene: fps, frame range,
video camera), then moves every armature of result i by i * --spacing metres along the world X
axis (the video camera's "right"), so the characters stand next to each other in the camera
view, and tints each result's bodies in its own colour. The animation itself is untouched: the
offset is the armature objects' location. Optionally renders a Workbench still (`--render PNG`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLOURS = ((0.85, 0.55, 0.2, 1.0), (0.25, 0.55, 0.9, 1.0), (0.4, 0.8, 0.4, 1.0), (0.8, 0.4, 0.8, 1.0))


def import_side_by_side(bpy, results: list[Path], data_dir: str, spacing: float = 1.0) -> list[list[str]]:
    """Import each result, offset its armatures by index * spacing along world X. Returns the
    armature object names per result (in import order)."""
    names = []
    for index, result in enumerate(results):
        before = {o.name for o in bpy.data.objects}
        res = bpy.ops.tcmr.import_result(filepath=str(result), data_dir=data_dir, set_scene=index == 0)
        if "FINISHED" not in res:
            raise RuntimeError(f"import of {result} failed ({res})")
        new = [o for o in bpy.data.objects if o.name not in before]
        armatures = [o for o in new if o.type == "ARMATURE"]
        for arm in armatures:
            arm.location.x += index * spacing
        for obj in new:
            if obj.type == "MESH":
                obj.color = COLOURS[index % len(COLOURS)]
        names.append([a.name for a in armatures])
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--result", action="append", required=True, help="result directory (give it 2+ times)")
    p.add_argument("--blend", required=True, help=".blend file to write")
    p.add_argument("--data-dir", default="", help="model data folder (default: $TCMR_DATA_DIR or per-user)")
    p.add_argument("--spacing", type=float, default=1.0, help="metres between the results (default 1)")
    p.add_argument("--render", default="", help="also render a Workbench still from the video camera")
    p.add_argument("--frame", type=int, default=None, help="frame to render (default: middle)")
    args = p.parse_args(argv)
    results = [Path(r).resolve() for r in args.result]
    for result in results:
        if not (result / "result.json").is_file():
            print(f"compare_models: {result} is not a finished result (no result.json)", file=sys.stderr)
            return 2
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "scripts"))
    import bpy
    from headless_blender import default_data_dir, render_still

    import addon

    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon.register()
    names = import_side_by_side(bpy, results, args.data_dir or default_data_dir(), args.spacing)
    if args.render:
        bpy.context.scene.display.shading.color_type = "OBJECT"
        render_still(bpy, Path(args.render).resolve(), args.frame)
    Path(args.blend).parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(Path(args.blend).resolve()))
    for result, arms in zip(results, names):
        print(f"compare_models: {result.name}: {', '.join(arms)}")
    print(f"compare_models: wrote {args.blend}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
