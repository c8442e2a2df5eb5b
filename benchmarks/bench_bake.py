"""Time tcmr.bake_to_rig against evaluating the same frames with frame_set alone.

    python benchmarks/bench_bake.py [FRAMES [MODEL_DATA_DIR]]

Prints seconds for the bake, for a bare frame_set loop over the scene before it (only the
source is animated) and for playing the baked result (the rig evaluated every frame), and
bake/playback, for a Mixamo-like rig and a generated Rigify rig (706 bones); with a model
data folder also for an imported character as the source (vs. playing that character).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy

import addon
from tests.retarget import rigs


def _floor(frames: int) -> float:
    start = time.perf_counter()
    for frame in range(1, frames + 1):
        bpy.context.scene.frame_set(frame)
    return time.perf_counter() - start


def _run(label: str, make_target, frames: int, preset: str) -> None:
    import addon_utils  # importable only after bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("rigify", default_set=True)
    source = rigs.build_smpl_source(key_frames=(1, frames // 2, frames))
    target = make_target()
    floor = _floor(frames)
    start = time.perf_counter()
    bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset=preset)
    bake = time.perf_counter() - start
    playback = _floor(frames)  # the rig now plays its baked action: evaluated every frame
    print(f"{label:>14}: {frames} frames, {len(target.data.bones)} bones: bake {bake:.3f} s "
          f"({1000 * bake / frames:.2f} ms/frame); frame_set loop before {floor:.3f} s, "
          f"playing the baked action {playback:.3f} s; bake/playback {bake / max(playback, 1e-9):.2f}")


def _rigify():
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    return next(o for o in bpy.data.objects if o.type == "ARMATURE" and o.name != "metarig")


def _imported(frames: int, data_dir: str) -> None:
    """An imported character (skinned body with 217 shape keys) as the source."""
    import tempfile

    import numpy as np

    from tests.blender.result_factory import random_track, write_result

    bpy.ops.wm.read_factory_settings(use_empty=True)
    folder = Path(tempfile.mkdtemp()) / "clip"
    write_result(folder, {1: random_track(np.random.default_rng(0), np.arange(frames))}, frame_count=frames)
    bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=data_dir)
    source = bpy.data.objects["TCMR track 1"]
    target = rigs.build_rig("Mixamo", rigs.MIXAMO_NAMES, rigs.rig_joints(1.0))
    playback = _floor(frames)
    start = time.perf_counter()
    bpy.ops.tcmr.bake_to_rig(source=source.name, target=target.name, preset="MIXAMO")
    bake = time.perf_counter() - start
    print(f"{'imported':>14}: {frames} frames: bake {bake:.3f} s; playing the character {playback:.3f} s; "
          f"bake/playback {bake / max(playback, 1e-9):.2f} (its body mesh is switched off while baking)")


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 312
    addon.register()
    if len(sys.argv) > 2:
        _imported(frames, sys.argv[2])
    _run("mixamo-like", lambda: rigs.build_rig("Mixamo", rigs.MIXAMO_NAMES, rigs.rig_joints(1.0)),
         frames, "MIXAMO")
    _run("rigify", _rigify, frames, "RIGIFY")


if __name__ == "__main__":
    main()
