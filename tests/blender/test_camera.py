"""The video camera: looking through it, the body lands on the pixels the result's pinhole
camera says, and the video (or image folder) is its background."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import evaluated_vertices
from .result_factory import random_track, write_result
from .smpl_reference import blender_to_camera


@pytest.mark.parametrize("width, height, principal", [(640, 480, (300.0, 260.0)), (480, 800, (250.0, 390.0))])
def test_body_projects_onto_the_pinhole_pixels(bpy_addon, model_data_dir, tmp_path, width, height, principal):
    bpy = bpy_addon
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    arrays = random_track(np.random.default_rng(5), np.arange(2))
    folder = write_result(tmp_path / "clip", {1: arrays}, frame_count=2, width=width, height=height,
                          focal=1100.0, principal=principal)
    assert bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(model_data_dir)) == {"FINISHED"}
    scene = bpy.context.scene
    cam = scene.camera
    world = evaluated_vertices(bpy, bpy.data.objects["TCMR track 1 body"], 2)[::97]
    cam_pts = blender_to_camera(world)  # OpenCV camera frame
    want_u = 1100.0 * cam_pts[:, 0] / cam_pts[:, 2] + principal[0]
    want_v = 1100.0 * cam_pts[:, 1] / cam_pts[:, 2] + principal[1]
    ndc = np.array([list(world_to_camera_view(scene, cam, Vector(p))) for p in world])
    got_u, got_v = ndc[:, 0] * width, (1.0 - ndc[:, 1]) * height
    assert np.abs(got_u - want_u).max() < 0.05 and np.abs(got_v - want_v).max() < 0.05
    assert np.allclose(np.array(cam.matrix_world.translation), 0.0)


def test_video_and_image_folder_backgrounds(bpy_addon, model_data_dir, tmp_path):
    import cv2

    bpy = bpy_addon
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for i in range(7):
        writer.write(np.full((48, 64, 3), i * 30, np.uint8))
    writer.release()
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames_dir / f"{i:04d}.png"), np.full((48, 64, 3), i * 50, np.uint8))

    arrays = random_track(np.random.default_rng(0), np.arange(2))
    for name, path in (("a", video), ("b", frames_dir)):
        folder = write_result(tmp_path / name, {1: arrays}, frame_count=7, width=64, height=48, fps=25.0,
                              video_path=str(path))
        assert bpy.ops.tcmr.import_result(filepath=str(folder), data_dir=str(model_data_dir)) == {"FINISHED"}
    cam_a = bpy.data.objects["TCMR a camera"].data
    cam_b = bpy.data.objects["TCMR b camera"].data
    assert cam_a.show_background_images and len(cam_a.background_images) == 1
    bg = cam_a.background_images[0]
    assert bg.source == "MOVIE_CLIP" and bg.clip.frame_duration == 7
    assert bg.clip.frame_start == 1  # video frame 0 shows at scene frame 1, where its keys are
    bg = cam_b.background_images[0]
    assert bg.source == "IMAGE" and bg.image.source == "SEQUENCE"
    assert bg.image_user.frame_duration == 4 and bg.image_user.frame_start == 1
    for scene_frame in (1, 4):  # video frame i (file 000i, numbering from 0) at scene frame i + 1
        bpy.context.scene.frame_set(scene_frame)
        shown = bg.image.filepath_from_user(image_user=bg.image_user)
        assert shown.endswith(f"{scene_frame - 1:04d}.png"), shown


def test_unnumbered_image_folder_warns(bpy_addon, model_data_dir, tmp_path):
    import cv2

    from addon.importer import import_result

    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(frames_dir / name), np.zeros((48, 64, 3), np.uint8))
    arrays = random_track(np.random.default_rng(0), np.arange(2))
    folder = write_result(tmp_path / "clip", {1: arrays}, frame_count=2, video_path=str(frames_dir))
    report = import_result(bpy_addon.context, str(folder), str(model_data_dir))
    assert any("not numbered consecutively" in w for w in report.warnings)
    assert report.armatures == ["TCMR track 1"]


def test_retimes_when_blender_reads_the_video_at_another_rate(bpy_addon, model_data_dir, tmp_path):
    """Blender decodes the clip at 25 fps; the backend said 50 fps (as Blender does with some
    variable-frame-rate files): keys go where the clip shows their frame."""
    import cv2

    from addon.anim_shim import action_fcurves
    from addon.importer import import_result

    bpy = bpy_addon
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    writer.release()
    arrays = random_track(np.random.default_rng(0), np.arange(10))
    same = write_result(tmp_path / "same", {1: arrays}, frame_count=10, fps=25.0, video_path=str(video))
    assert not import_result(bpy.context, str(same), str(model_data_dir)).warnings[1:]  # only "synthetic"
    assert bpy.context.scene.frame_end == 10

    other = write_result(tmp_path / "other", {1: arrays}, frame_count=10, fps=50.0, video_path=str(video))
    warnings = import_result(bpy.context, str(other), str(model_data_dir)).warnings
    assert any("at 25 fps" in w and "at 50 fps" in w and "lines up" in w for w in warnings)
    scene = bpy.context.scene
    assert scene.render.fps == 25 and scene.render.fps_base == 1.0
    assert scene.frame_end == 6  # video frame 9 sits at scene frame 5.5
    arm = bpy.data.objects["TCMR track 1.001"]
    for fc in action_fcurves(arm):
        keys = np.array([k.co[0] for k in fc.keyframe_points])
        assert np.allclose(keys, 1 + 0.5 * np.arange(10))

    longer = write_result(tmp_path / "longer", {1: arrays}, frame_count=30, fps=50.0, video_path=str(video))
    warnings = import_result(bpy.context, str(longer), str(model_data_dir)).warnings
    assert any("lengths differ" in w and "constant frame rate" in w for w in warnings)
    assert scene.render.fps == 50 and scene.frame_end == 30
