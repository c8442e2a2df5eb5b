"""Training windows, labels and the batch schedule (pure numpy, no network)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import BackendError, Code
from backend.training import batches, data, windows
from tests.eval import joblib_writer


def test_stride1_windows_as_official_split_into_chunks():
    # 40 rows: VIBE's last stride-16 chunk ends at row 31, so real windows start at 0..16;
    # then 8 copies of the first and 7 copies of the last (official is_train edge handling).
    got = windows.train_windows(np.array(["a"] * 40), stride=1)
    expect = [0] * 8 + list(range(0, 17)) + [16] * 7
    assert got.tolist() == expect
    assert len(got) == 32  # = 16 * floor(40 / 16)


def test_stride16_and_short_videos_and_offsets():
    names = np.array(["short"] * 15 + ["b"] * 40 + ["c"] * 16)
    assert windows.train_windows(names, stride=16).tolist() == [15, 31, 55]
    one = windows.train_windows(names, stride=1)
    assert one[:8].tolist() == [15] * 8 and one[-16:].tolist() == [55] * 16  # c: 1 real window + 15 copies
    assert windows.stride_for(True) == 1 and windows.stride_for(False) == 16


def test_rows_of_a_video_must_be_contiguous():
    with pytest.raises(ValueError, match="not contiguous"):
        windows.train_windows(np.array(["a"] * 20 + ["b"] * 20 + ["a"] * 20), stride=1)


def _db(n: int = 20, **overrides) -> dict:
    rng = np.random.default_rng(0)
    db = {"vid_name": np.array(["v"] * n), "features": rng.uniform(0, 1, (n, 2048)).astype(np.float32),
          "joints2D": np.concatenate([rng.uniform(100, 500, (n, 14, 2)), np.ones((n, 14, 1))], -1),
          "joints3D": rng.normal(0, 0.3, (n, 49, 3)), "pose": rng.normal(0, 0.5, (n, 72)),
          "shape": rng.normal(0, 1, (n, 10)), "bbox": np.tile([300.0, 200.0, 100.0, 150.0], (n, 1))}
    db.update(overrides)
    return {k: v for k, v in db.items() if v is not None}


def test_3dpw_labels_crop_normalised_common_to_49(tmp_path):
    db = _db()
    path = joblib_writer.dump(db, tmp_path / "3dpw_train_db.pt")
    out = data.load_train_db(str(path), stride=1)
    assert out.kind == "3dpw" and out.is_3d and out.num_rows == 20
    x, y = db["joints2D"][..., 0], db["joints2D"][..., 1]
    # crop = 1.2 * box side around the box centre, mapped to [-1, 1]: (x - cx) / (0.6 w)
    expect = np.stack([(x - 300.0) / 60.0, (y - 200.0) / 90.0, np.ones_like(x)], -1)
    np.testing.assert_allclose(out.kp_2d[:, 25:39], expect, atol=2e-3)  # float16 labels, as official
    # joints 3DPW lacks: confidence 0 (their (0, 0) pixel is mapped into the crop too, as official)
    assert not out.kp_2d[:, :25, 2].any() and not out.kp_2d[:, 39:, 2].any()
    np.testing.assert_allclose(out.kp_3d, db["joints3D"], atol=1e-3)
    assert out.w_3d.all() and out.w_smpl.all()


def test_2d_kind_and_kind_override(tmp_path):
    db = _db(joints2D=np.ones((20, 49, 3)), joints3D=None, pose=None, shape=None)
    path = joblib_writer.dump(db, tmp_path / "clips.pt")
    with pytest.raises(BackendError) as err:
        data.load_train_db(str(path), stride=1)
    assert err.value.code == Code.BAD_ARGUMENT and "KIND=" in err.value.hint
    out = data.load_train_db(f"posetrack={path}", stride=1)
    assert out.kind == "posetrack" and not out.is_3d and not out.w_3d.any()


@pytest.mark.parametrize("overrides, needle", [
    ({"features": None}, "has no 'features'"),
    ({"pose": np.zeros((19, 72))}, "mismatched lengths"),
    ({"features": np.zeros((20, 512), np.float32)}, "'features' has shape"),
    ({"vid_name": np.array(["v"] * 10)}, "mismatched lengths"),
    ({"joints3D": np.full((20, 49, 3), np.nan)}, "NaN"),
])
def test_bad_databases_are_coded_errors(tmp_path, overrides, needle):
    path = joblib_writer.dump(_db(**overrides), tmp_path / "3dpw_train_db.pt")
    with pytest.raises(BackendError) as err:
        data.load_train_db(str(path), stride=1)
    assert err.value.code == Code.DB_INVALID and needle in err.value.message


def _tiny(name, n, is_3d, value):
    feats = np.full((n, 2048), value, np.float32)
    z = np.zeros(n, np.float32)
    return data.TrainDb(name=name, kind="custom", is_3d=is_3d, features=feats, kp_2d=np.zeros((n, 49, 3)),
                        kp_3d=np.zeros((n, 49, 3)), pose=np.zeros((n, 72)), shape=np.zeros((n, 10)),
                        w_3d=z + is_3d, w_smpl=z, windows=windows.train_windows(np.array(["v"] * n), 1))


def test_schedule_mix_determinism_and_rank_split():
    dbs = [_tiny("a", 32, False, 1.0), _tiny("b", 48, True, 2.0)]
    sched = batches.Schedule(dbs, batch_size=10, seed=5)
    assert sched.sizes == (6, 4)  # int(10 * 0.6) from the 2D stream
    again = batches.Schedule(dbs, batch_size=10, seed=5)
    for step in (0, 3, 7, 40):  # 40: deep into later passes of both streams
        parts = sched.global_batch(step)
        assert [ids.tolist() for _, ids in parts] == [ids.tolist() for _, ids in again.global_batch(step)]
        whole = batches.gather(parts)
        assert (whole.features[:6] == 1.0).all() and (whole.features[6:] == 2.0).all()
        shares = [batches.gather(batches.rank_slice(parts, r, 2)) for r in range(2)]
        np.testing.assert_array_equal(np.concatenate([s.features for s in shares]), whole.features)
        assert batches.global_counts(parts) == (10, 4, 0)
    # one pass of the 3D stream (48 windows, 4 per batch) visits every window exactly once
    seen = np.concatenate([sched.global_batch(s)[1][1] for s in range(12)])
    assert sorted(seen.tolist()) == list(range(48))
    assert batches.Schedule(dbs, 10, seed=6).global_batch(0)[1][1].tolist() != seen[:4].tolist()
