"""Contract 1 (docs/contracts.md; every option: docs/cli.md): `python -m backend <command>`.

Each command lives in `backend.commands.<name>` with `HELP`, `NEEDS_DEVICE`,
`add_arguments(parser)` and `execute(args, reporter) -> (path, extra_fields)`. This module
owns the common options, the protocol envelope (hello ... exactly one result or error), exit
codes and cancellation; commands only raise `BackendError` or return.

Exit codes: 0 result, 2 error with a code, 130 cancelled, 3 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import math
import signal
import sys
import traceback

from backend.device import DEVICES
from backend.errors import BackendError, Code
from backend.events import Reporter

COMMANDS = ("run", "regress", "check", "selftest", "evaluate", "ground", "train", "make-db", "edit", "batch",
            "lift")


def _module_name(command: str) -> str:
    return command.replace("-", "_")  # make-db -> backend.commands.make_db


class _Parser(argparse.ArgumentParser):
    """argparse that raises a coded error instead of printing usage and exiting."""

    def error(self, message: str):
        raise BackendError(Code.BAD_ARGUMENT, message, f"See `{self.prog} --help`.")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="model data folder (official base_data names); default: $TCMR_DATA_DIR or the "
                             "per-user data folder")
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="torch device (auto: CUDA when available, else MPS on Apple Silicon, else CPU)")
    parser.add_argument("--jsonl", action="store_true",
                        help="protocol lines on stdout (also the behaviour when stdout is not a terminal)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m backend", description="TCMR video motion capture backend")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"backend.commands.{_module_name(name)}")
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        add_common_arguments(cmd)
        module.add_arguments(cmd)
    return parser


def check_finite(args: argparse.Namespace) -> None:
    """Every float option of every command must be a finite number (float("inf") / "nan" parse);
    each command's own checks then bound the range. BAD_ARGUMENT before anything loads."""
    for name, value in vars(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            option = "--" + name.replace("_", "-")
            raise BackendError(Code.BAD_ARGUMENT, f"{option} must be a finite number, got {value}",
                               f"Give {option} an ordinary number, e.g. 30.")


class Cancelled(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM so `finally` blocks clean up partial output."""


def _on_sigterm(signum, frame):
    raise Cancelled()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    wants_jsonl = "--jsonl" in argv or not sys.stdout.isatty()
    reporter = Reporter(jsonl=wants_jsonl)
    try:
        args = build_parser().parse_args(argv)
        check_finite(args)
    except BackendError as exc:
        reporter.error(exc)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if threading_main():
        signal.signal(signal.SIGTERM, _on_sigterm)
    from backend.engines.malloc_tuning import tune_malloc

    tune_malloc()  # before torch allocates: keep glibc's heap for large blocks (no page-fault storm)
    module = importlib.import_module(f"backend.commands.{_module_name(args.command)}")
    # A command may hand the protocol to another reporter (train: only distributed rank 0 speaks).
    reporter = getattr(module, "reporter_for", lambda r: r)(reporter)
    try:
        device = "none"
        if module.NEEDS_DEVICE:
            from backend.device import resolve_device

            device = str(resolve_device(args.device))
        reporter.hello(device=device, command=args.command)
        path, fields = module.execute(args, reporter)
        reporter.result(str(path), **fields)
        return 0
    except BackendError as exc:
        reporter.error(exc)
        return 2
    except KeyboardInterrupt:
        # A command whose cancel keeps finished work (batch) says so with CANCELLED_TEXT (message, hint).
        default = (f"{args.command} was cancelled; nothing was written", "Run it again when you are ready.")
        message, hint = getattr(module, "CANCELLED_TEXT", default)
        reporter.error(BackendError(Code.CANCELLED, message, hint))
        return 130
    except Exception as exc:  # a bug: keep the traceback for the log, one coded event for the reader
        traceback.print_exc(file=sys.stderr)
        reporter.error(BackendError(Code.INTERNAL, f"internal error: {type(exc).__name__}: {exc}",
                                    "This is a bug. Please report it with the backend log (stderr)."))
        return 3


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
