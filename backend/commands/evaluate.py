"""`python -m backend evaluate DB [--checkpoint CKPT] [--out report.json]`: TCMR's benchmark protocol.

DB is an official preprocessed database (3dpw_test_db.pt, h36m_*_db.pt, mpii3d_*_db.pt), read
without running pickled code. Prints a paper-style table on stderr and writes a JSON report
(per sequence and overall, with the config); the protocol `result` event points at it.
`--model vibe` evaluates VIBE, by default with VIBE's own protocol (backend.evaluate_vibe);
`--protocol tcmr` runs either model through TCMR's. See docs/evaluation.md and docs/models.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from backend.errors import BackendError, Code

HELP = ("reproduce TCMR's (or, with --model vibe, VIBE's) evaluation (MPJPE, PA-MPJPE, PVE, Accel) on an "
        "official preprocessed database")
NEEDS_DEVICE = True


def add_arguments(parser) -> None:
    parser.add_argument("db", help="official database, e.g. data/preprocessed_data/3dpw_test_db.pt")
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint of --model (default: DATA_DIR/tcmr_demo_model.pth.tar; the "
                             "paper's tables use tcmr_table4_3dpw_test.pth.tar etc.; VIBE: "
                             "vibe_model_wo_3dpw.pth.tar)")
    parser.add_argument("--model", default="tcmr", choices=("tcmr", "vibe"),
                        help="temporal model (default tcmr)")
    parser.add_argument("--protocol", default="auto", choices=("auto", "tcmr", "vibe"),
                        help="auto: the model's own official evaluation; tcmr: TCMR's (per-frame windows, "
                             "valid rows, per-sequence accel) also for VIBE, to compare both on one "
                             "protocol; vibe: VIBE's eval.py (non-overlapping 16-frame windows; VIBE only)")
    parser.add_argument("--dataset", default="auto", choices=("auto", "3dpw", "h36m", "mpii3d"),
                        help="benchmark protocol (auto: from the file name, e.g. 3dpw_test_db.pt)")
    parser.add_argument("--out", default=None,
                        help="JSON report path (default: ./evaluation_<db name>.json)")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per batch (default 64)")
    parser.add_argument("--max-sequences", type=int, default=None,
                        help="stop after this many evaluated sequences (quick partial runs)")


def _check_args(args, out: Path) -> None:
    if args.batch_size < 1:
        raise BackendError(Code.BAD_ARGUMENT, f"--batch-size must be >= 1, got {args.batch_size}",
                           "Use a positive batch size such as 64.")
    if args.max_sequences is not None and args.max_sequences < 1:
        raise BackendError(Code.BAD_ARGUMENT, f"--max-sequences must be >= 1, got {args.max_sequences}",
                           "Leave it out to evaluate every sequence.")
    if out.is_dir():
        raise BackendError(Code.OUTPUT_UNWRITABLE, f"--out {out} is a folder", "Give a file name such as "
                                                                              "report.json.")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot write into {parent}",
                           "Choose an --out path in a folder you can write to.")


def execute(args, reporter):
    from backend import datafiles, evaldb
    from backend.evaluate import (
        BENCHMARKS,
        EvalConfig,
        SmplVertices,
        build_report,
        evaluate_db,
        format_table,
        model_predictor,
        write_report,
    )

    db_path = Path(args.db).expanduser().resolve()
    out = Path(args.out or f"evaluation_{db_path.name.split('.')[0]}.json").expanduser().resolve()
    _check_args(args, out)
    model = getattr(args, "model", "tcmr")
    protocol = _protocol(model, getattr(args, "protocol", "auto"))
    data_dir = datafiles.resolve_data_dir(args.data_dir)
    checkpoint = Path(args.checkpoint).expanduser().resolve() if args.checkpoint else None
    if checkpoint is not None and not checkpoint.is_file():
        raise BackendError(Code.INPUT_NOT_FOUND, f"checkpoint not found: {checkpoint}",
                           f"Pass the path of a {model.upper()} checkpoint such as "
                           + ("tcmr_table4_3dpw_test.pth.tar." if model == "tcmr"
                              else "vibe_model_w_3dpw.pth.tar."))

    reporter.stage("read_db", f"Reading {db_path.name}")
    db = evaldb.read_db(db_path)
    dataset = evaldb.detect_dataset(db_path, db) if args.dataset == "auto" else args.dataset
    evaldb.validate_db(db_path, db, dataset)
    sequences = evaldb.split_sequences(db)
    bench = BENCHMARKS[dataset]

    reporter.stage("load_model", f"Loading the {model.upper()} network")
    from backend.device import resolve_device

    device = resolve_device(args.device)
    from backend.models.loading import load_models

    models = load_models(data_dir, device, backbone=False, model=model, checkpoint=checkpoint)
    if models.synthetic:
        reporter.warning("SYNTHETIC_MODEL_DATA", f"{data_dir} holds synthetic model data (random weights)",
                         "The numbers are meaningless; use the official model files to reproduce the paper.")
    gt_vertices = SmplVertices(models.smpl_data, device=device) if bench.has_pve else None

    config = EvalConfig(db=str(db_path), dataset=dataset, checkpoint=str(models.checkpoint),
                        data_dir=str(data_dir), device=str(device), batch_size=args.batch_size,
                        max_sequences=args.max_sequences, model=model, protocol=protocol)
    if protocol == "vibe":
        return _execute_vibe(db, config, models, gt_vertices, out, reporter)
    predict = model_predictor(models, bench, args.batch_size)
    results = evaluate_db(db, sequences, bench, predict, gt_vertices, max_sequences=args.max_sequences,
                          reporter=reporter)
    if results["overall"]["num_sequences"] == 0:
        raise BackendError(Code.DB_INVALID, f"{db_path.name}: no sequence has {config.min_frames} or more "
                                            "usable frames", evaldb.OFFICIAL_HINT)

    reporter.stage("report", f"Writing {out.name}")
    report = build_report(config, results, synthetic=models.synthetic)
    write_report(out, report)
    reporter.log(format_table(report))
    overall = {k: v for k, v in report["overall"].items() if k in ("pa_mpjpe", "mpjpe", "pve", "accel_error")}
    return out, {"dataset": dataset, "overall": overall}


def _protocol(model: str, protocol: str) -> str:
    """--protocol auto -> the model's own; TCMR has no VIBE-protocol mode (one frame per window)."""
    if protocol == "auto":
        return model
    if model == "tcmr" and protocol == "vibe":
        raise BackendError(Code.BAD_ARGUMENT, "--protocol vibe needs --model vibe",
                           "TCMR predicts one frame per 16-frame window; evaluate it with --protocol tcmr "
                           "(the default), or VIBE with --model vibe --protocol tcmr to compare both.")
    return protocol


def _execute_vibe(db, config, models, gt_vertices, out: Path, reporter):
    """VIBE's own protocol (backend.evaluate_vibe) -> report, table, result fields."""
    from backend import evaluate_vibe as ev
    from backend.evaluate import write_report

    predict = ev.vibe_window_predictor(models, config.batch_size)
    results = ev.evaluate_db_vibe(db, config.dataset, predict, gt_vertices,
                                  max_sequences=config.max_sequences, reporter=reporter)
    if results["overall"]["num_sequences"] == 0:
        from backend import evaldb

        raise BackendError(Code.DB_INVALID, f"{Path(config.db).name}: no sequence has 16 or more rows",
                           evaldb.OFFICIAL_HINT)
    reporter.stage("report", f"Writing {out.name}")
    report = ev.build_report_vibe(config, results, synthetic=models.synthetic)
    write_report(out, report)
    reporter.log(ev.format_table_vibe(report))
    keys = ("pa_mpjpe", "mpjpe", "pve", "accel", "accel_error")
    overall = {k: v for k, v in report["overall"].items() if k in keys}
    return out, {"dataset": config.dataset, "overall": overall, "model": config.model, "protocol": "vibe"}
