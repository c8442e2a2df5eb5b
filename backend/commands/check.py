"""`python -m backend check` (stub: filled in by its issue)."""

from __future__ import annotations

from backend.errors import BackendError, Code

HELP = "check (not implemented yet)"
NEEDS_DEVICE = False


def add_arguments(parser) -> None:
    return None


def execute(args, reporter):
    raise BackendError(Code.INTERNAL, "check is not implemented yet", "")
