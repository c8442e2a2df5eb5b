"""The add-on's one error type: what went wrong (`message`) and what the user can do (`hint`).

Every failure the add-on explains to a person is an `AddonError`: bad result folders, model data
that cannot be installed, imports and exports that cannot run. Operators show it as one report
line, "message. hint" (`AddonError.report_text`). Pure (no bpy).
"""

from __future__ import annotations


class AddonError(Exception):
    """A failure with a sentence saying what went wrong and a hint naming the fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def report_text(self) -> str:
        """'message. hint' for an operator report (the hint only when there is one)."""
        return f"{self.message}. {self.hint}" if self.hint else self.message
