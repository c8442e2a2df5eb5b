"""Fixtures of the grounding tests: synthetic world scenes (tests/scenes/world_scene.py) and
their grounding, built once per module."""

from __future__ import annotations

import pytest

from backend.grounding.ground import View


def view_of(scene) -> View:
    cam = scene.camera
    return View(cam.focal, (float(cam.principal[0]), float(cam.principal[1])), cam.width, cam.height)


def tracks_of(scene) -> list[dict]:
    return [dict(arrays, track_id=person.track_id) for person, arrays in zip(scene.people, scene.network)]


@pytest.fixture(scope="session")
def walk_scene(smpl_data):
    from tests.scenes.world_scene import make_scene

    return make_scene(smpl_data, "walk_and_stand", seed=0)
