"""One input through `backend.pipeline.run` with models loaded once: shared by both executors.

A job is (name, input path, result folder); the outcome is a plain dict (picklable, JSON-ready):
    {"status": "done", "frames", "timings_s", "elapsed_s", "fps"}  or
    {"status": "failed", "error": {"code", "message", "hint"}, "elapsed_s"}
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from backend.errors import BackendError, Code
from backend.events import Reporter

CRASH_HOOK_ENV = "TCMR_TEST_BATCH_CRASH_ONCE"  # test-only: "<marker file>:<input name>"


class ForwardingReporter(Reporter):
    """A Reporter whose events go to `send(event, fields)` (a queue, a Ray actor's buffer)."""

    def __init__(self, send) -> None:
        super().__init__(jsonl=True)
        self.send = send

    def emit(self, event: str, **fields) -> None:
        self.send(event, fields)


def load_models(base_config) -> tuple[object, float]:
    """Models for `base_config` (a RunConfig) -> (models, seconds). Raises BackendError."""
    from backend.datafiles import checkpoint_path
    from backend.device import resolve_device
    from backend.models.loading import load_models as load

    t0 = time.perf_counter()
    models = load(base_config.data_dir, resolve_device(base_config.device), backbone=True,
                  model=base_config.model, checkpoint=checkpoint_path(base_config.checkpoint))
    return models, time.perf_counter() - t0


def _crash_hook(name: str) -> None:
    """Test-only: the first time input `name` starts anywhere, this worker dies like a segfault."""
    spec = os.environ.get(CRASH_HOOK_ENV)
    if not spec:
        return
    marker, _, target = spec.rpartition(":")
    if target == name and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(70)


def process(models, base_config, name: str, path: str, out: str, reporter: Reporter) -> dict:
    """Run one input; never raises for the input's own problems (they become a failed outcome)."""
    from backend.pipeline import run

    _crash_hook(name)
    t0 = time.perf_counter()
    try:
        config = dataclasses.replace(base_config, input=path, out=out)
        _, fields = run(config, reporter, models=models)
    except BackendError as exc:
        error = {"code": str(exc.code), "message": exc.message, "hint": exc.hint}
        return {"status": "failed", "error": error, "elapsed_s": round(time.perf_counter() - t0, 3)}
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # a bug on this input: keep the others going
        error = {"code": str(Code.INTERNAL), "message": f"internal error: {type(exc).__name__}: {exc}",
                 "hint": "This is a bug. Please report it with the backend log (stderr)."}
        return {"status": "failed", "error": error, "elapsed_s": round(time.perf_counter() - t0, 3)}
    elapsed = time.perf_counter() - t0
    fps = round(fields["frames"] / elapsed, 3) if elapsed > 0 else None
    return {"status": "done", "frames": fields["frames"], "timings_s": fields["timings_s"],
            "elapsed_s": round(elapsed, 3), "fps": fps, "tracks": fields["tracks"]}
