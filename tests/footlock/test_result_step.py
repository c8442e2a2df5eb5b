"""lock_world_tracks: the adapter of the `ground` step over all tracks of a result."""

from __future__ import annotations

import numpy as np

from backend.footlock.result_step import lock_world_tracks
from tests.footlock import metrics, truth


def _tracks(scene):
    out = []
    for i, p in enumerate(scene.people):
        t = dict(p.world_input)
        t["contact"] = np.zeros((len(t["world_transl"]), 4), dtype=np.float32)
        t["track_id"] = i + 1
        out.append(t)
    return out


def test_every_track_gets_contacts_and_the_lock(smpl_data):
    scene = truth.make_scene(smpl_data, seed=2, frames=60)
    tracks = _tracks(scene)
    tracks[1]["world_transl"] = tracks[1]["world_transl"] + [0.0, 0.0, 2.0]  # this one floats
    world = {"camera_to_world": scene.camera_to_world.tolist(), "ground_found": True}
    out, warnings = lock_world_tracks(tracks, world, smpl_data, truth.FPS)
    assert [w[0] for w in warnings] == ["FOOT_LOCK_NO_CONTACT"] and warnings[0][1].startswith("track 2:")
    for i in (0, 2):
        assert out[i]["contact"].dtype == np.float32
        assert metrics.f1([metrics.f1_counts(out[i]["contact"], scene.people[i].contact)]) > 0.85
        assert not np.allclose(out[i]["world_transl"], tracks[i]["world_transl"])
        assert out[i]["track_id"] == i + 1
    assert np.array_equal(out[1]["world_transl"], tracks[1]["world_transl"])


def test_no_floor_no_lock(smpl_data):
    scene = truth.make_scene(smpl_data, seed=2, frames=30)
    tracks = _tracks(scene)
    out, warnings = lock_world_tracks(tracks, {"camera_to_world": np.eye(4).tolist(), "ground_found": False},
                                      smpl_data, truth.FPS)
    assert warnings == []
    for a, b in zip(out, tracks):
        assert np.array_equal(a["world_transl"], b["world_transl"]) and not a["contact"].any()
