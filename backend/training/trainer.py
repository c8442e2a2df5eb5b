"""The training loop (official `lib/core/trainer.py` + `train.py`, docs/training.md).

Per step: the schedule's global batch (`batches`), this process's share of it, the training
forward (`model`), the loss (`loss`) with the global batch's counts, Adam. Every
`iters_per_epoch` steps an epoch ends: validation PA-MPJPE on `--eval-db` (the `evaluate`
protocol; without it, the epoch's mean training loss), the plateau schedule steps on it,
`checkpoint_last` is written and copied to `checkpoint_best` when it is the best so far.

Reproducibility: the data order is a function of (seed, step) and dropout is re-seeded from
(seed, step, rank) at every step, so `--resume` from any checkpoint continues exactly as the
uninterrupted run, and N processes compute the one-process run's gradients (dropout 0: the
masks of N processes are not those of one).
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from backend import datafiles
from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.training import batches, checkpoints, ddp
from backend.training.config import TrainConfig
from backend.training.loss import TERMS, LossWeights, tcmr_loss
from backend.training.model import EncodedCache, TrainForward, decode, set_dropout


def step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0])


def to_tensors(batch: batches.Batch, device: torch.device) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    feats = torch.from_numpy(batch.features).to(device)
    target = {k: torch.from_numpy(np.ascontiguousarray(getattr(batch, k), dtype=np.float32)).to(device)
              for k in ("kp_2d", "kp_3d", "pose", "shape", "w_3d", "w_smpl")}
    return feats, target


class Session:
    """A prepared run (see `backend.training.setup.prepare`): model, optimizer, data, state."""

    def __init__(self, config: TrainConfig, dist: ddp.Dist, device: torch.device, parts: dict,
                 reporter: Reporter) -> None:
        self.config = config
        self.dist = dist
        self.device = device
        self.reporter = reporter
        self.tcmr = parts["tcmr"].to(device).train()
        set_dropout(self.tcmr, config.dropout)
        self.cache = None
        if config.freeze_encoder:  # no dropout in the encoder: its output per window is fixed
            for p in self.tcmr.encoder.parameters():
                p.requires_grad_(False)
            self.cache = EncodedCache(self.tcmr)
        self.smpl = parts["smpl"].to(device)
        self.smpl_state = parts["smpl_state"]
        self.schedule = batches.Schedule(parts["dbs"], config.batch_size, config.seed)
        self.evaluator = parts.get("evaluator")
        self.out = Path(config.out)
        self.weights = LossWeights()
        params = [p for p in self.tcmr.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=0.0)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, mode="min", factor=0.1,
                                                                    patience=config.patience)
        self.step = 0
        self.epoch_loss = [0.0, 0]  # sum, count over the current epoch
        self.best = math.inf
        self.performance = math.inf
        self.metric = "pa_mpjpe_mm" if self.evaluator is not None else "train_loss"
        forward = TrainForward(self.tcmr)
        if dist.active:
            from torch.nn.parallel import DistributedDataParallel

            forward = DistributedDataParallel(forward, device_ids=[device] if device.type == "cuda" else None,
                                              broadcast_buffers=False)
        self.forward = forward

    # -- state ---------------------------------------------------------------------------------
    def train_state(self) -> dict:
        return {"step": self.step, "epoch_loss_sum": self.epoch_loss[0],
                "epoch_loss_count": self.epoch_loss[1],
                "best_performance": self.best, "performance_metric": self.metric,
                "scheduler": self.scheduler.state_dict(), "identity": self.config.identity(),
                "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.config).items()
                           if k != "extra"}}

    def restore(self, saved: dict) -> None:
        """Continue from `checkpoints.read_resume` output (weights already in self.tcmr)."""
        state = saved["train_state"]
        mine = self.config.identity()
        theirs = state.get("identity", {})
        diff = [k for k in mine if theirs.get(k) != mine[k]]
        if diff:
            detail = ", ".join(f"{k}: run {theirs.get(k)!r}, now {mine[k]!r}" for k in diff)
            raise BackendError(Code.BAD_ARGUMENT, f"--resume with other settings than the run ({detail})",
                               "Resume with the run's settings, or start a new run in another --out folder.")
        try:
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise BackendError(Code.CHECKPOINT_INVALID, f"--resume: the optimizer/schedule state does not "
                                                        f"fit this run ({exc})",
                               "Start a new run in another --out folder.") from None
        self.step = int(state["step"])
        self.epoch_loss = [float(state["epoch_loss_sum"]), int(state["epoch_loss_count"])]
        self.best = float(state["best_performance"])
        self.performance = saved["performance"]

    # -- one step ------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        parts = self.schedule.global_batch(self.step)
        counts = batches.global_counts(parts)
        mine = batches.rank_slice(parts, self.dist.rank, self.dist.world)
        batch = batches.gather(mine)
        feats, target = to_tensors(batch, self.device)
        torch.manual_seed(step_seed(self.config.seed, self.step, self.dist.rank))
        if self.cache is not None:
            pred = decode(self.forward(self.cache(batch.keys, feats), encoded=True), self.smpl)
        else:
            pred = decode(self.forward(feats), self.smpl)
        total, terms = tcmr_loss(pred, target, self.weights, counts=counts, world=self.dist.world)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        values = torch.stack([total.detach()] + [terms[k].detach() for k in TERMS]).double()
        values = ddp.all_sum(self.dist, values) / self.dist.world
        out = dict(zip(("loss", *TERMS), values.cpu().tolist(), strict=True))
        if not math.isfinite(out["loss"]):
            raise BackendError(Code.TRAINING_DIVERGED, f"the training loss became {out['loss']} at step "
                                                       f"{self.step + 1}",
                               f"Lower --lr (now {self.config.lr}); {checkpoints.LAST} in {self.out} holds "
                               "the last good state.")
        self.step += 1
        self.epoch_loss[0] += out["loss"]
        self.epoch_loss[1] += 1
        return out

    # -- epochs, evaluation, checkpoints -------------------------------------------------------
    def measure(self) -> float:
        """Validation PA-MPJPE (mm) on rank 0, shared with all; else the running epoch loss."""
        if self.evaluator is None:
            return self.epoch_loss[0] / max(self.epoch_loss[1], 1)
        value = math.nan
        if self.dist.is_main:
            self.tcmr.eval()
            try:
                value = self.evaluator(self.tcmr)
            finally:
                self.tcmr.train()
        return ddp.broadcast_float(self.dist, value, self.device)

    def end_epoch(self, epoch: int) -> None:
        self.performance = self.measure()
        self.scheduler.step(self.performance)
        self.save(epoch)
        self.epoch_loss = [0.0, 0]

    def save(self, epoch: int, best_check: bool = True) -> None:
        improved = best_check and self.performance < self.best
        if improved:
            self.best = self.performance
        if self.dist.is_main:
            last = self.out / checkpoints.LAST
            checkpoints.save(last, self.tcmr, self.smpl_state, self.optimizer, epoch, self.performance,
                             self.train_state())
            if improved:
                _copy_atomic(last, self.out / checkpoints.BEST)
            self.reporter.emit("checkpoint", path=str(last), step=self.step, epoch=epoch,
                               performance=self.performance, metric=self.metric, best=improved)
        ddp.barrier(self.dist)

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])


def _copy_atomic(src: Path, dst: Path) -> None:
    """dst = a hard link to src (no second 340 MB write; a later save of src renames a new file over
    it, so dst keeps these bytes), or a copy where links are not supported; atomic either way."""
    from backend.fileio import write_atomic

    def link_or_copy(tmp: Path) -> None:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)

    write_atomic(dst, link_or_copy)


def run(session: Session) -> dict:
    """Train until config.total_steps; returns the result event's fields."""
    cfg, rep = session.config, session.reporter
    total = cfg.total_steps
    rep.stage("train", f"Training {total} steps ({cfg.batch_size} windows each"
                       + (f", {session.dist.world} processes" if session.dist.active else "") + ")")
    last = {}
    while session.step < total:
        last = session.train_step()
        step = session.step
        epoch = (step - 1) // cfg.iters_per_epoch
        _report(rep, step, total, epoch, last, session.lr())
        if step % cfg.iters_per_epoch == 0:
            session.end_epoch(epoch)
            rep.emit("epoch", epoch=epoch + 1, step=step, performance=session.performance,
                     metric=session.metric, lr=session.lr())
        elif step == total:  # the run ends inside an epoch: no schedule step, the epoch continues on --resume
            session.performance = session.measure()
            session.save(epoch)
        elif cfg.save_every and step % cfg.save_every == 0:
            session.save(epoch, best_check=False)
    out = session.out
    best = out / checkpoints.BEST
    return {"checkpoint": str(out / checkpoints.LAST),
            "checkpoint_best": str(best) if best.exists() else None,
            "steps": session.step, "loss": last.get("loss"), "terms": {k: last.get(k) for k in TERMS},
            "performance": session.performance, "metric": session.metric,
            "best_performance": session.best, "processes": session.dist.world}


def _report(rep: Reporter, step: int, total: int, epoch: int, values: dict, lr: float) -> None:
    if rep.jsonl:
        rep.emit("progress", stage="train", done=step, total=total, step=step, epoch=epoch + 1,
                 loss=values["loss"], terms={k: values[k] for k in TERMS}, lr=lr)
    else:
        rep.progress("train", step, total)


def default_init(data_dir: Path) -> Path:
    return data_dir / datafiles.TCMR_CHECKPOINT.name
