"""Rotation, root-transform and coordinate math for the SMPL character (pure numpy).

Frames used here (all right-handed, metres):

* SMPL canonical: x to the body's left, y up, z forward. The rest joints and the mesh live here.
* OpenCV camera: x right, y down, z forward. TCMR's `global_orient` and `transl` live here.
* Blender world: the scene convention of the add-on, Blender = (x_cam, z_cam, -y_cam): the video
  camera sits at the origin looking along +Y with Z up.

Rig convention (docs/blender_facts.md): every bone's head sits on its joint at
`smpl_to_blender(joint)` = (x, -z, y), its tail points along world +Z and its roll is 0. A bone's
local axes then *are* SMPL's canonical axes, so a joint's parent-relative axis-angle is that
pose bone's rotation with no conversion. Only the pelvis needs the camera -> Blender change:

    Q = Rx(180) . R(global_orient)        L = Rx(180) . (J0 + t) - J0

(both in SMPL/bone-local coordinates; J0 = the shaped pelvis rest joint). Derivation: the posed
SMPL point is p = R0 (s - J0) + J0 + t in camera coordinates; in bone-local (SMPL) coordinates a
Blender world point w is B^-1 w with B = smpl_to_blender, and B^-1 . cam_to_blender = Rx(180);
the pelvis bone maps s to J0 + L + Q (s - J0). Equating both gives Q and L above.

Quaternions are (w, x, y, z), Blender's order. Shapes: F frames, J joints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Scene frame of video frame 0: Blender counts frames from 1, and a movie clip's first frame
# plays at scene frame 1 (MovieClip.frame_start's default), so video frame i is scene frame i + 1.
FRAME_OFFSET = 1

_RX180 = np.diag([1.0, -1.0, -1.0])  # rotation by 180 degrees about x


def cam_to_blender(points: np.ndarray) -> np.ndarray:
    """OpenCV camera coordinates (..., 3) -> Blender world (..., 3): (x, z, -y)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def blender_to_cam(points: np.ndarray) -> np.ndarray:
    """Inverse of cam_to_blender: Blender world (..., 3) -> camera (x, -z, y)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def smpl_to_blender(points: np.ndarray) -> np.ndarray:
    """SMPL canonical coordinates (..., 3) -> Blender rest coordinates (x, -z, y) (rig convention)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Rodrigues: axis-angle (..., 3) -> rotation matrices (..., 3, 3)."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)  # (..., 1)
    safe = np.where(angle > 1e-12, angle, 1.0)
    axis = np.where(angle > 1e-12, aa / safe, 0.0)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape((*aa.shape[:-1], 3, 3))
    s = np.sin(angle)[..., None]
    c = np.cos(angle)[..., None]
    eye = np.broadcast_to(np.eye(3), k.shape)
    return eye + s * k + (1.0 - c) * (k @ k)


def axis_angle_to_quat(aa: np.ndarray) -> np.ndarray:
    """Axis-angle (..., 3) -> unit quaternions (..., 4) as (w, x, y, z)."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(a/2)/a, with its series near 0 so tiny rotations stay exact.
    small = angle < 1e-6
    scale = np.where(small, 0.5 - angle**2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half), aa * scale], axis=-1)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (..., 4) quaternions (w, x, y, z): the rotation b then a."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) (w, x, y, z) -> rotation matrices (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1)
    return m.reshape((*q.shape[:-1], 3, 3))


def quat_continuity(q: np.ndarray) -> np.ndarray:
    """Hemisphere-consistent keys along axis 0 (docs/blender_facts.md): flip q -> -q where the dot with the
    previous key is negative, so component-wise interpolation takes the short way.

    q: (F, ..., 4). Returns a new array; each row is the same rotation as the input row.
    """
    q = np.array(q, dtype=np.float64, copy=True)
    if len(q) < 2:
        return q
    dots = np.sum(q[1:] * q[:-1], axis=-1)  # (F-1, ...)
    # A flip at key i flips every later key too: count flips cumulatively (parity).
    flips = np.cumsum(dots < 0, axis=0) % 2  # (F-1, ...)
    sign = np.concatenate([np.ones_like(flips[:1]), 1 - 2 * flips], axis=0)
    return q * sign[..., None]


def root_transform(global_orient: np.ndarray, transl: np.ndarray, j0: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis pose-bone rotation and location for camera-frame SMPL root motion (docs/blender_facts.md).

    global_orient (F,3) axis-angle, camera frame; transl (F,3) metres, camera frame;
    j0 (3,) shaped pelvis rest joint, SMPL canonical. Returns quat (F,4) (w,x,y,z) and
    location (F,3), both in the pelvis bone's local (= SMPL canonical) coordinates.
    """
    rx180 = np.array([0.0, 1.0, 0.0, 0.0])  # 180 degrees about x
    quat = quat_multiply(rx180, axis_angle_to_quat(global_orient))
    j0 = np.asarray(j0, dtype=np.float64)
    loc = (j0 + np.asarray(transl, dtype=np.float64)) @ _RX180.T - j0
    return quat, loc


def world_root_transform(world_global_orient: np.ndarray, world_transl: np.ndarray, j0: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis pose-bone rotation and location for world-frame SMPL root motion (docs/world.md).

    The result's world *is* Blender's world (Z up), so with B = smpl_to_blender the same
    derivation as root_transform gives Q = B^-1 . R(world_global_orient) and
    L = B^-1 (J0 + t) - J0 (B^-1 = Rx(-90)). Shapes as root_transform.
    """
    rx_m90 = np.array([np.sqrt(0.5), -np.sqrt(0.5), 0.0, 0.0])  # -90 degrees about x: B^-1
    quat = quat_multiply(rx_m90, axis_angle_to_quat(world_global_orient))
    j0 = np.asarray(j0, dtype=np.float64)
    loc = blender_to_smpl(j0 + np.asarray(world_transl, dtype=np.float64)) - j0
    return quat, loc


def blender_to_smpl(points: np.ndarray) -> np.ndarray:
    """Inverse of smpl_to_blender: Blender (..., 3) -> SMPL canonical (x, z, -y)."""
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def pose_corrective_weights(body_pose: np.ndarray) -> np.ndarray:
    """SMPL pose-blend-shape weights: (R_j - I) flattened row-major for joints 1..23.

    body_pose (F,23,3) axis-angle -> (F,207), the coefficients of posedirs[:, :, k].
    """
    body_pose = np.asarray(body_pose, dtype=np.float64)
    rot = axis_angle_to_matrix(body_pose)  # (F,23,3,3)
    return (rot - np.eye(3)).reshape(len(body_pose), -1)


def fps_to_blender(fps: float) -> tuple[int, float]:
    """Video fps -> Blender's (render.fps, render.fps_base), with fps / fps_base == video fps.

    29.97 -> (30, 1.001); 25 -> (25, 1.0); 29.83 -> (30, 1.00570...). NTSC-style rates snap to
    the exact 1.001 base.
    """
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"invalid frame rate {fps!r}")
    whole = max(1, round(fps))
    base = whole / fps
    if abs(base - 1.001) < 2e-5:
        base = 1.001
    elif abs(base - 1.0) < 1e-9:
        base = 1.0
    return int(whole), float(base)


@dataclass(frozen=True)
class Timing:
    """Where video frames land on the scene's timeline.

    Normally the scene runs at the video's rate and video frame i is scene frame i + 1. When
    Blender decodes the video file at another rate than the backend did (variable-frame-rate
    phone videos: Blender may report 60 fps for a 29.83 fps clip, numbering its frames on that
    time base), the scene runs at Blender's rate and keys are placed by time instead, at
    1 + i * scene_fps / video_fps, so the background clip shows the frame the pose came from.
    """

    scene_fps: float
    frames_per_video_frame: float = 1.0

    def scene_frames(self, frame_index: np.ndarray) -> np.ndarray:
        """Video frame numbers (T,) -> scene frames (T,) float64 (fractional when retimed)."""
        return FRAME_OFFSET + np.asarray(frame_index, dtype=np.float64) * self.frames_per_video_frame

    def frame_end(self, frame_count: int) -> int:
        """Last scene frame of a video of `frame_count` frames."""
        return FRAME_OFFSET + int(np.ceil((max(frame_count, 1) - 1) * self.frames_per_video_frame - 1e-6))


def choose_timing(video_fps: float, frame_count: int, clip_fps: float | None = None,
                  clip_frames: int | None = None) -> tuple[Timing, str | None]:
    """Timing for a result whose video Blender reads at `clip_fps` with `clip_frames` frames
    (None: no clip). Returns (timing, message or None)."""
    same = Timing(float(video_fps))
    if not clip_fps or clip_fps <= 0 or abs(clip_fps - video_fps) <= 0.01 * video_fps:
        return same, None
    video_seconds = frame_count / video_fps
    clip_seconds = (clip_frames or 0) / clip_fps
    if abs(clip_seconds - video_seconds) > 0.05 * video_seconds + 1.0 / video_fps:
        return same, (f"Blender reads the video at {clip_fps:g} fps ({clip_frames} frames), the backend at "
                      f"{video_fps:g} fps ({frame_count} frames), and their lengths differ: the background "
                      "will not line up with the motion. Convert the video to a constant frame rate "
                      "(e.g. ffmpeg -i in.mp4 -fps_mode cfr out.mp4) and process that file")
    timing = Timing(float(clip_fps), float(clip_fps) / float(video_fps))
    return timing, (f"Blender reads the video at {clip_fps:g} fps, the backend at {video_fps:g} fps "
                    f"(variable frame rate?): the scene runs at {clip_fps:g} fps and video frame i is "
                    f"scene frame 1 + i x {timing.frames_per_video_frame:.4g}, so the background lines up")
