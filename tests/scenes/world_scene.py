"""Synthetic ground truth for world grounding and foot contact: a known floor, a tilted static
camera, SMPL people walking and standing in the world, and the camera-frame "network output" a
Contract 3 result would hold, with realistic errors. Truth is known by construction.

Everything is numpy (the SMPL forward is backend.smpl_np); pass any SmplData (the
synthetic one of `backend.synthetic`, e.g. the tests' `smpl_data` fixture).

World (the result's world convention, docs/world.md): Z up, metres, the floor is z = 0 and the
lowest mesh vertex of a planted foot touches it; the camera stands above the world origin at
height `camera.height_m` and looks along +Y (pitched down by `pitch_deg`, rolled by
`roll_deg` about its optical axis). Camera frame: OpenCV (x right, y down, z forward).

API (stable: later additions only add)::

    from tests.scenes.world_scene import make_scene, write_result, NoiseSpec, SCENE_KINDS
    scene = make_scene(smpl, kind="walk_and_stand", seed=0, frames=90, fps=30.0, noise=NoiseSpec())
    scene.camera            SceneCamera: width, height, focal, principal (2,), height_m, pitch_deg,
                            roll_deg, camera_to_world (4,4), world_to_camera(p (...,3)) -> (...,3),
                            project(p_cam (...,3)) -> (...,2) pixels, floor_normal_cam (3,)
    scene.people            list[PersonTruth], one per track:
        .track_id, .kind ("walk" | "stand" | "bounce"), .frame_index (T,) int64,
        .betas (10,), .world_global_orient (T,3), .world_body_pose (T,23,3), .world_transl (T,3)
            (smplx: world vertices = SMPL(world_global_orient, world_body_pose, betas) + world_transl)
        .joints_world (T,24,3), .sole_height (T,2) lowest vertex height of the left / right foot (m)
        .contact (T,4) 0/1 for SMPL joints 7, 8, 10, 11 (left ankle, right ankle, left foot,
            right foot): joint speed < 0.15 m/s and that foot's lowest vertex < 2 cm above the floor
        .camera_global_orient (T,3) true root orientation in the camera frame, .camera_transl (T,3)
        .feet_visible (T,2) bool: that foot's joints project inside the image
    scene.network           list[dict], one per track, the raw network output in the Contract 3 track
                            layout (backend.result.track_arrays): global_orient (crop-relative, as TCMR
                            predicts it), body_pose, betas_per_frame, betas, transl (camera frame, from
                            the crop camera as backend.camera does), cam_weak (s,tx,ty), bbox_xywh,
                            joints3d (zeros unless write_result gets J_regressor_extra), joints_rest,
                            parents, frame_index
    scene.fps, scene.frame_count, scene.kind, scene.noise
    write_result(scene, folder, j_regressor_extra=None) -> Path   a complete result directory

Kinds (SCENE_KINDS): "walk_and_stand" (3 walkers + 2 standers, several near the left/right
image edges, 1920x1080, f = image diagonal, camera 1.45 m high, pitched 10 deg down, rolled
2.5 deg), "upper_body" (people close to a level camera: no foot in view), "trampoline" (a person
bouncing: the feet never rest). The network errors (NoiseSpec) are: slow limb errors of a few
degrees (smooth random rotations, ~0.7 s correlation), small frame-to-frame jitter, a slow root
orientation error, depth errors of a few percent along the viewing ray (a per-person bias, a
slow drift and jitter), box
jitter and per-frame shape noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from backend.camera import crop_cam_to_transl
from backend.smpl_np import matrix_to_rotvec, pelvis_rest, rotvec_to_matrix, smpl_forward

SCENE_KINDS = ("walk_and_stand", "upper_body", "trampoline")
CONTACT_JOINTS = (7, 8, 10, 11)
CONTACT_SPEED = 0.15  # m/s
CONTACT_HEIGHT = 0.02  # m, the foot's lowest vertex above the floor
BOX_SCALE = 1.2
# SMPL canonical (x left, y up, z forward) -> world with the body facing +Y and Z up.
_SMPL_TO_WORLD = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
_LEVEL_CAMERA = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # cam axes -> world


@dataclass(frozen=True)
class NoiseSpec:
    """Errors of the simulated network (degrees, fractions of the depth, fractions of the box)."""

    root_slow_deg: float = 1.0
    root_jitter_deg: float = 0.3
    limb_slow_deg: float = 3.0
    limb_jitter_deg: float = 0.5
    depth_bias: float = 0.03  # std of the per-person relative depth error along the viewing ray
    depth_slow: float = 0.02  # std of its slow drift (zero mean over the track)
    depth_jitter: float = 0.004  # frame-to-frame relative depth jitter
    box_jitter: float = 0.01  # box centre and side jitter, fraction of the side
    betas_jitter: float = 0.03
    correlation_s: float = 0.7


@dataclass(frozen=True)
class SceneCamera:
    width: int
    height: int
    focal: float
    principal: np.ndarray
    height_m: float
    pitch_deg: float  # positive: looking down
    roll_deg: float  # about the optical axis; > 0: the world's up leans towards the image's +x
    camera_to_world: np.ndarray  # (4,4) OpenCV camera frame -> world

    @property
    def rotation_wc(self) -> np.ndarray:
        return self.camera_to_world[:3, :3]

    @property
    def floor_normal_cam(self) -> np.ndarray:
        """World +Z (up) in camera coordinates (3,)."""
        return self.rotation_wc.T @ np.array([0.0, 0.0, 1.0])

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        return (p - self.camera_to_world[:3, 3]) @ self.rotation_wc

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        p = np.asarray(points_cam, dtype=np.float64)
        return self.focal * p[..., :2] / p[..., 2:3] + self.principal


@dataclass
class PersonTruth:
    track_id: int
    kind: str
    frame_index: np.ndarray
    betas: np.ndarray
    world_global_orient: np.ndarray
    world_body_pose: np.ndarray
    world_transl: np.ndarray
    joints_world: np.ndarray
    sole_height: np.ndarray
    contact: np.ndarray
    camera_global_orient: np.ndarray = field(default=None)
    camera_transl: np.ndarray = field(default=None)
    feet_visible: np.ndarray = field(default=None)


@dataclass
class WorldScene:
    kind: str
    fps: float
    frame_count: int
    camera: SceneCamera
    people: list[PersonTruth]
    network: list[dict]
    noise: NoiseSpec
    smpl: object = field(repr=False, default=None)


def _rot(axis: str, deg) -> np.ndarray:
    return Rotation.from_euler(axis, deg, degrees=True).as_matrix()


def make_camera(width: int = 1920, height: int = 1080, height_m: float = 1.45, pitch_deg: float = 10.0,
                roll_deg: float = 2.5, focal: float | None = None) -> SceneCamera:
    """A static camera above the world origin looking along +Y, pitched down and rolled."""
    focal = float(math.hypot(width, height)) if focal is None else float(focal)
    rot = _LEVEL_CAMERA @ _rot("x", -pitch_deg) @ _rot("z", -roll_deg)
    c2w = np.eye(4)
    c2w[:3, :3] = rot
    c2w[:3, 3] = [0.0, 0.0, height_m]
    return SceneCamera(width, height, focal, np.array([width / 2.0, height / 2.0]), height_m, pitch_deg,
                       roll_deg, c2w)


def _smooth_noise(rng: np.random.Generator, shape: tuple, frames_sigma: float) -> np.ndarray:
    """Zero-mean, unit-std noise (T,...) smooth along axis 0 (Gaussian-filtered white noise)."""
    white = rng.normal(size=(shape[0] + 8 * int(frames_sigma + 1), *shape[1:]))
    smooth = gaussian_filter1d(white, frames_sigma, axis=0, mode="wrap")[:shape[0]]
    smooth = smooth - smooth.mean(axis=0)
    return smooth / max(float(smooth.std()), 1e-9)


# ----------------------------------------------------------------------------------------------
# Motion of one person in the world
# ----------------------------------------------------------------------------------------------
def _arms_down(pose: np.ndarray, swing: np.ndarray) -> None:
    """Shoulders 16/17 from the T-pose down by ~70 deg, swinging forward/back by `swing` rad."""
    for joint, sign in ((16, 1.0), (17, -1.0)):
        rot = Rotation.from_euler("zx", np.stack([np.full_like(swing, -sign * 1.2), sign * swing], 1))
        pose[:, joint - 1] = rot.as_rotvec()
    pose[:, 18 - 1] = np.stack([np.zeros_like(swing), np.full_like(swing, 0.3), np.zeros_like(swing)], 1)
    pose[:, 19 - 1] = np.stack([np.zeros_like(swing), np.full_like(swing, -0.3), np.zeros_like(swing)], 1)


def _gait_pose(t_s: np.ndarray, cadence: float, phase0: float) -> tuple[np.ndarray, np.ndarray]:
    """A walk: body pose (T,23,3) (hips, knees and ankles in the sagittal plane, arm swing) and the
    stance foot (T,) (0 left, 1 right: the leg moving backwards under the body)."""
    pose = np.zeros((len(t_s), 23, 3))
    phase = 2 * np.pi * cadence * t_s + phase0
    for hip, knee, ankle, offset in ((1, 4, 7, 0.0), (2, 5, 8, np.pi)):
        p = phase + offset
        hip_flex = -np.radians(24.0) * np.sin(p)  # about SMPL x: negative = thigh forward
        knee_flex = np.radians(60.0) * np.clip(np.cos(p), 0.0, None)  # bends in swing
        ankle_flex = -(hip_flex + knee_flex)  # the foot stays level
        pose[:, hip - 1, 0] = hip_flex
        pose[:, knee - 1, 0] = knee_flex
        pose[:, ankle - 1, 0] = ankle_flex
    _arms_down(pose, np.radians(15.0) * np.sin(phase))
    pose[:, 3 - 1, 0] = np.radians(4.0)  # slight forward lean of the spine
    return pose, (np.cos(phase) >= 0).astype(int)  # left swings while cos > 0


def _stand_pose(t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Standing: legs still (feet planted), upper body sways and gestures."""
    pose = np.zeros((len(t_s), 23, 3))
    f = rng.uniform(0.2, 0.5)
    pose[:, 3 - 1, 2] = np.radians(3.0) * np.sin(2 * np.pi * f * t_s)
    pose[:, 6 - 1, 1] = np.radians(8.0) * np.sin(2 * np.pi * f * 0.7 * t_s + 1.0)
    pose[:, 15 - 1, 1] = np.radians(15.0) * np.sin(2 * np.pi * f * 1.3 * t_s)
    _arms_down(pose, np.radians(10.0) * np.sin(2 * np.pi * f * 2.0 * t_s))
    pose[:, 1 - 1, 2], pose[:, 2 - 1, 2] = np.radians(5.0), np.radians(-5.0)  # feet apart
    return pose


def _foot_vertex_ids(smpl) -> tuple[np.ndarray, np.ndarray]:
    """Vertices skinned mostly to the left (7, 10) / right (8, 11) ankle + foot."""
    w = smpl.weights
    return np.flatnonzero(w[:, 7] + w[:, 10] > 0.5), np.flatnonzero(w[:, 8] + w[:, 11] > 0.5)


def _outline_ids(smpl) -> np.ndarray:
    """The foot vertices followed by every 5th vertex: enough for soles and person boxes."""
    left, right = _foot_vertex_ids(smpl)
    return np.concatenate([left, right, np.arange(0, len(smpl.v_template), 5)])


def _place(smpl, betas, orient_w, pose, start_xy, stance=None, lift=None):
    """Root translation (T,3) so the stance foot (stance (T,) 0 left / 1 right; None: standing
    still) keeps its ankle in place and the lowest foot vertex touches z = 0 (plus `lift` (T,)
    metres when given). Returns transl, verts (T,V',3) of _outline_ids, joints (T,24,3)."""
    t = len(orient_w)
    verts0, joints0 = smpl_forward(smpl, betas, orient_w, pose, np.zeros((t, 3)),
                                   vertex_ids=_outline_ids(smpl))
    left, right = _foot_vertex_ids(smpl)
    nl, nr = len(left), len(right)
    sole0 = np.stack([verts0[:, :nl, 2].min(1), verts0[:, nl:nl + nr, 2].min(1)], axis=1)  # (T,2)
    transl = np.zeros((t, 3))
    transl[:, 2] = -sole0.min(1) + (0.0 if lift is None else lift)
    transl[:, :2] = start_xy
    if stance is not None:
        ankle = joints0[:, [7, 8], :2]
        for i in range(1, t):
            s = stance[i]
            transl[i, :2] = transl[i - 1, :2] - (ankle[i, s] - ankle[i - 1, s])
    return transl, verts0 + transl[:, None], joints0 + transl[:, None]


def _contacts(joints: np.ndarray, sole_h: np.ndarray, fps: float) -> np.ndarray:
    vel = np.gradient(joints[:, list(CONTACT_JOINTS)], axis=0) * fps  # (T,4,3)
    slow = np.linalg.norm(vel, axis=-1) < CONTACT_SPEED
    low = sole_h[:, [0, 1, 0, 1]] < CONTACT_HEIGHT
    return (slow & low).astype(np.float32)


def _person(smpl, track_id, kind, frames, fps, rng, start_xy, direction=(0.0, 1.0)):
    t_s = np.arange(len(frames)) / fps
    d = np.asarray(direction, dtype=np.float64)
    heading = math.degrees(math.atan2(-d[0], d[1]))
    betas = rng.normal(0.0, 0.8, size=10)
    lift = stance = None
    if kind == "walk":
        pose, stance = _gait_pose(t_s, rng.uniform(0.85, 1.0), rng.uniform(0, 2 * np.pi))
    elif kind == "stand":
        pose = _stand_pose(t_s, rng)
    else:  # bounce: never at rest on anything
        pose = _stand_pose(t_s, rng)
        pose[:, [3, 4], 0] = np.radians(20.0) * np.abs(np.sin(np.pi * 1.2 * t_s))[:, None]
        lift = 0.05 + 0.55 * np.abs(np.sin(np.pi * 1.2 * t_s + 0.4))
    sway = np.radians(2.0) * np.sin(2 * np.pi * 0.3 * t_s)
    orient = _rot("z", heading) @ _SMPL_TO_WORLD @ Rotation.from_euler("z", sway[:, None]).as_matrix()
    orient_w = matrix_to_rotvec(orient)
    transl, verts, joints = _place(smpl, betas, orient_w, pose, start_xy, stance, lift)
    nl, nr = (len(ids) for ids in _foot_vertex_ids(smpl))
    sole_h = np.stack([verts[:, :nl, 2].min(1), verts[:, nl:nl + nr, 2].min(1)], axis=1)
    return PersonTruth(track_id, kind, np.asarray(frames, dtype=np.int64), betas, orient_w, pose, transl,
                       joints, sole_h, _contacts(joints, sole_h, fps)), verts


# ----------------------------------------------------------------------------------------------
# The camera-frame network output
# ----------------------------------------------------------------------------------------------
def _look_at(ray: np.ndarray) -> np.ndarray:
    """(T,3) rays -> (T,3,3) virtual cameras looking along them, x axis level (no roll)."""
    z = ray / np.linalg.norm(ray, axis=1, keepdims=True)
    x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.stack([x, np.cross(z, x), z], axis=2)


def _noisy_rot(rng, t: int, joints: int, slow_deg: float, jitter_deg: float, sigma: float) -> np.ndarray:
    err = np.radians(slow_deg) * _smooth_noise(rng, (t, joints, 3), sigma) \
        + np.radians(jitter_deg) * rng.normal(size=(t, joints, 3))
    return rotvec_to_matrix(err)


def _network(smpl, person: PersonTruth, verts_w: np.ndarray, cam: SceneCamera, noise: NoiseSpec,
             rng: np.random.Generator, fps: float) -> dict:
    from backend.result import track_arrays

    t = len(person.frame_index)
    sigma = noise.correlation_s * fps
    rot_cw = cam.rotation_wc.T
    r_cam = rot_cw @ rotvec_to_matrix(person.world_global_orient)
    j0 = pelvis_rest(smpl, person.betas)
    pelvis_cam = cam.world_to_camera(person.world_transl + j0)
    person.camera_global_orient = matrix_to_rotvec(r_cam)
    person.camera_transl = pelvis_cam - j0
    feet_px = cam.project(cam.world_to_camera(person.joints_world[:, [7, 8]]))  # (T,2,2)
    person.feet_visible = ((feet_px[..., 0] >= 0) & (feet_px[..., 0] < cam.width)
                           & (feet_px[..., 1] >= 0) & (feet_px[..., 1] < cam.height))
    px = cam.project(cam.world_to_camera(verts_w))  # (T,V,2)
    lo, hi = px.min(1), px.max(1)
    side = (hi - lo).max(1) * (1.0 + noise.box_jitter * rng.normal(size=t))
    centre = (lo + hi) / 2.0 + noise.box_jitter * side[:, None] * rng.normal(size=(t, 2))
    ray = np.concatenate([(centre - cam.principal) / cam.focal, np.ones((t, 1))], axis=1)
    r_crop = np.swapaxes(_look_at(ray), 1, 2) @ r_cam @ _noisy_rot(
        rng, t, 1, noise.root_slow_deg, noise.root_jitter_deg, sigma)[:, 0]
    body = rotvec_to_matrix(person.world_body_pose) @ _noisy_rot(
        rng, t, 23, noise.limb_slow_deg, noise.limb_jitter_deg, sigma)
    betas_pf = person.betas + noise.betas_jitter * rng.normal(size=(t, 10))
    depth = 1.0 + noise.depth_bias * rng.normal() + noise.depth_slow * _smooth_noise(rng, (t,), sigma) \
        + noise.depth_jitter * rng.normal(size=t)
    j0_net = pelvis_rest(smpl, betas_pf.mean(0))
    transl_net = pelvis_cam * depth[:, None] - j0_net  # the pelvis slides along its viewing ray
    b = BOX_SCALE * side
    s = 2.0 * cam.focal / (b * transl_net[:, 2])
    cam_weak = np.stack([s, transl_net[:, 0] - 2.0 * (centre[:, 0] - cam.width / 2.0) / (b * s),
                         transl_net[:, 1] - 2.0 * (centre[:, 1] - cam.height / 2.0) / (b * s)], axis=1)
    boxes = np.concatenate([centre, side[:, None], side[:, None]], axis=1)
    transl = crop_cam_to_transl(cam_weak, boxes, cam.width, cam.height, cam.focal)
    pose = np.concatenate([matrix_to_rotvec(r_crop)[:, None], matrix_to_rotvec(body)], axis=1).reshape(t, 72)
    from backend.smpl_np import shaped_rest

    return track_arrays(person.frame_index, pose, betas_pf, transl, cam_weak, boxes, np.zeros((t, 49, 3)),
                        shaped_rest(smpl, betas_pf.mean(0))[1])


# ----------------------------------------------------------------------------------------------
# Scenes
# ----------------------------------------------------------------------------------------------
def _layout(kind: str, frames: int):
    """(camera kwargs, [(kind, first frame, start xy, direction)]) of a scene kind."""
    if kind == "walk_and_stand":
        return {}, [("walk", 0, (-2.25, 6.0), (-0.36, 1.0)),  # away from the camera, left edge
                    ("walk", 0, (3.45, 10.0), (-0.36, -1.0)),  # towards it, right edge
                    ("walk", 10, (-1.8, 8.0), (1.0, 0.08)),  # across the frame
                    ("stand", 0, (2.35, 6.5), (-0.5, -1.0)),  # near the right edge
                    ("stand", 0, (0.3, 9.0), (0.2, -1.0))]
    if kind == "upper_body":
        return {"height_m": 1.4, "pitch_deg": -2.0, "roll_deg": 1.0}, [
            ("stand", 0, (0.2, 2.3), (0.0, -1.0)), ("walk", 0, (-0.9, 2.6), (1.0, 0.0))]
    if kind == "trampoline":
        return {}, [("bounce", 0, (0.4, 7.0), (0.0, -1.0))]
    raise ValueError(f"unknown scene kind {kind!r}; use one of {SCENE_KINDS}")


def make_scene(smpl, kind: str = "walk_and_stand", seed: int = 0, frames: int = 90, fps: float = 30.0,
               noise: NoiseSpec | None = None, camera: SceneCamera | None = None) -> WorldScene:
    """Build the truth and the simulated network output of one scene (deterministic for a seed)."""
    noise = NoiseSpec() if noise is None else noise
    rng = np.random.default_rng(seed)
    cam_kwargs, layout = _layout(kind, frames)
    cam = make_camera(**cam_kwargs) if camera is None else camera
    people, network = [], []
    for track_id, (pkind, first, xy, direction) in enumerate(layout, start=1):
        person, verts = _person(smpl, track_id, pkind, np.arange(first, frames), fps, rng, xy, direction)
        network.append(_network(smpl, person, verts, cam, noise, rng, fps))
        people.append(person)
    return WorldScene(kind, fps, frames, cam, people, network, noise, smpl)


def _joints49(smpl, arrays: dict, j_regressor_extra: np.ndarray) -> np.ndarray:
    """TCMR's 49 joints in model coordinates (no translation), from the raw output."""
    from backend.models.smpl import EXTRA_VERTEX_IDS, JOINT_MAP

    pose = np.asarray(arrays["body_pose"], dtype=np.float64)
    t = len(pose)
    out = np.zeros((t, 49, 3))
    for i in range(t):
        verts, joints = smpl_forward(smpl, arrays["betas_per_frame"][i], arrays["global_orient"][i:i + 1],
                                     pose[i:i + 1], np.zeros((1, 3)))
        j54 = np.concatenate([joints[0], verts[0, list(EXTRA_VERTEX_IDS)], j_regressor_extra @ verts[0]])
        out[i] = j54[list(JOINT_MAP)]
    return out


def write_result(scene: WorldScene, folder, j_regressor_extra: np.ndarray | None = None) -> Path:
    """Write the network output as a complete Contract 3 result directory (format 1, no world keys)."""
    from backend.result import FORMAT_VERSION, ResultWriter

    cam = scene.camera
    entries = []
    with ResultWriter(folder) as writer:
        for person, arrays in zip(scene.people, scene.network):
            arrays = dict(arrays)
            if j_regressor_extra is not None:
                arrays["joints3d"] = _joints49(scene.smpl, arrays, j_regressor_extra).astype(np.float32)
            name = writer.write_track(person.track_id, arrays)
            fi = person.frame_index
            entries.append({"id": person.track_id, "file": name, "num_frames": len(fi),
                            "first_frame": int(fi[0]), "last_frame": int(fi[-1]), "interpolated_frames": 0})
        meta = {
            "format_version": FORMAT_VERSION,
            "producer": {"name": "tests.scenes.world_scene", "version": "0", "synthetic_model_data": True},
            "config": {"scene": scene.kind},
            "video": {"path": "", "kind": "video", "fps": scene.fps, "frame_count": scene.frame_count,
                      "width": cam.width, "height": cam.height, "processed_frames": [0, scene.frame_count]},
            "camera": {"model": "pinhole", "focal_length_px": cam.focal,
                       "principal_point_px": [float(cam.principal[0]), float(cam.principal[1])],
                       "focal_source": "user", "crop_box_scale": BOX_SCALE},
            "conventions": {"rotation": "axis-angle", "camera_frame": "opencv: x right, y down, z forward",
                            "units": "metres", "transl": "posed SMPL vertices + transl (smplx convention)"},
            "tracks": entries,
        }
        return writer.commit(meta)
