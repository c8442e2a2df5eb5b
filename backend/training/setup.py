"""Everything a run needs, loaded and checked before anything is written (`prepare`).

Order: the settings, the output folder, the data folder's SMPL files, every training database,
the evaluation database, the start weights (or the resumed run's checkpoint). Any problem
raises its BackendError here, before RUN_DIR exists.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import torch

from backend import datafiles
from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.models.loading import load_regressor_npy
from backend.models.smpl import SmplLayer
from backend.smpl_file import load_smpl
from backend.synthetic import is_synthetic
from backend.training import checkpoints, data, ddp, init
from backend.training.config import TrainConfig
from backend.training.trainer import Session


def _check_out(config: TrainConfig) -> Path:
    out = Path(config.out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise BackendError(Code.OUTPUT_UNWRITABLE, f"--out {out} is a file", "Give a folder for the run.")
    has_run = (out / checkpoints.LAST).exists()
    if has_run and not config.resume:
        raise BackendError(Code.BAD_ARGUMENT, f"{out} already holds a training run ({checkpoints.LAST})",
                           "Pass --resume to continue it, or choose another --out folder.")
    if config.resume and not has_run:
        raise BackendError(Code.INPUT_NOT_FOUND, f"--resume: {out} holds no {checkpoints.LAST}",
                           "Start the run without --resume (or pass the --out folder of an earlier run).")
    parent = out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot write into {parent}",
                           "Choose an --out folder you can write to.")
    return out


def _start_weights(config: TrainConfig, folder: Path, out: Path):
    """-> (TCMR, resume data or None)."""
    if config.resume:
        saved = checkpoints.read_resume(out / checkpoints.LAST)
        from backend.models.tcmr import TCMR

        tcmr = TCMR()
        tcmr.load_state_dict(saved["gen"], strict=True)
        return tcmr, saved
    if config.init is not None and config.init.lower() == "none":
        return init.from_scratch(folder / datafiles.SPIN_CHECKPOINT.name, config.seed), None
    path = Path(config.init).expanduser() if config.init else folder / datafiles.TCMR_CHECKPOINT.name
    if config.init and not path.is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"--init checkpoint not found: {path}",
                           "Pass a TCMR checkpoint (e.g. tcmr_demo_model.pth.tar) or --init none.")
    return init.from_checkpoint(path), None


def make_evaluator(path: Path, smpl: SmplLayer, smpl_data, j_h36m, folder: Path, device: torch.device,
                   batch_size: int):
    """--eval-db -> callable(tcmr) -> PA-MPJPE in mm over the database (the `evaluate` protocol)."""
    from backend import evaldb
    from backend.evaluate import BENCHMARKS, MIN_FRAMES, SmplVertices, evaluate_db, model_predictor
    from backend.models.loading import Models

    db = evaldb.read_db(path)
    dataset = evaldb.detect_dataset(path, db)
    evaldb.validate_db(path, db, dataset)
    sequences = evaldb.split_sequences(db)
    if not any(len(s.rows) >= MIN_FRAMES for s in sequences):
        raise BackendError(Code.DB_INVALID, f"{path.name}: no sequence has {MIN_FRAMES}+ usable frames",
                           evaldb.OFFICIAL_HINT)
    bench = BENCHMARKS[dataset]
    if bench.joints == "lsp14" and j_h36m is None:
        raise BackendError(Code.DATA_MISSING, f"J_regressor_h36m.npy is missing in {folder}",
                           f"Put the official J_regressor_h36m.npy into {folder} (needed by --eval-db).")
    gt_vertices = SmplVertices(smpl_data, device=device) if bench.has_pve else None

    def evaluate(tcmr) -> float:
        models = Models(tcmr=tcmr, smpl=smpl, smpl_data=smpl_data, backbone=None, device=device,
                        synthetic=is_synthetic(folder), data_dir=folder, j_regressor_h36m=j_h36m)
        results = evaluate_db(db, sequences, bench, model_predictor(models, bench, batch_size), gt_vertices)
        return float(results["overall"]["pa_mpjpe"])

    return evaluate


def prepare(config: TrainConfig, device: torch.device, reporter: Reporter) -> tuple[Session, dict]:
    """Load and check everything, join the process group -> (Session, facts for the log)."""
    config.check(ddp.env_world())
    out = _check_out(config)
    folder = datafiles.resolve_data_dir(config.data_dir)
    reporter.stage("load_data", "Reading the training databases")
    dbs = [data.load_train_db(spec, config.stride) for spec in config.dbs]
    smpl_data = load_smpl(folder / datafiles.SMPL_NEUTRAL.name)
    j_extra = load_regressor_npy(folder / datafiles.J_REGRESSOR_EXTRA.name, 9)
    h36m = folder / datafiles.J_REGRESSOR_H36M.name
    j_h36m = load_regressor_npy(h36m, 17) if h36m.exists() else None
    smpl = SmplLayer(smpl_data, j_extra)
    reporter.stage("load_model", "Loading the start weights")
    tcmr, saved = _start_weights(config, folder, out)
    dist, device = ddp.setup(device)
    evaluator = None
    if config.eval_db:
        eval_path = Path(config.eval_db).expanduser()
        if not eval_path.is_file():
            raise BackendError(Code.INPUT_NOT_FOUND, f"--eval-db not found: {eval_path}",
                               "Pass an official evaluation database such as 3dpw_val_db.pt.")
        evaluator = make_evaluator(eval_path, smpl.to(device), smpl_data, j_h36m, folder, device,
                                   config.eval_batch_size)
    parts = {"tcmr": tcmr, "smpl": smpl, "smpl_state": checkpoints.smpl_buffers(smpl_data, j_extra),
             "dbs": dbs, "evaluator": evaluator}
    session = Session(replace(config, out=str(out)), dist, device, parts, reporter)
    if saved is not None:
        session.restore(saved)
    facts = {"synthetic": is_synthetic(folder), "data_dir": str(folder),
             "databases": [{"name": d.name, "kind": d.kind, "rows": d.num_rows, "windows": len(d.windows),
                            "stream": "3d" if d.is_3d else "2d"} for d in dbs],
             "batch_split": dict(zip(("2d", "3d"), session.schedule.sizes, strict=True)),
             "windows_per_pass": session.schedule.epoch_windows(), "device": str(device)}
    return session, facts
