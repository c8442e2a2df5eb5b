"""Regenerate the README's pictures (docs/images/*.png) with the project itself, headlessly.

    python scripts/make_docs_images.py [--video CLIP] [--data-dir DIR] [--out docs/images]

1. model data: `--data-dir`, else a fresh SYNTHETIC folder (backend.synthetic). The pictures
   are then labelled synthetic in the README: random weights give a meaningless body.
2. `python -m backend run` on the clip (default: a generated synthetic clip; `--bbox` skips
   detection), writing a result directory.
3. In the bpy module: register the add-on from this repository, `tcmr.import_result`, then
   Workbench renders: from the character's (video) camera with a transparent background,
   composited over the video frame; and from the side.
The committed pictures: the generated clip (no `--video`) and synthetic model data; footage we
hold no rights to is not committed. No panel pictures: a panel cannot be captured without a
window, and a drawn mock would not show the real thing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def synthetic_clip(path: Path, frames: int = 24, size=(480, 360)) -> tuple[Path, str]:
    """A small clip with a figure in the middle; returns it and a person box around the figure."""
    sys.path.insert(0, str(REPO / "tests" / "product"))
    from conftest import write_clip  # the same generator the product tests use

    write_clip(path, frames=frames, size=size)
    w, h = size
    return path, f"{w // 2 - w // 5},{h // 20},{2 * w // 5},{h - h // 10}"


def run_backend(video: Path, out: Path, data_dir: Path, extra: list[str]) -> Path:
    argv = [sys.executable, "-m", "backend", "run", str(video), "--out", str(out),
            "--data-dir", str(data_dir), "--device", "cpu", *extra]
    print("$", " ".join(argv), file=sys.stderr)
    subprocess.run(argv, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return out


def video_frame(video: Path, index: int) -> np.ndarray:
    """BGR frame `index` of the clip (H, W, 3) uint8."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise RuntimeError(f"cannot read frame {index} of {video}")
    return frame


def composite(fg_rgba_png: Path, background_bgr: np.ndarray, out_png: Path, width: int) -> None:
    """Alpha-blend a transparent render over the video frame and save a small PNG."""
    import cv2

    fg = cv2.imread(str(fg_rgba_png), cv2.IMREAD_UNCHANGED)  # (H,W,4) BGRA
    bg = cv2.resize(background_bgr, (fg.shape[1], fg.shape[0]), interpolation=cv2.INTER_AREA)
    alpha = fg[..., 3:4].astype(np.float32) / 255.0
    img = (fg[..., :3].astype(np.float32) * alpha + bg.astype(np.float32) * (1 - alpha)).astype(np.uint8)
    save_small(img, out_png, width)


def save_small(img: np.ndarray, out_png: Path, width: int) -> None:
    import cv2

    if img.shape[1] > width:
        size = (width, round(img.shape[0] * width / img.shape[1]))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_png), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {out_png} ({out_png.stat().st_size // 1024} KB)")


def render(bpy, camera, path: Path, size: tuple[int, int], transparent: bool) -> Path:
    scene = bpy.context.scene
    scene.camera = camera
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "MATERIAL"
    scene.display.shading.show_cavity = True
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = transparent
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA" if transparent else "RGB"
    scene.render.filepath = str(path)
    if scene.world is None:
        scene.world = bpy.data.worlds.new("DocsWorld")
    scene.world.color = (0.55, 0.6, 0.66)
    bpy.ops.render.render(write_still=True)
    return path


def side_camera(bpy, target) -> object:
    """A camera looking at the character from its right, level with the body centre."""
    from mathutils import Vector

    depsgraph = bpy.context.evaluated_depsgraph_get()
    ev = target.evaluated_get(depsgraph)
    corners = [ev.matrix_world @ Vector(c) for c in ev.bound_box]
    centre = sum(corners, Vector()) / 8
    height = max(c.z for c in corners) - min(c.z for c in corners)
    cam_data = bpy.data.cameras.new("DocsSideCamera")
    cam_data.lens = 50
    cam = bpy.data.objects.new("DocsSideCamera", cam_data)
    bpy.context.scene.collection.objects.link(cam)
    dist = max(height, 1.0) * 2.2
    cam.location = centre + Vector((dist, -dist * 0.35, height * 0.1))
    direction = centre - cam.location
    cam.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
    floor_data = bpy.data.meshes.new("DocsFloor")
    z = min(c.z for c in corners)
    s = dist
    quad = [(centre.x - s, centre.y - s, z), (centre.x + s, centre.y - s, z),
            (centre.x + s, centre.y + s, z), (centre.x - s, centre.y + s, z)]
    floor_data.from_pydata(quad, [], [(0, 1, 2, 3)])
    floor = bpy.data.objects.new("DocsFloor", floor_data)
    bpy.context.scene.collection.objects.link(floor)
    return cam


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", default="", help="clip to use (default: a generated synthetic clip)")
    p.add_argument("--bbox", default="", help="person box x,y,w,h for the clip (skips detection)")
    p.add_argument("--end", type=int, default=24, help="process frames [0, end)")
    p.add_argument("--data-dir", default="", help="model data (default: fresh SYNTHETIC files)")
    p.add_argument("--out", default=str(REPO / "docs" / "images"))
    p.add_argument("--width", type=int, default=440, help="width of the saved pictures in pixels")
    p.add_argument("--result", default="", help="render this existing result instead of running the backend "
                                                 "(its video must be readable)")
    args = p.parse_args(argv)

    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="tcmr-docs-") as tmp:
        tmp = Path(tmp)
        data_dir = Path(args.data_dir) if args.data_dir else None
        if data_dir is None:
            from backend.synthetic import write_model_data

            data_dir = write_model_data(tmp / "base_data", seed=0)
        if args.result:
            result = Path(args.result).resolve()
            video = Path(json.loads((result / "result.json").read_text())["video"]["path"])
        else:
            if args.video:
                video, bbox = Path(args.video).resolve(), args.bbox
            else:
                video, bbox = synthetic_clip(tmp / "clip.mp4")
            extra = ["--end", str(args.end)] + (["--bbox", bbox] if bbox else [])
            result = run_backend(video, tmp / "result", data_dir, extra)
        info = json.loads((result / "result.json").read_text())
        width, height = info["video"]["width"], info["video"]["height"]
        track = info["tracks"][0]
        frame_index = (track["first_frame"] + track["last_frame"]) // 2

        import bpy

        import addon

        bpy.ops.wm.read_factory_settings(use_empty=True)
        addon.register()
        res = bpy.ops.tcmr.import_result(filepath=str(result), data_dir=str(data_dir))
        assert "FINISHED" in res, res
        scene = bpy.context.scene
        cams = [o for o in scene.objects if o.type == "CAMERA"]
        meshes = [o for o in scene.objects if o.type == "MESH"]
        if not cams or not meshes:
            raise RuntimeError("the import made no camera or no mesh")
        # the import puts video frame i on scene frame 1 + i (x scene fps / video fps when Blender
        # decodes the clip at another rate)
        ratio = scene.render.fps / scene.render.fps_base / float(info["video"]["fps"])
        scene.frame_set(1 + round(frame_index * ratio))
        render(bpy, scene.camera or cams[0], tmp / "front.png", (width, height), transparent=True)
        background = video_frame(video, frame_index)
        composite(tmp / "front.png", background, out / "character_over_video.png", args.width)
        cam = side_camera(bpy, meshes[0])
        render(bpy, cam, tmp / "side.png", (640, 480), transparent=False)
        import cv2

        save_small(cv2.imread(str(tmp / "side.png")), out / "character_side.png", args.width)
    return 0


if __name__ == "__main__":
    sys.exit(main())
