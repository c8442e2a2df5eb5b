"""`python -m backend regress` (stub: filled in by its issue)."""

from __future__ import annotations

from backend.errors import BackendError, Code

HELP = "regress (not implemented yet)"
NEEDS_DEVICE = False


def add_arguments(parser) -> None:
    return None


def execute(args, reporter):
    raise BackendError(Code.INTERNAL, "regress is not implemented yet", "")
