"""`python -m backend selftest` (stub: filled in by its issue)."""

from __future__ import annotations

from backend.errors import BackendError, Code

HELP = "selftest (not implemented yet)"
NEEDS_DEVICE = False


def add_arguments(parser) -> None:
    return None


def execute(args, reporter):
    raise BackendError(Code.INTERNAL, "selftest is not implemented yet", "")
