"""backend.metrics against hand-computed cases and independent implementations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from backend import metrics

REPO = Path(__file__).resolve().parents[2]


def skeleton(rng: np.random.Generator, frames: int = 5) -> np.ndarray:
    """(F,14,3) random person-sized joints in metres, away from the origin."""
    return rng.normal(0.0, 0.3, size=(frames, 14, 3)) + np.array([0.2, -0.1, 3.0])


# -- import hygiene --------------------------------------------------------------------------------
def test_metrics_import_without_torch_or_scipy():
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['scipy'] = None\n"
        "import numpy as np\n"
        "import backend.metrics as m\n"
        "x = np.zeros((4, 14, 3)); x[:, :, 0] = np.arange(14)\n"
        "print(float(m.mpjpe(x + 0.001, x).max()), float(m.pa_mpjpe(x, x).max()),"
        " len(m.accel_error(x, x)), float(m.pve(x, x + np.array([0.0, 0.003, 0.0])).mean()))\n"
        "assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    mp, pa, n_acc, pv = done.stdout.split()
    assert float(mp) == pytest.approx(0.0, abs=1e-9)  # a pure translation vanishes after root alignment
    assert float(pa) == pytest.approx(0.0, abs=1e-9)
    assert int(n_acc) == 2
    assert float(pv) == pytest.approx(3.0, abs=1e-9)


# -- hand-computed cases ---------------------------------------------------------------------------
def test_identity_gives_zero_everywhere():
    gt = skeleton(np.random.default_rng(0))
    assert np.allclose(metrics.mpjpe(gt, gt), 0.0)
    assert np.allclose(metrics.pa_mpjpe(gt, gt), 0.0, atol=1e-9)
    assert np.allclose(metrics.accel_error(gt, gt), 0.0)
    verts = np.random.default_rng(1).normal(size=(3, 6890, 3))
    assert np.allclose(metrics.pve(verts, verts), 0.0)


def test_pure_translation_is_removed_by_root_alignment():
    gt = skeleton(np.random.default_rng(2), frames=6)
    shift = np.random.default_rng(3).normal(size=(6, 1, 3))  # a different shift in every frame
    pred = gt + shift
    assert np.allclose(metrics.mpjpe(pred, gt), 0.0, atol=1e-9)
    assert np.allclose(metrics.pa_mpjpe(pred, gt), 0.0, atol=1e-9)
    assert np.allclose(metrics.accel_error(pred, gt), 0.0, atol=1e-9)
    # ...but the vertex error applies no alignment at all: |(0.003, 0.004, 0)| = 5 mm.
    assert np.allclose(metrics.pve(gt + np.array([0.003, 0.004, 0.0]), gt), 5.0)


def _hand_skeleton() -> np.ndarray:
    """One frame whose root (mean of joints 2 and 3) is at (1, 2, 3): joints 2, 3 at root -/+ 0.1 x."""
    root = np.array([1.0, 2.0, 3.0])
    offsets = np.zeros((14, 3))
    offsets[2] = [-0.1, 0.0, 0.0]
    offsets[3] = [0.1, 0.0, 0.0]
    offsets[0] = [0.0, -0.8, 0.0]  # |.| = 0.8
    offsets[5] = [0.0, -0.6, 0.0]  # 0.6
    offsets[12] = [0.0, 0.5, 0.0]  # 0.5
    offsets[13] = [0.0, 0.3, 0.4]  # 0.5
    offsets[8] = [0.3, 0.4, 0.0]  # 0.5; all others stay at the root: 0
    return (root + offsets)[None]


def test_scaled_skeleton_known_mpjpe_and_zero_pa():
    gt = _hand_skeleton()
    # pred = 2 * gt + t: after root alignment pred - gt = the root-aligned gt offsets, so
    # MPJPE = mean |offset| = (0.1 + 0.1 + 0.8 + 0.6 + 0.5 + 0.5 + 0.5) / 14 m.
    pred = 2.0 * gt + np.array([0.5, -0.2, 1.0])
    expected = (0.1 + 0.1 + 0.8 + 0.6 + 0.5 + 0.5 + 0.5) / 14 * 1000
    assert metrics.mpjpe(pred, gt)[0] == pytest.approx(expected, rel=1e-12)
    assert metrics.pa_mpjpe(pred, gt)[0] == pytest.approx(0.0, abs=1e-9)


def test_rotated_scaled_skeleton_known_mpjpe_and_zero_pa():
    gt = _hand_skeleton()
    # 90 degrees about z, no scale: |R g - g| = sqrt(2) * |g_xy| for each root-aligned offset g.
    rz = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    root = gt[0, 2:4].mean(0)
    pred = ((gt[0] - root) @ rz.T + np.array([4.0, 0.0, 0.0]))[None]
    xy_norms = [0.1, 0.1, 0.8, 0.6, 0.5, 0.3, 0.5]  # joint 13 has |(0, 0.3)| in xy
    expected = np.sqrt(2.0) * sum(xy_norms) / 14 * 1000
    assert metrics.mpjpe(pred, gt)[0] == pytest.approx(expected, rel=1e-12)
    assert metrics.pa_mpjpe(pred, gt)[0] == pytest.approx(0.0, abs=1e-9)
    # and with a scale of 0.5 on top, PA-MPJPE still removes everything
    assert metrics.pa_mpjpe(0.5 * pred, gt)[0] == pytest.approx(0.0, abs=1e-9)


def test_constant_velocity_has_zero_acceleration_error():
    rng = np.random.default_rng(4)
    gt = np.repeat(skeleton(rng, frames=1), 8, axis=0)  # a still person
    velocity = rng.normal(0.0, 0.05, size=(1, 14, 3))  # every joint its own constant velocity
    pred = gt + np.arange(8)[:, None, None] * velocity
    assert metrics.accel_error(pred, gt).shape == (6,)
    assert np.allclose(metrics.accel_error(pred, gt), 0.0, atol=1e-9)
    assert metrics.mpjpe(pred, gt)[-1] > 1.0  # the poses do differ


def test_single_joint_bump_gives_hand_computed_accel():
    gt = np.repeat(skeleton(np.random.default_rng(5), frames=1), 7, axis=0)
    pred = gt.copy()
    pred[3, 7] += np.array([0.0, 0.0084, 0.0112])  # |d| = 14 mm at frame 3, joint 7 (not a root joint)
    # acceleration of joint 7: frame 2: +d, frame 3: -2d, frame 4: +d; mean over 14 joints.
    expected = np.array([0.0, 1.0, 2.0, 1.0, 0.0])  # values for frames 1..5
    assert np.allclose(metrics.accel_error(pred, gt), expected, atol=1e-9)


def test_accel_needs_three_frames():
    x = np.zeros((2, 14, 3))
    assert metrics.accel_error(x, x).shape == (0,)


def test_mpii3d_root_is_a_single_joint():
    rng = np.random.default_rng(6)
    gt = rng.normal(size=(3, 17, 3))
    pred = gt.copy()
    # move only the root ("hip", index -3): after alignment every other joint is off by 10 mm
    pred[:, 14] += np.array([0.01, 0.0, 0.0])
    errs = metrics.mpjpe(pred, gt, root=metrics.MPII3D_ROOT)
    assert np.allclose(errs, 10.0 * 16 / 17)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"\(F, J, 3\)"):
        metrics.mpjpe(np.zeros((3, 14, 3)), np.zeros((3, 13, 3)))


# -- independent implementations -------------------------------------------------------------------
def horn_similarity(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Horn (1987) closed form with unit quaternions, one frame at a time: (J,3) -> aligned (J,3)."""
    a = pred - pred.mean(0)
    b = gt - gt.mean(0)
    s = a.T @ b  # sum of outer products a_i b_i^T
    sxx, sxy, sxz, syx, syy, syz, szx, szy, szz = s.ravel()
    n = np.array([
        [sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
        [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
        [szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy],
        [sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz],
    ])
    w, v = np.linalg.eigh(n)
    q0, qx, qy, qz = v[:, np.argmax(w)]
    rot = Rotation.from_quat([qx, qy, qz, q0]).as_matrix()
    ra = a @ rot.T
    scale = (ra * b).sum() / (a * a).sum()
    return scale * ra + gt.mean(0)


def test_pa_mpjpe_matches_horn_quaternion_method():
    rng = np.random.default_rng(7)
    pred = skeleton(rng, frames=20)
    gt = skeleton(rng, frames=20)
    gt[10:] = -gt[10:]  # point reflections too: the best fit would be improper, Procrustes must not reflect
    ours = metrics.pa_mpjpe(pred, gt)
    pred_c, gt_c = metrics.root_align(pred), metrics.root_align(gt)
    theirs = np.array([
        np.linalg.norm(horn_similarity(p, g) - g, axis=-1).mean() * 1000 for p, g in zip(pred_c, gt_c)
    ])
    assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_similarity_align_matches_scipy_align_vectors():
    rng = np.random.default_rng(8)
    gt = skeleton(rng, frames=6)
    noise = rng.normal(0.0, 0.02, size=gt.shape)
    true_rot = Rotation.random(6, random_state=9).as_matrix()
    pred = np.einsum("fij,fkj->fki", true_rot, gt) * 1.3 + noise + 0.7
    aligned = metrics.similarity_align(pred, gt)
    for f in range(6):
        a = pred[f] - pred[f].mean(0)
        b = gt[f] - gt[f].mean(0)
        rot, _ = Rotation.align_vectors(b, a)  # rotation taking a onto b
        ra = rot.apply(a)
        scale = (ra * b).sum() / (a * a).sum()
        assert np.allclose(aligned[f], scale * ra + gt[f].mean(0), atol=1e-9)


def _root_relative(x: np.ndarray, t: int, j: int) -> np.ndarray:
    return x[t, j] - (x[t, 2] + x[t, 3]) / 2


def test_accel_and_mpjpe_match_explicit_loops():
    rng = np.random.default_rng(10)
    pred, gt = skeleton(rng, frames=9), skeleton(rng, frames=9)
    mp = [np.mean([np.sqrt(((_root_relative(pred, t, j) - _root_relative(gt, t, j)) ** 2).sum())
                   for j in range(14)]) for t in range(9)]
    accel = []
    for t in range(1, 8):
        per_joint = []
        for j in range(14):
            p = [_root_relative(pred, k, j) for k in (t - 1, t, t + 1)]
            g = [_root_relative(gt, k, j) for k in (t - 1, t, t + 1)]
            acc_p, acc_g = p[0] - 2 * p[1] + p[2], g[0] - 2 * g[1] + g[2]
            per_joint.append(np.sqrt(((acc_p - acc_g) ** 2).sum()))
        accel.append(np.mean(per_joint))
    assert np.allclose(metrics.accel_error(pred, gt), np.array(accel) * 1000, rtol=1e-12)
    assert np.allclose(metrics.mpjpe(pred, gt), np.array(mp) * 1000, rtol=1e-12)


# -- joint selections and the result-directory helper ----------------------------------------------
def test_joint_selections():
    assert metrics.H36M_TO_J14 == (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)
    j49 = np.arange(49 * 3, dtype=float).reshape(1, 49, 3)
    assert np.array_equal(metrics.lsp14_from_tcmr49(j49)[0, :, 0], np.arange(25, 39) * 3)
    j17 = np.arange(17 * 3, dtype=float).reshape(1, 17, 3)
    assert np.array_equal(metrics.lsp14_from_h36m17(j17)[0, 0], j17[0, 6])


def test_result_track_joints_reads_rows_25_to_38(tmp_path):
    rng = np.random.default_rng(11)
    joints = rng.normal(size=(4, 49, 3)).astype(np.float32)
    np.savez(tmp_path / "track_3.npz", frame_index=np.array([5, 6, 7, 9]), joints3d=joints)
    (tmp_path / "result.json").write_text(json.dumps(
        {"format_version": 1, "tracks": [{"id": 3, "file": "track_3.npz", "num_frames": 4}]}))
    frames, j14 = metrics.result_track_joints(tmp_path, 3)
    assert frames.tolist() == [5, 6, 7, 9]
    assert np.array_equal(j14, joints[:, 25:39].astype(np.float64))
    # and usable straight away against ground truth
    assert np.allclose(metrics.mpjpe(j14, joints[:, 25:39]), 0.0)
    with pytest.raises(KeyError, match="no track 4"):
        metrics.result_track_joints(tmp_path, 4)


def test_pve_per_frame_over_several_chunks():
    gt = np.random.default_rng(12).normal(size=(600, 50, 3)).astype(np.float32)
    shift_mm = np.arange(600, dtype=np.float64)  # frame k: every vertex k mm off along z
    pred = gt + (shift_mm / 1000.0)[:, None, None] * np.array([0.0, 0.0, 1.0], dtype=np.float32)
    assert np.allclose(metrics.pve(pred, gt), shift_mm, atol=1e-3)  # float32 inputs
