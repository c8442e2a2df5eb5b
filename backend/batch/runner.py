"""The batch: inputs -> skip / run through an executor -> DIR/<name>/ results + DIR/batch.json.

The executor (backend.batch.local.LocalExecutor or backend.batch.ray_exec.RayExecutor) runs jobs
(name, input path, result folder) and calls back on_event(kind, name, payload); this module keeps
the manifest (rewritten atomically after every finished input) and the progress.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from backend.batch import manifest as mf
from backend.batch.inputs import Input, content_hash
from backend.batch.progress import BatchProgress
from backend.errors import BackendError, Code
from backend.events import Reporter
from backend.result import LOCK_FILE, acquire_lock

_CARRIED = ("frames", "fps", "timings_s", "elapsed_s", "attempts", "tracks")


def settings_of(base_config) -> dict:
    """What decides a result besides its input: every run option but input/out/device."""
    settings = base_config.to_dict()
    for key in ("input", "out", "device"):
        settings.pop(key, None)
    if settings.get("data_dir"):
        settings["data_dir"] = str(Path(settings["data_dir"]).resolve())
    return settings


@contextlib.contextmanager
def batch_lock(out_dir) -> Iterator[Path]:
    """Hold DIR/.tcmr-lock (backend.result's lock convention: the owner's pid inside, a dead owner's
    lock taken over) for the whole batch, so two batches never write one batch.json; BATCH_LOCKED."""
    out_dir = Path(out_dir).expanduser().resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        lock = acquire_lock(out_dir)
    except OSError as exc:
        raise BackendError(Code.OUTPUT_UNWRITABLE, f"cannot write into {out_dir}: {exc}",
                           "Choose an --out folder you can write to.") from None
    except BackendError as exc:
        if exc.code != Code.OUTPUT_BUSY:
            raise
        try:
            owner = (out_dir / LOCK_FILE).read_text(encoding="utf-8").strip() or "?"
        except OSError:
            owner = "?"
        raise BackendError(Code.BATCH_LOCKED, f"another batch (pid {owner}) is writing into {out_dir}",
                           "Wait for it to finish (or stop it), or give this batch another --out folder. "
                           f"If no such process exists, delete {out_dir / LOCK_FILE}.") from None
    try:
        yield out_dir
    finally:
        lock.unlink(missing_ok=True)


def _plan(items: list[Input], manifest: mf.Manifest, out_dir: Path) -> list[tuple[str, str, str]]:
    """Manifest entries for every input; the jobs to run (those not reusable from the last batch)."""
    previous = mf.load_previous(out_dir)
    jobs = []
    for item in items:
        try:
            digest = content_hash(item)
        except BackendError as exc:
            manifest.add(item.name, item.path, item.kind, status="failed",
                         error={"code": str(exc.code), "message": exc.message, "hint": exc.hint})
            continue
        old = previous.get(item.name)
        if mf.reusable(old, digest, manifest.settings_hash, out_dir):
            manifest.add(item.name, item.path, item.kind, status="skipped", content_hash=digest,
                         **{k: old.get(k) for k in _CARRIED if k in old})
            continue
        manifest.add(item.name, item.path, item.kind, content_hash=digest)
        jobs.append((item.name, item.path, str(out_dir / item.name)))
    return jobs


def run_batch(base_config, items: list[Input], out_dir: Path, executor,
              reporter: Reporter) -> tuple[Path, dict]:
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    manifest = mf.Manifest(out_dir, settings_of(base_config), executor.describe())
    reporter.stage("batch", f"Batch of {len(items)} input(s) into {out_dir}")
    jobs = _plan(items, manifest, out_dir)
    manifest.save()
    progress = BatchProgress(reporter, len(items), len(items) - len(jobs), len(jobs))
    progress.report()
    warned = []

    def on_event(kind: str, name: str | None, payload: dict) -> None:
        if kind == "ready" and payload.get("synthetic") and not warned:
            warned.append(True)
            reporter.warning("SYNTHETIC_DATA", "the model data is synthetic (random weights): the output is "
                                               "meaningless", "Install the real model data (see `check`).")
        elif kind == "event":
            progress.input_event(name, payload)
        elif kind == "outcome":
            entry = manifest.entries[name]
            entry.update(status=payload["status"], error=payload.get("error"),
                         **{k: payload[k] for k in _CARRIED if k in payload})
            manifest.save()
            progress.finished(name, payload)
        elif kind == "retry":
            reporter.warning("WORKER_CRASHED", f"a worker died on {name}; retrying it once on another worker",
                             "Nothing to do unless it fails again.")

    try:
        executor.run(jobs, on_event)
    finally:
        manifest.save()
    totals = manifest.totals()
    return out_dir, {"manifest": str(manifest.path), "executor": executor.describe(), **totals,
                     "wall_s": round(time.monotonic() - t0, 3)}
