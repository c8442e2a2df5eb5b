"""Typed errors with a stable code and a hint that names the fix.

Every failure a user can cause ends as one `BackendError`; the CLI turns it into exactly one
protocol `error` event (code, message, hint) and a non-zero exit code. Codes are stable: the
add-on and scripts match on them, so never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    BAD_ARGUMENT = "BAD_ARGUMENT"  # command-line value out of range or malformed
    INPUT_NOT_FOUND = "INPUT_NOT_FOUND"  # video / image folder / features file missing
    INPUT_UNREADABLE = "INPUT_UNREADABLE"  # exists but cannot be opened or parsed
    VIDEO_CORRUPT = "VIDEO_CORRUPT"  # decoding failed part-way or header is broken
    VIDEO_EMPTY = "VIDEO_EMPTY"  # zero frames (or none in --start/--end)
    NO_PERSON = "NO_PERSON"  # detection/tracking found nobody to reconstruct
    DATA_MISSING = "DATA_MISSING"  # a required model data file is absent
    DATA_INVALID = "DATA_INVALID"  # a model data file has the wrong format or shapes
    CHECKPOINT_INVALID = "CHECKPOINT_INVALID"  # checkpoint truncated, foreign or mismatched
    CUDA_UNAVAILABLE = "CUDA_UNAVAILABLE"  # --device cuda without a usable CUDA torch
    MPS_UNAVAILABLE = "MPS_UNAVAILABLE"  # --device mps without a usable MPS device (Apple Silicon)
    OUT_OF_MEMORY = "OUT_OF_MEMORY"  # still out of memory after retrying smaller batches
    OUTPUT_UNWRITABLE = "OUTPUT_UNWRITABLE"  # --out cannot be created or written
    OUTPUT_BUSY = "OUTPUT_BUSY"  # another live run holds --out's lock file
    CANCELLED = "CANCELLED"  # SIGINT/SIGTERM: the run stopped, nothing half-written kept
    DB_INVALID = "DB_INVALID"  # evaluation database unreadable or not in the official layout
    RESULT_INVALID = "RESULT_INVALID"  # a result directory is missing, partial or malformed
    RESULT_TOO_NEW = "RESULT_TOO_NEW"  # result format newer than this reader
    TRAINING_DIVERGED = "TRAINING_DIVERGED"  # the training loss became NaN/infinite
    ENGINE_UNAVAILABLE = "ENGINE_UNAVAILABLE"  # --engine onnxruntime without onnxruntime installed
    FEATURES_MISSING = "FEATURES_MISSING"  # an edit needs the saved per-frame features (run --save-features)
    WORKER_CRASHED = "WORKER_CRASHED"  # a batch worker died on this input twice (on two workers)
    RAY_UNAVAILABLE = "RAY_UNAVAILABLE"  # --ray without Ray installed, or the cluster cannot be reached
    BATCH_LOCKED = "BATCH_LOCKED"  # another live batch command holds the --out folder's lock file
    KEYPOINTS_INVALID = "KEYPOINTS_INVALID"  # 2D keypoints: wrong joint count, no frames, nothing valid
    INTERNAL = "INTERNAL"  # a bug: please report with the log


class BackendError(Exception):
    """A failure with a stable `code`, a human `message` and a `hint` that names the fix."""

    def __init__(self, code: Code, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = Code(code)
        self.message = message
        self.hint = hint

    def to_event(self) -> dict:
        return {"event": "error", "code": str(self.code), "message": self.message, "hint": self.hint}

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" + (f" Hint: {self.hint}" if self.hint else "")
