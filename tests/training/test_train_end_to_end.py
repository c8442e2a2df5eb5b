"""`train` end to end on tiny teacher-labelled databases in the official format.

* 60 steps lower the loss below half its start; the checkpoint has the official layout and
  `regress --checkpoint` loads it (and predicts closer to the teacher than the start weights);
* two processes (torchrun, gloo) equal one process with the same global batch after 3 steps;
* a run killed mid-way and resumed ends with the weights of an uninterrupted run;
* bad input: coded errors, no run folder.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np
import pytest
import torch

from tests.training.conftest import run_backend, run_inprocess


def gen_state(path) -> dict:
    """gen_state_dict of a checkpoint (the project's safe reader: the synthetic released-layout file
    holds a numpy float64 `performance`, which plain weights_only loading refuses)."""
    from backend.models.checkpoint import read_checkpoint

    return read_checkpoint(path)["gen_state_dict"]


def max_weight_diff(a: dict, b: dict) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point())


def losses(events: list[dict]) -> list[float]:
    return [e["loss"] for e in events if e["event"] == "progress" and e.get("stage") == "train"]


@pytest.fixture(scope="module")
def sixty(train_db, model_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run60") / "run"
    code, events = run_inprocess(["train", "--db", str(train_db), "--out", str(out), "--data-dir",
                                  str(model_data_dir), "--steps", "60", "--batch-size", "2", "--lr", "1e-4",
                                  "--freeze-encoder"])
    assert code == 0, events[-1]
    return out, events


def test_sixty_steps_halve_the_loss(sixty):
    out, events = sixty
    loss = losses(events)
    assert len(loss) == 60
    assert np.mean(loss[-5:]) < 0.5 * loss[0], (loss[0], loss[-5:])
    step1 = next(e for e in events if e["event"] == "progress")
    assert set(step1["terms"]) == {"kp_2d", "kp_3d", "pose", "shape"} and step1["step"] == 1
    assert step1["loss"] == pytest.approx(sum(step1["terms"].values()), rel=1e-5)
    result = events[-1]
    assert result["event"] == "result" and result["checkpoint"] == str(out / "checkpoint_last.pth.tar")
    assert result["steps"] == 60 and (out / "checkpoint_best.pth.tar").is_file()


def test_checkpoint_has_the_official_layout(sixty, model_data_dir):
    out, _ = sixty
    ckpt = torch.load(out / "checkpoint_best.pth.tar", map_location="cpu", weights_only=True)
    assert {"epoch", "gen_state_dict", "performance", "gen_optimizer"} <= set(ckpt)
    assert isinstance(ckpt["epoch"], int) and isinstance(ckpt["performance"], float)
    released = gen_state(model_data_dir / "tcmr_demo_model.pth.tar")  # the official layout, 71 keys
    ours = ckpt["gen_state_dict"]
    assert list(ours) == list(released) and len(ours) == 71
    for key, value in released.items():
        assert ours[key].shape == value.shape and ours[key].dtype == value.dtype, key
    assert ours["encoder.gru_cur.weight_ih_l0"].shape == (3072, 2048)
    assert ours["regressor.smpl.shapedirs"].shape == (6890, 3, 10)
    # --freeze-encoder: the encoder is the start checkpoint's, the regressor has learned
    assert torch.equal(ours["encoder.gru_bef.weight_hh_l1"], released["encoder.gru_bef.weight_hh_l1"])
    assert not torch.equal(ours["regressor.decpose.bias"], released["regressor.decpose.bias"])


def test_regress_loads_the_trained_checkpoint(sixty, train_db, teacher, model_data_dir, tmp_path):
    from backend.evaldb import read_db
    from backend.models.inference import regress_track

    out, _ = sixty
    db = read_db(train_db)
    rows = db["vid_name"] == db["vid_name"][0]
    features = db["features"][rows]
    np.save(tmp_path / "f.npy", features)
    results = {}
    for name, extra in (("trained", ["--checkpoint", str(out / "checkpoint_best.pth.tar")]), ("start", [])):
        npz = tmp_path / f"{name}.npz"
        code, events = run_inprocess(["regress", str(tmp_path / "f.npy"), "--out", str(npz),
                                      "--data-dir", str(model_data_dir), *extra])
        assert code == 0, events[-1]
        results[name] = np.load(tmp_path / f"{name}.npz")["joints3d"]
    truth = regress_track(teacher, features)["joints3d"]
    err = {k: np.abs(v - truth).mean() for k, v in results.items()}
    assert err["trained"] < 0.5 * err["start"], err


def _train_args(train_db, posetrack_db, model_data_dir, out, steps, extra=()):
    return ["train", "--db", str(train_db), "--db", str(posetrack_db), "--out", str(out), "--data-dir",
            str(model_data_dir), "--steps", str(steps), "--batch-size", "2", "--lr", "1e-4", *extra]


def test_two_processes_equal_one(train_db, posetrack_db, model_data_dir, tmp_path):
    """Batch 2 = one 2D window (rank 0) + one 3D window (rank 1): the loss normalisation by the
    global batch's counts must make the averaged gradients those of the one-process batch."""
    one, two = tmp_path / "one", tmp_path / "two"
    no_dropout = ["--dropout", "0"]
    code, events = run_inprocess(_train_args(train_db, posetrack_db, model_data_dir, one, 3, no_dropout))
    assert code == 0, events[-1]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m"]
    proc = run_backend(_train_args(train_db, posetrack_db, model_data_dir, two, 3, no_dropout),
                       launcher=launcher, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert sum(e["event"] == "hello" for e in lines) == 1 and lines[-1]["event"] == "result"  # rank 0 only
    assert lines[-1]["processes"] == 2
    np.testing.assert_allclose(losses(lines), losses(events), rtol=1e-5)
    start = gen_state(model_data_dir / "tcmr_demo_model.pth.tar")
    a, b = gen_state(one / "checkpoint_last.pth.tar"), gen_state(two / "checkpoint_last.pth.tar")
    assert max_weight_diff(a, start) > 1e-4  # the 3 steps changed the weights (Adam: ~3 * lr)
    assert max_weight_diff(a, b) < 1e-4


def test_resume_after_kill_equals_uninterrupted(train_db, posetrack_db, model_data_dir, tmp_path):
    """Default dropout (0.5, in the regressor): the per-step dropout seeds and the stored
    optimizer/schedule state make the resumed run follow the uninterrupted one exactly. (Frozen
    encoder to keep the test fast on a CPU; the state that is saved and restored is the same.)"""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    frozen = ["--freeze-encoder"]
    code, events = run_inprocess(_train_args(train_db, posetrack_db, model_data_dir, whole, 4, frozen))
    assert code == 0, events[-1]
    # The run to kill is a forked copy of this process (torch is imported already: no start-up cost).
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: train, protocol lines into the pipe, until killed
        os.close(read_fd)
        sys.stdout = os.fdopen(write_fd, "w", buffering=1)
        torch.set_num_threads(1)  # as run_inprocess: the runs compared below are then bit-identical
        try:
            from backend import cli

            extra = [*frozen, "--save-every", "2"]
            cli.main([*_train_args(train_db, posetrack_db, model_data_dir, cut, 4, extra), "--jsonl"])
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as lines:
        for line in lines:
            event = json.loads(line)
            if event["event"] == "progress" and event.get("step") == 3:  # after the step-2 checkpoint
                os.kill(pid, signal.SIGKILL)
                break
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert torch.load(cut / "checkpoint_last.pth.tar", weights_only=True)["train_state"]["step"] == 2
    resume = _train_args(train_db, posetrack_db, model_data_dir, cut, 4, [*frozen, "--resume"])
    code, resumed = run_inprocess(resume)
    assert code == 0, resumed[-1]
    assert [e["step"] for e in resumed if e["event"] == "progress"] == [3, 4]
    assert losses(resumed) == pytest.approx(losses(events)[2:], rel=1e-6)
    assert max_weight_diff(gen_state(whole / "checkpoint_last.pth.tar"),
                           gen_state(cut / "checkpoint_last.pth.tar")) < 1e-6


@pytest.mark.parametrize("case", ["no_features", "mismatched_lengths", "wrong_init"])
def test_bad_input_is_a_coded_error_and_writes_nothing(case, train_db, model_data_dir, tmp_path):
    from backend.evaldb import read_db
    from tests.eval import joblib_writer

    db = read_db(train_db)
    args = ["--db", str(tmp_path / "3dpw_train_db.pt")]
    expect = "DB_INVALID"
    if case == "no_features":
        db.pop("features")
    elif case == "mismatched_lengths":
        db["pose"] = db["pose"][:-3]
    else:
        args += ["--init", str(model_data_dir / "spin_model_checkpoint.pth.tar")]
        expect = "CHECKPOINT_INVALID"
    joblib_writer.dump(db, tmp_path / "3dpw_train_db.pt")
    out = tmp_path / "run"
    code, events = run_inprocess(["train", *args, "--out", str(out), "--data-dir", str(model_data_dir),
                                  "--steps", "1", "--batch-size", "2"])
    assert code == 2 and events[-1]["event"] == "error" and events[-1]["code"] == expect, events[-1]
    assert events[-1]["hint"]
    assert not out.exists()


def test_init_none_is_the_official_from_scratch_start(train_db, model_data_dir, tmp_path):
    """--init none: encoder = PyTorch's default init drawn from --seed, regressor = SPIN's head."""
    from backend.models.checkpoint import read_checkpoint
    from backend.models.tcmr import TCMR

    out = tmp_path / "scratch"
    code, events = run_inprocess(["train", "--db", str(train_db), "--out", str(out), "--data-dir",
                                  str(model_data_dir), "--init", "none", "--seed", "7", "--steps", "1",
                                  "--batch-size", "2", "--freeze-encoder"])
    assert code == 0, events[-1]
    got = gen_state(out / "checkpoint_last.pth.tar")
    torch.manual_seed(7)
    fresh = TCMR().state_dict()
    for key in ("encoder.gru_cur.weight_ih_l0", "encoder.linear_aft.weight", "encoder.attention.fc.bias"):
        assert torch.equal(got[key], fresh[key]), key  # frozen: still the seeded initialisation
    spin = read_checkpoint(model_data_dir / "spin_model_checkpoint.pth.tar")["model"]
    for key in ("init_pose", "init_shape", "init_cam"):
        assert torch.equal(got["regressor." + key], spin[key].float()), key  # buffers: copied, not trained
    step = (got["regressor.fc1.weight"] - spin["fc1.weight"].float()).abs().max()
    assert 0 < float(step) <= 5e-5 * 1.01  # one Adam step (default lr 5e-5) away from SPIN's fc1


def test_eval_db_drives_epochs_and_matches_evaluate(train_db, model_data_dir, tmp_path):
    """--eval-db: each epoch's performance is the `evaluate` command's PA-MPJPE of those weights."""
    from backend.evaldb import read_db
    from tests.eval import joblib_writer

    db = read_db(train_db)
    val = {"vid_name": db["vid_name"], "features": db["features"], "joints3D": db["joints3D"][:, 25:39],
           "pose": db["pose"], "shape": db["shape"]}
    val_path = joblib_writer.dump(val, tmp_path / "3dpw_val_db.pt")
    out = tmp_path / "run"
    code, events = run_inprocess(["train", "--db", str(train_db), "--out", str(out), "--data-dir",
                                  str(model_data_dir), "--eval-db", str(val_path), "--steps", "2",
                                  "--iters-per-epoch", "1", "--batch-size", "2", "--freeze-encoder"])
    assert code == 0, events[-1]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and all(e["metric"] == "pa_mpjpe_mm" for e in epochs)
    ckpt = torch.load(out / "checkpoint_last.pth.tar", weights_only=True)
    assert ckpt["performance"] == pytest.approx(epochs[-1]["performance"]) and ckpt["epoch"] == 1
    last = out / "checkpoint_last.pth.tar"
    code, report = run_inprocess(["evaluate", str(val_path), "--checkpoint", str(last), "--data-dir",
                                  str(model_data_dir), "--out", str(tmp_path / "report.json")])
    assert code == 0, report[-1]
    assert report[-1]["overall"]["pa_mpjpe"] == pytest.approx(ckpt["performance"], rel=1e-6)
