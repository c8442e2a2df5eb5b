"""Synthetic world-frame ground truth for the foot-lock tests, with a simulated network output.

Truth by construction: feet are placed first (footprints on the floor z = 0, each planted
foot flat and motionless for its whole stance), then the legs are solved to reach them
(two-bone IK, checked by forward kinematics: `PersonTruth.max_planted_step` is what the
tests assert to be ~0). Contact truth: 1 for a foot's ankle and foot joints over its stance.

The network output (camera frame, as the grounding issue simulates it): slow limb errors of a
few degrees and a little jitter on every joint, a slow root orientation error, and depth
errors of a few percent along the viewing ray (a slow part plus frame-to-frame jitter); the
pelvis stays on its pixel. `world_input` is that output turned into the world with the true
camera: what the `ground` command hands the foot lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from backend import smpl_np
from backend.footlock import body
from backend.footlock.leg_ik import two_bone
from backend.footlock.legs import UPRIGHT, flat_ankle_height

FPS = 30.0
WIDTH, HEIGHT = 1920, 1080


@dataclass(frozen=True)
class Noise:
    limb_slow_deg: float = 3.0
    limb_jitter_deg: float = 0.5
    root_slow_deg: float = 1.0
    depth_slow: float = 0.03
    depth_jitter: float = 0.005
    correlation_frames: float = 20.0


@dataclass
class PersonTruth:
    kind: str
    betas: np.ndarray
    track: dict  # world_global_orient, world_body_pose, world_transl, betas
    contact: np.ndarray  # (T,4) 0/1
    joints: np.ndarray  # (T,24,3) world
    world_input: dict  # the un-locked network output in the world
    camera_output: np.ndarray  # (T,24,3) world joints of the raw camera-frame output, true camera
    max_planted_step: float  # metres: the truth's own foot motion over planted frames


@dataclass
class Scene:
    camera_to_world: np.ndarray
    focal: float
    people: list

    def project(self, world_points: np.ndarray) -> np.ndarray:
        c2w = self.camera_to_world
        p = (world_points - c2w[:3, 3]) @ c2w[:3, :3]
        return self.focal * p[..., :2] / p[..., 2:3] + np.array([WIDTH / 2.0, HEIGHT / 2.0])


def camera(height: float = 1.5, pitch_deg: float = 10.0, roll_deg: float = 2.0) -> np.ndarray:
    """camera_to_world (4,4): above the origin, looking along +Y, pitched down, rolled."""
    level = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # cam x,y,z -> world
    rot = level @ Rotation.from_euler("x", -pitch_deg, degrees=True).as_matrix() \
        @ Rotation.from_euler("z", roll_deg, degrees=True).as_matrix()
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = rot, (0.0, 0.0, height)
    return c2w


def _heading_rot(yaw: np.ndarray) -> np.ndarray:
    """Upright body rotations (T,3,3) facing heading `yaw` (radians from +X)."""
    return Rotation.from_euler("z", (yaw + np.pi / 2.0)[:, None]).as_matrix() @ UPRIGHT


def _footprints(kind: str, t_count: int, start, yaw: float, rng):
    """Per foot (left, right): ankle xy (T,2) and planted (T,) for a walk or a stand."""
    fwd = np.array([math.cos(yaw), math.sin(yaw)])
    left = np.array([-fwd[1], fwd[0]])  # the body's left
    t = np.arange(t_count)
    feet = []
    if kind == "walk":
        cycle, stance, stride = 32.0, 0.62, 0.75  # frames, fraction, metres per cycle
        for side, phase in ((1.0, 0.0), (-1.0, 0.5)):
            u = t / cycle + phase
            k = np.floor(u)
            f = u - k
            planted = f < stance
            s = np.clip((f - stance) / (1.0 - stance), 0.0, 1.0)
            s = s * s * (3 - 2 * s)
            along = stride * (k + np.where(planted, 0.0, s)) - stride * phase
            xy = np.asarray(start) + along[:, None] * fwd + side * 0.09 * left
            feet.append((xy, planted, np.where(planted, 0.0, 0.07 * np.sin(np.pi * s))))
    else:  # stand, one side step of the right foot in the middle
        for side in (1.0, -1.0):
            xy = np.asarray(start) + np.zeros((t_count, 1)) * fwd + side * 0.11 * left
            planted = np.ones(t_count, dtype=bool)
            lift = np.zeros(t_count)
            if side < 0:
                a, b = int(0.4 * t_count), int(0.4 * t_count) + 12
                s = np.clip((t - a) / (b - a), 0.0, 1.0)
                s = s * s * (3 - 2 * s)
                xy = xy - (0.15 * s)[:, None] * left
                planted = (t < a) | (t >= b)
                lift = np.where(planted, 0.0, 0.06 * np.sin(np.pi * s))
            feet.append((xy, planted, lift))
    return feet, fwd


def _person(smpl, kind: str, t_count: int, start, yaw: float, rng) -> tuple[dict, np.ndarray]:
    betas = rng.normal(0.0, 0.5, size=10)
    model = body.body_model(smpl, betas)
    feet, _fwd = _footprints(kind, t_count, start, yaw, rng)
    pose = np.zeros((t_count, 23, 3))
    for joint, sign in ((16, 1.0), (17, -1.0)):  # arms down, a little swing
        pose[:, joint - 1] = Rotation.from_euler("zx", np.stack(
            [np.full(t_count, -sign * 1.2), 0.2 * np.sin(np.arange(t_count) / 6.0)], 1)).as_rotvec()
    orient = _heading_rot(np.full(t_count, yaw)) @ Rotation.from_euler(
        "y", 0.05 * np.sin(np.arange(t_count) / 9.0)[:, None]).as_matrix()
    pelvis_xy = 0.5 * (feet[0][0] + feet[1][0])
    if kind == "walk":
        pelvis_xy = gaussian_filter1d(pelvis_xy, 4.0, axis=0, mode="nearest")
    leg = np.linalg.norm(model.rest_joints[4] - model.rest_joints[1]) + np.linalg.norm(
        model.rest_joints[7] - model.rest_joints[4])
    flat_h = flat_ankle_height(model, 0, 2)
    hip_drop = model.rest_joints[0, 1] - model.rest_joints[1, 1]
    pelvis_z = flat_h + hip_drop + leg * (0.9 if kind == "walk" else 0.94) \
        + 0.01 * np.cos(np.arange(t_count) / 3.0)
    transl = np.concatenate([pelvis_xy, pelvis_z[:, None]], 1) - model.rest_joints[0]
    local = smpl_np.pose_rotations(Rotation.from_matrix(orient).as_rotvec(), pose)
    for leg_name, (xy, _planted, lift) in zip(("left", "right"), feet):
        hip, knee, ankle, _foot, _ca, _cf = body.LEGS[leg_name]
        pos, glob = body.forward(model, local)
        pos = pos + transl[:, None]
        goal = np.concatenate([xy, (flat_h + lift)[:, None]], 1)
        r1, r2, reached = two_bone(pos[:, hip], pos[:, knee], pos[:, ankle], goal, glob[:, 0][:, :, 2])
        assert reached.all(), "truth legs must reach their footprints"
        g_hip, g_knee = r1 @ glob[:, hip], r2 @ r1 @ glob[:, knee]
        flat = _heading_rot(np.full(t_count, yaw))
        local[:, hip] = np.swapaxes(glob[:, 0], 1, 2) @ g_hip
        local[:, knee] = np.swapaxes(g_hip, 1, 2) @ g_knee
        local[:, ankle] = np.swapaxes(g_knee, 1, 2) @ flat
    body_pose = Rotation.from_matrix(local[:, 1:].reshape(-1, 3, 3)).as_rotvec().reshape(t_count, 23, 3)
    track = {"world_global_orient": Rotation.from_matrix(orient).as_rotvec(), "world_body_pose": body_pose,
             "world_transl": transl, "betas": betas, "frame_index": np.arange(t_count)}
    contact = np.stack([feet[0][1], feet[1][1], feet[0][1], feet[1][1]], 1).astype(float)
    return track, contact


def _smooth(rng, shape, sigma: float) -> np.ndarray:
    x = gaussian_filter1d(rng.normal(size=shape), sigma, axis=0, mode="wrap")
    return x / max(float(np.sqrt(np.mean(x ** 2))), 1e-9)  # unit RMS (not std: keeps the bias)


def _network(track: dict, smpl, c2w: np.ndarray, noise: Noise, rng) -> dict:
    """The network output of one truth track, in the world (true camera)."""
    t = len(track["world_transl"])
    sig = noise.correlation_frames
    limb = np.radians(noise.limb_slow_deg) * _smooth(rng, (t, 23, 3), sig) \
        + np.radians(noise.limb_jitter_deg) * rng.normal(size=(t, 23, 3))
    pose = (Rotation.from_rotvec(track["world_body_pose"].reshape(-1, 3))
            * Rotation.from_rotvec(limb.reshape(-1, 3))).as_rotvec().reshape(t, 23, 3)
    root = Rotation.from_rotvec(track["world_global_orient"]) * Rotation.from_rotvec(
        np.radians(noise.root_slow_deg) * _smooth(rng, (t, 3), sig))
    j0 = body.body_model(smpl, track["betas"]).rest_joints[0]
    centre = c2w[:3, 3]
    pelvis = track["world_transl"] + j0
    scale = 1.0 + noise.depth_slow * _smooth(rng, (t,), sig) + noise.depth_jitter * rng.normal(size=t)
    pelvis_noisy = centre + (pelvis - centre) * scale[:, None]  # along the viewing ray
    world = {"world_global_orient": root.as_rotvec(), "world_body_pose": pose,
             "world_transl": pelvis_noisy - j0, "betas": track["betas"].copy(),
             "frame_index": track["frame_index"]}
    return world


def joints_of(track: dict, smpl) -> np.ndarray:
    model = body.body_model(smpl, track["betas"])
    local = smpl_np.pose_rotations(track["world_global_orient"], track["world_body_pose"])
    pos, _ = body.forward(model, local)
    return pos + np.asarray(track["world_transl"])[:, None]


def sole_heights(track: dict, smpl) -> np.ndarray:
    """(T,4) lowest sole vertex height of each contact joint (world z)."""
    model = body.body_model(smpl, track["betas"])
    local = smpl_np.pose_rotations(track["world_global_orient"], track["world_body_pose"])
    pos, glob = body.forward(model, local)
    return body.sole_points(model, local, pos, glob)[..., 2].min(-1) + track["world_transl"][:, 2:3]


def make_scene(smpl, seed: int = 0, frames: int = 120, noise: Noise = Noise()) -> Scene:
    """Two walkers (across and towards the camera) and one stander, a tilted static camera."""
    rng = np.random.default_rng(seed)
    c2w = camera()
    layout = (("walk", (-1.8, 6.5), 0.15), ("walk", (0.9, 8.5), -1.9), ("stand", (1.2, 5.0), -1.2))
    people = []
    for kind, start, yaw in layout:
        track, contact = _person(smpl, kind, frames, start, yaw, rng)
        joints = joints_of(track, smpl)
        feet = joints[:, list(smpl_np.CONTACT_JOINTS)]
        both = (contact[1:] > 0.5) & (contact[:-1] > 0.5)
        step = np.linalg.norm(feet[1:] - feet[:-1], axis=-1)[both].max()
        world = _network(track, smpl, c2w, noise, rng)
        people.append(PersonTruth(kind, track["betas"], track, contact, joints, world, joints_of(world, smpl),
                                  float(step)))
    return Scene(c2w, float(math.hypot(WIDTH, HEIGHT)), people)
