"""`python -m backend train --db DB [--db DB ...] --out RUN_DIR ...`: TCMR training / fine-tuning.

The paper's recipe (docs/training.md): precomputed SPIN features of the
official preprocessed databases, 16-frame windows, the centre frame's labels on the three
decoded features, 2D/3D keypoint + SMPL pose/shape losses with the official weights, Adam and
the plateau schedule on validation PA-MPJPE. Writes RUN_DIR/checkpoint_last.pth.tar and
checkpoint_best.pth.tar in the official trainer layout. Distributed with
`torchrun --nproc_per_node N -m backend train ...` (NCCL on GPUs, gloo on CPU).
"""

from __future__ import annotations

from backend.training import config as defaults

HELP = "train or fine-tune TCMR on preprocessed databases (the paper's recipe; torchrun for many GPUs)"
NEEDS_DEVICE = True


def add_arguments(p) -> None:
    p.add_argument("--db", action="append", required=True, metavar="[KIND=]PATH",
                   help="training database (official preprocessed file or make-db output), repeatable; "
                        "KIND (3dpw, h36m, mpii3d, posetrack, pennaction, insta, custom) when the file name "
                        "does not tell")
    p.add_argument("--out", required=True, help="run folder for checkpoint_last/best.pth.tar")
    p.add_argument("--eval-db", default=None,
                   help="validation database (e.g. 3dpw_val_db.pt): PA-MPJPE after each epoch drives the "
                        "schedule and checkpoint_best (default: the epoch's mean training loss)")
    p.add_argument("--init", default=None, metavar="PATH|none",
                   help="TCMR checkpoint to start from (default: DATA_DIR/tcmr_demo_model.pth.tar); 'none': "
                        "the official from-scratch start (random encoder from --seed, SPIN regressor)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="optimizer steps to train in total")
    length.add_argument("--epochs", type=int, default=None,
                        help=f"epochs of --iters-per-epoch steps (default {defaults.PAPER_EPOCHS})")
    p.add_argument("--iters-per-epoch", type=int, default=defaults.ITERS_PER_EPOCH,
                   help=f"steps per epoch (default {defaults.ITERS_PER_EPOCH}, as the paper)")
    p.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE,
                   help=f"global windows per step, split over processes (default {defaults.BATCH_SIZE}; "
                        "60%% from 2D sets when both kinds are given)")
    p.add_argument("--lr", type=float, default=defaults.LR,
                   help=f"Adam learning rate (default {defaults.LR})")
    p.add_argument("--seed", type=int, default=defaults.SEED,
                   help="seeds the data order, dropout and the from-scratch init")
    p.add_argument("--dropout", type=float, default=defaults.DROPOUT,
                   help="regressor dropout (default 0.5 as official; 0 for bit-reproducible comparisons)")
    p.add_argument("--stride", type=int, default=1,
                   help="rows between training windows: 1 (TRAIN.OVERLAP, default) or 16")
    p.add_argument("--save-every", type=int, default=0,
                   help="also write checkpoint_last every N steps (default 0: at epoch ends)")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="train only the regressor (a fine-tuning option for small sets; not the paper's)")
    p.add_argument("--eval-batch-size", type=int, default=64, help="windows per validation batch")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")


def reporter_for(reporter):
    from backend.training.ddp import reporter_for as choose

    return choose(reporter)


def config_from_args(args):
    from backend.training.config import TrainConfig

    return TrainConfig(dbs=tuple(args.db), out=args.out, eval_db=args.eval_db, data_dir=args.data_dir,
                       init=args.init, steps=args.steps, epochs=args.epochs,
                       iters_per_epoch=args.iters_per_epoch,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed, dropout=args.dropout,
                       stride=args.stride, device=args.device, resume=args.resume, save_every=args.save_every,
                       freeze_encoder=args.freeze_encoder, eval_batch_size=args.eval_batch_size)


def execute(args, reporter):
    from backend.device import resolve_device
    from backend.training import ddp, trainer
    from backend.training.setup import prepare

    config = config_from_args(args)
    session, facts = prepare(config, resolve_device(args.device), reporter)
    try:
        if facts["synthetic"]:
            reporter.warning("SYNTHETIC_DATA", f"the model data in {facts['data_dir']} is synthetic",
                             "Weights trained from it are meaningless; use the official model files.")
        reporter.emit("training", **facts, processes=session.dist.world, total_steps=config.total_steps,
                      start_step=session.step)
        fields = trainer.run(session)
    finally:
        ddp.teardown(session.dist)
    return session.out, fields
