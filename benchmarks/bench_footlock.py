"""Foot-lock figures: contact F1, foot sliding before/after, root error, overlay and time.

    python benchmarks/bench_footlock.py                       # the synthetic scenes
    python benchmarks/bench_footlock.py --result DIR --data-dir MODEL_DATA   # a grounded result

Synthetic scenes: tests/footlock/truth.py ("own", seeds 0-2) and the grounding issue's
tests/scenes/world_scene.py ("world_scene", walk_and_stand, seeds 0-1), with the SMPL file of a
synthetic model data folder (backend.synthetic) unless --data-dir is given. Before = the
un-locked world track (the camera-frame output seen through the true camera). A result
directory needs the world keys of the `ground` command (result.json "world", track
world_* arrays); its figures use the detected contacts (no truth there).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.footlock.lock import apply_foot_lock  # noqa: E402
from backend.smpl_file import load_smpl  # noqa: E402
from tests.footlock import metrics, scene_tracks, truth  # noqa: E402


def _smpl(data_dir: str | None):
    if data_dir:
        return load_smpl(Path(data_dir) / "SMPL_NEUTRAL.pkl"), False
    from backend.synthetic import write_model_data

    folder = Path(tempfile.mkdtemp(prefix="bench_footlock_"))
    write_model_data(folder, seed=0)
    return load_smpl(folder / "SMPL_NEUTRAL.pkl"), True


def _cases(smpl):
    """(scene name, project, truth joints, truth contact, unlocked track, camera_to_world, fps)."""
    from tests.scenes.world_scene import make_scene

    for seed in (0, 1, 2):
        scene = truth.make_scene(smpl, seed=seed)
        for p in scene.people:
            yield (f"own/{seed}", scene.project, p.joints, p.contact, p.world_input, scene.camera_to_world,
                   truth.FPS)
    for seed in (0, 1):
        scene = make_scene(smpl, kind="walk_and_stand", seed=seed, frames=90)
        cam = scene.camera
        for i, p in enumerate(scene.people):
            def project(x, cam=cam):
                return cam.project(cam.world_to_camera(x))

            yield (f"world_scene/{seed}", project, p.joints_world, p.contact,
                   scene_tracks.world_track(scene, i, smpl), cam.camera_to_world, scene.fps)


def synthetic(smpl) -> None:
    rows: dict = {}
    for name, project, joints, contact_truth, track, c2w, fps in _cases(smpl):
        t0 = time.perf_counter()
        new, contact, _report = apply_foot_lock(track, c2w, smpl, fps)
        seconds = time.perf_counter() - t0
        before, after = truth.joints_of(track, smpl), truth.joints_of(new, smpl)
        keys = ("f1", "sb", "sa", "rb", "ra", "ob", "oa", "t", "n")
        row = rows.setdefault(name.split("/")[0], {k: [] for k in keys})
        row["f1"].append(metrics.f1_counts(contact, contact_truth))
        row["sb"].append(metrics.sliding_steps(before, contact_truth))
        row["sa"].append(metrics.sliding_steps(after, contact_truth))
        row["rb"].append(np.linalg.norm(before[:, 0] - joints[:, 0], axis=1).mean())
        row["ra"].append(np.linalg.norm(after[:, 0] - joints[:, 0], axis=1).mean())
        row["ob"].append(np.linalg.norm(project(before) - project(joints), axis=-1).ravel())
        row["oa"].append(np.linalg.norm(project(after) - project(joints), axis=-1).ravel())
        row["t"].append(seconds)
        row["n"].append(len(contact))
    print(f"{'scenes':12s} {'tracks':>6s} {'F1':>6s} {'slide before':>13s} {'after':>7s} "
          f"{'root before':>12s} {'after':>7s} {'overlay cam':>12s} {'locked':>7s} "
          f"{'ms/track':>9s} {'us/frame':>9s}")
    for name, r in rows.items():
        print(f"{name:12s} {len(r['t']):6d} {metrics.f1(r['f1']):6.3f} "
              f"{np.concatenate(r['sb']).mean() * 1000:10.1f} mm "
              f"{np.concatenate(r['sa']).mean() * 1000:7.2f} "
              f"{np.sum(r['rb']) / len(r['rb']) * 100:9.1f} cm {np.sum(r['ra']) / len(r['ra']) * 100:7.1f} "
              f"{np.median(np.concatenate(r['ob'])):9.1f} px {np.median(np.concatenate(r['oa'])):7.1f} "
              f"{np.mean(r['t']) * 1000:9.1f} {np.sum(r['t']) / np.sum(r['n']) * 1e6:9.1f}")


def result_dir(folder: Path, smpl) -> None:
    meta = json.loads((folder / "result.json").read_text())
    world = meta.get("world")
    if not world or "camera_to_world" not in world:
        sys.exit(f"{folder} has no world keys: run `python -m backend ground {folder} --out DIR` first")
    c2w = np.array(world["camera_to_world"], dtype=np.float64)
    fps = float(meta["video"]["fps"])
    print(f"{folder.name}: ground_found={world.get('ground_found')}, fps {fps:g}")
    for entry in meta["tracks"]:
        with np.load(folder / entry["file"]) as z:
            track = {k: z[k] for k in ("world_global_orient", "world_body_pose", "world_transl", "betas")}
        t0 = time.perf_counter()
        _new, contact, report = apply_foot_lock(track, c2w, smpl, fps)
        seconds = time.perf_counter() - t0
        planted = (contact > 0.5).mean(axis=0)
        before, after = report.get("sliding_before_mm", 0.0), report.get("sliding_after_mm", float("nan"))
        codes = [w["code"] for w in report["warnings"]]
        print(f"track {entry['id']:3d}: {len(contact):5d} frames, planted L/R ankle "
              f"{planted[0]:.2f}/{planted[1]:.2f} foot {planted[2]:.2f}/{planted[3]:.2f}, "
              f"sliding {before:.1f} -> {after:.2f} mm/frame (detected contacts), "
              f"{seconds * 1000:.0f} ms, warnings {codes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", type=Path, help="a grounded result directory")
    parser.add_argument("--data-dir", help="model data folder with SMPL_NEUTRAL.pkl (default: synthetic)")
    args = parser.parse_args()
    smpl, synthetic_data = _smpl(args.data_dir)
    if synthetic_data:
        print("SMPL: synthetic model data (backend.synthetic), not the licensed body model")
    if args.result:
        result_dir(args.result, smpl)
    else:
        synthetic(smpl)


if __name__ == "__main__":
    main()
