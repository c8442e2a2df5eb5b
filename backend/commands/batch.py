"""`python -m backend batch INPUT... --out DIR`: many videos / image folders -> DIR/<name>/ results
(Contract 3 each, the same code path and options as `run`) + DIR/batch.json (docs/batch.md).

Resumable (inputs whose result exists with the same content hash and settings are skipped, failed
ones redone), failures isolated per input; local worker processes by default, Ray with --ray.
Errors of the batch itself: INPUT_NOT_FOUND (nothing to process), BAD_ARGUMENT, BATCH_LOCKED (another
batch is writing into --out), OUTPUT_UNWRITABLE, RAY_UNAVAILABLE,
the model data codes (workers could not load the models), CANCELLED; an input's own error is
recorded in batch.json and the batch goes on.
"""

from __future__ import annotations

import argparse

from backend import run_options
from backend.errors import BackendError, Code

HELP = "reconstruct many videos / image folders into one folder, resumably (local workers or Ray)"
NEEDS_DEVICE = True
CANCELLED_TEXT = ("batch was cancelled: finished inputs are kept and recorded in batch.json, "
                  "the unfinished ones left nothing behind",
                  "Run the same command again to resume: done inputs are skipped.")


def add_arguments(parser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="video files, image folders, folders of them, or text files listing them")
    run_options.add_arguments(parser, skip=("input",))
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes / Ray actors, each loading the models once (default: what "
                             "fits the machine: one on a GPU, else min(cores/2, RAM/2 GB); with --ray: 2)")
    parser.add_argument("--ray", default=None, metavar="auto|local|ADDRESS",
                        help="run on Ray: local starts a private one on this machine, auto joins the running "
                             "cluster, or give its address (needs the batch extra: pip install ray)")


def _executor(args, base_config):
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise BackendError(Code.BAD_ARGUMENT, f"--workers must be in 1..1024, got {args.workers}",
                           "E.g. --workers 2.")
    if args.ray is not None:
        from backend.batch.ray_exec import RayExecutor

        return RayExecutor(base_config, args.ray, args.workers or 2)
    from backend.batch.local import LocalExecutor, default_workers
    from backend.device import resolve_device

    workers = args.workers or default_workers(str(resolve_device(base_config.device)))
    return LocalExecutor(base_config, workers)


def base_config(args):
    """The RunConfig every input shares (its input/out are filled in per input)."""
    from backend.commands.run import config_from_args

    return config_from_args(argparse.Namespace(**vars(args), input="."))


def execute(args, reporter):
    from backend.batch.inputs import expand
    from backend.batch.runner import batch_lock, run_batch

    base = base_config(args)
    items = expand(args.inputs)
    with batch_lock(args.out) as out_dir:  # before Ray or any worker starts: a second batch fails fast
        executor = _executor(args, base)
        if getattr(executor, "workers", 1) > len(items):
            executor.workers = len(items)
        try:
            return run_batch(base, items, out_dir, executor, reporter)
        finally:
            getattr(executor, "shutdown", lambda: None)()
