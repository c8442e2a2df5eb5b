"""Grounding: fit time and quality on synthetic ground truth, against simple baselines measured in
the same run; optionally the time of `ground` on a real result directory.

    python benchmarks/bench_ground.py [--data-dir DIR] [--seeds 8] [--frames 90] [--long 900]
                                      [--result RESULT_DIR]

Scenes: tests/scenes/world_scene.py "walk_and_stand" (a 1920x1080 camera 1.45 m high, pitched 10
deg, rolled 2.5 deg; 3 walkers + 2 standers, several near the image edges; simulated network
errors). Per scene it prints the fit time and: floor normal error (deg), camera height error
(cm), world root orientation error (median deg), the overlay of the joints through the recovered
camera vs through the camera-frame output (median px against the true 2D joints), and the planted
feet's height above the floor (median |h| cm). Baselines, same scenes: "lowest joint" (GVHMR's
static-camera floor: up from the bodies, floor at the lowest foot joint) and "no perspective
root" (the raw crop-relative root put in the same world). `--long` times a 10x longer clip
(linear time expected). Without --data-dir, synthetic SMPL data is written to a temp folder.
SMPL here is synthetic unless --data-dir holds the real model: the figures measure the geometry
of the method, not a real reconstruction.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.grounding.camera_pose import camera_to_world  # noqa: E402
from backend.grounding.feet import body_up  # noqa: E402
from backend.grounding.ground import GroundOptions, View, angle_deg, camera_tracks, ground_tracks  # noqa: E402
from backend.smpl_file import load_smpl  # noqa: E402
from backend.smpl_np import rotvec_to_matrix, smpl_forward  # noqa: E402
from tests.scenes.world_scene import _foot_vertex_ids, make_scene  # noqa: E402

NO_VERTS = np.zeros(0, dtype=np.int64)


def _smpl(data_dir: str | None):
    if data_dir:
        return load_smpl(Path(data_dir) / "SMPL_NEUTRAL.pkl")
    from backend.synthetic import write_smpl_pkl

    folder = Path(tempfile.mkdtemp(prefix="bench_ground_"))
    return load_smpl(write_smpl_pkl(folder / "SMPL_NEUTRAL.pkl"))


def _angles(r_a, r_b):
    rel = np.einsum("tji,tjk->tik", r_a, r_b)
    return np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)))


def _project(c2w, focal, principal, points_w):
    cam = (points_w - c2w[:3, 3]) @ c2w[:3, :3]
    return focal * cam[..., :2] / cam[..., 2:3] + principal


def _quality(scene, smpl, world, tracks, raw_root: bool = False) -> dict:
    cam = scene.camera
    c2w = np.array(world["camera_to_world"])
    normal = np.array(world["floor_normal_camera"])
    orient, overlay, overlay_cam, feet = [], [], [], []
    left, right = _foot_vertex_ids(smpl)
    for person, wt, raw in zip(scene.people, tracks, scene.network):
        root = c2w[:3, :3] @ rotvec_to_matrix(raw["global_orient"]) if raw_root \
            else rotvec_to_matrix(wt["world_global_orient"])
        orient.append(_angles(rotvec_to_matrix(person.world_global_orient), root))
        truth_px = cam.project(cam.world_to_camera(person.joints_world))
        verts, jw = smpl_forward(smpl, wt["betas"], wt["world_global_orient"], wt["world_body_pose"],
                                 wt["world_transl"], vertex_ids=np.concatenate([left, right]))
        _, jc = smpl_forward(smpl, raw["betas"], raw["global_orient"], raw["body_pose"], raw["transl"],
                             vertex_ids=NO_VERTS)
        through = _project(c2w, cam.focal, cam.principal, jw)
        overlay.append(np.linalg.norm(through - truth_px, axis=-1).ravel())
        overlay_cam.append(np.linalg.norm(cam.project(jc) - truth_px, axis=-1).ravel())
        sole = np.stack([verts[:, :len(left), 2].min(1), verts[:, len(left):, 2].min(1)], axis=1)
        feet.append(np.abs(sole[person.contact[:, :2] > 0]))
    return {"normal_deg": angle_deg(normal, cam.floor_normal_cam),
            "height_cm": 100 * (world["camera_height_m"] - cam.height_m),
            "orient_deg": float(np.median(np.concatenate(orient))),
            "overlay_px": float(np.median(np.concatenate(overlay))),
            "overlay_cam_px": float(np.median(np.concatenate(overlay_cam))),
            "feet_cm": 100 * float(np.median(np.concatenate(feet)))}


def _lowest_joint_world(view, tracks, smpl):
    """Baseline: up = the bodies' mean up, floor at the lowest foot joint (GVHMR-style)."""
    cams, _ = camera_tracks(view, tracks, smpl)
    up = body_up(cams)
    height = max(float(-(c.joints[:, [7, 8, 10, 11]] @ up).min()) for c in cams)
    c2w = camera_to_world(up, height)
    from backend.grounding.world import world_track

    out = [world_track(c, c2w) for c in cams]
    world = {"camera_to_world": c2w.tolist(), "floor_normal_camera": up.tolist(), "camera_height_m": height}
    return world, out


def _scene_row(smpl, seed: int, frames: int) -> dict:
    scene = make_scene(smpl, "walk_and_stand", seed=seed, frames=frames)
    cam = scene.camera
    view = View(cam.focal, (float(cam.principal[0]), float(cam.principal[1])), cam.width, cam.height)
    tracks = [dict(a, track_id=p.track_id) for p, a in zip(scene.people, scene.network)]
    t0 = time.perf_counter()
    grounded = ground_tracks(view, tracks, smpl, scene.fps, GroundOptions())
    fit_s = time.perf_counter() - t0
    if not grounded.world["ground_found"]:
        return {"seed": seed, "found": False, "fit_ms": 1000 * fit_s}
    ours = _quality(scene, smpl, grounded.world, grounded.tracks)
    base_world, base_tracks = _lowest_joint_world(view, tracks, smpl)
    lowest = _quality(scene, smpl, base_world, base_tracks)
    raw = _quality(scene, smpl, grounded.world, grounded.tracks, raw_root=True)
    fit = grounded.world["fit"]
    return {"seed": seed, "found": True, "fit_ms": 1000 * fit_s, "ours": ours, "lowest": lowest,
            "raw_orient_deg": raw["orient_deg"], "inliers": fit["inliers"] / max(fit["candidates"], 1),
            "residual_cm": 100 * fit["residual_rms_m"]}


def _print_rows(rows: list[dict]) -> None:
    print(f"{'seed':>4} {'fit ms':>7} | {'normal':>6} {'height':>7} {'orient':>6} {'overlay':>7} "
          f"{'cam-fr':>6} {'feet':>5} | {'inl':>4} {'res':>4} | lowest-joint: {'normal':>6} {'height':>7} "
          f"{'feet':>5} | "
          f"raw root {'orient':>6}")
    print(f"{'':>4} {'':>7} | {'deg':>6} {'cm':>7} {'deg':>6} {'px':>7} {'px':>6} {'cm':>5} | {'':>4} "
          f"{'cm':>4} | {'':13} {'deg':>6} {'cm':>7} {'cm':>5} | {'':8} {'deg':>6}")
    for r in rows:
        if not r["found"]:
            print(f"{r['seed']:>4} {r['fit_ms']:7.0f} | no floor found")
            continue
        o, b = r["ours"], r["lowest"]
        print(f"{r['seed']:>4} {r['fit_ms']:7.0f} | {o['normal_deg']:6.2f} {o['height_cm']:+7.1f} "
              f"{o['orient_deg']:6.2f} {o['overlay_px']:7.1f} {o['overlay_cam_px']:6.1f} "
              f"{o['feet_cm']:5.1f} | "
              f"{r['inliers']:4.2f} {r['residual_cm']:4.1f} | {'':13} {b['normal_deg']:6.2f} "
              f"{b['height_cm']:+7.1f} {b['feet_cm']:5.1f} | {'':8} {r['raw_orient_deg']:6.2f}")
    ok = [r for r in rows if r["found"]]
    if not ok:
        return

    def summary(key, part="ours", absolute=False):
        values = np.array([abs(r[part][key]) if absolute else r[part][key] for r in ok])
        return float(np.median(values)), float(values.max())

    print("\nmedian / worst over scenes (ours vs lowest-joint baseline):")
    for key, unit, absolute in (("normal_deg", "deg", False), ("height_cm", "cm", True),
                                ("orient_deg", "deg", False), ("overlay_px", "px", False),
                                ("feet_cm", "cm", False)):
        om, ow = summary(key, absolute=absolute)
        bm, bw = summary(key, "lowest", absolute=absolute)
        print(f"  {key:<11} ours {om:6.2f} / {ow:6.2f} {unit:<3}  baseline {bm:6.2f} / {bw:6.2f} {unit:<3}  "
              f"ratio of medians {om / bm if bm else math.nan:5.2f}")
    raw = np.median([r["raw_orient_deg"] for r in ok])
    print(f"  world root orientation without the perspective correction: median {raw:.2f} deg")
    print(f"  scenes where the issue's tolerances hold (normal 1.5 deg, height 8 cm, orient 3 deg, "
          f"overlay +3 px, feet 5 cm): "
          f"{sum(_passes(r['ours']) for r in ok)} / {len(rows)}")


def _passes(o: dict) -> bool:
    return (o["normal_deg"] < 1.5 and abs(o["height_cm"]) < 8 and o["orient_deg"] < 3
            and o["overlay_px"] <= o["overlay_cam_px"] + 3 and o["feet_cm"] < 5)


def _time_result(result_dir: str, smpl) -> None:
    from backend.events import Reporter
    from backend.grounding.reader import read_result
    from backend.grounding.result_step import ground_arrays

    t0 = time.perf_counter()
    loaded = read_result(result_dir)
    t1 = time.perf_counter()
    meta, _, _ = ground_arrays(loaded.meta, loaded.arrays, loaded.view, loaded.fps, smpl, GroundOptions(),
                               Reporter(jsonl=True, out=io.StringIO()))
    t2 = time.perf_counter()
    frames = sum(len(a["frame_index"]) for a in loaded.arrays)
    w = meta["world"]
    print(f"\n{result_dir}: {len(loaded.arrays)} track(s), {frames} person-frames: read {t1 - t0:.2f} s, "
          f"ground {t2 - t1:.2f} s ({frames / max(t2 - t1, 1e-9):.0f} person-frames/s); "
          f"ground_found {w['ground_found']}, height {w.get('camera_height_m')}, "
          f"fit {w['fit']} {w.get('reason', '')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="folder with SMPL_NEUTRAL.pkl (default: synthetic)")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--long", type=int, default=0, help="also time one scene this many frames long")
    parser.add_argument("--result", default=None, help="also time `ground` on this result directory")
    args = parser.parse_args()
    smpl = _smpl(args.data_dir)
    print(f"grounding on synthetic truth: {args.seeds} scenes x 5 people x {args.frames} frames")
    _print_rows([_scene_row(smpl, seed, args.frames) for seed in range(args.seeds)])
    if args.long:
        short = _scene_row(smpl, 0, args.frames)["fit_ms"]
        long = _scene_row(smpl, 0, args.long)["fit_ms"]
        print(f"\nfit time {args.frames} frames: {short:.0f} ms, {args.long} frames: {long:.0f} ms "
              f"(x{long / short:.1f} for x{args.long / args.frames:.1f} frames)")
    if args.result:
        _time_result(args.result, smpl)


if __name__ == "__main__":
    main()
