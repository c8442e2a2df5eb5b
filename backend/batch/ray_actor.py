"""The body of one Ray batch actor (wrapped by ray.remote in backend.batch.ray_exec): models loaded
once in __init__, then `process` runs one input as a Ray streaming generator.

`process(name, path, out)` yields lists of items, in order, as the input goes on:
    ("event", {"event": "stage"|"progress"|"warning", ...protocol fields})   the input's own events
    ("outcome", backend.batch.work outcome dict)                              the last item
    ("cancelled", None)                                                       instead, after ray.cancel

The pipeline runs in a thread of the actor; the generator wakes every POLL_S, yields what the
thread reported since (of several progress events of one stage only the newest), and checks
Ray's cancellation flag (`ray.get_runtime_context().is_canceled()`: ray.cancel cannot interrupt a
running actor task, it only sets that flag). Once cancelled, the thread's next event raises
KeyboardInterrupt inside the pipeline, so its ResultWriter removes the half result.
"""

from __future__ import annotations

import queue
import threading

from backend.errors import BackendError, Code

POLL_S = 0.25
_LAST = ("outcome", "cancelled")


class BatchActor:
    def __init__(self, base_config) -> None:
        import torch

        from backend.batch.work import load_models

        torch.set_num_threads(1)  # the one CPU the actor asked Ray for
        self.base_config = base_config
        self.error = None
        try:
            self.models, self.load_s = load_models(base_config)
        except BackendError as exc:
            self.models, self.load_s = None, 0.0
            self.error = {"code": str(exc.code), "message": exc.message, "hint": exc.hint}

    def info(self) -> dict:
        import os

        return {"error": self.error, "load_s": round(self.load_s, 3), "pid": os.getpid(),
                "synthetic": bool(self.models is not None and self.models.synthetic)}

    def process(self, name: str, path: str, out: str):
        import ray

        items: queue.Queue = queue.Queue()
        stop = threading.Event()
        thread = threading.Thread(target=self._run, args=(name, path, out, items, stop), daemon=True,
                                  name=f"tcmr-batch-{name}")
        thread.start()
        context = ray.get_runtime_context()
        while True:
            batch = _drain(items, POLL_S)
            if not stop.is_set() and context.is_canceled():
                stop.set()
            if batch:
                yield batch
                if batch[-1][0] in _LAST:
                    thread.join()
                    return

    def _run(self, name: str, path: str, out: str, items: queue.Queue, stop: threading.Event) -> None:
        """The pipeline thread: one input, its events and its outcome into `items`."""
        from backend.batch.work import ForwardingReporter, process

        def send(event: str, fields: dict) -> None:
            if stop.is_set():
                raise KeyboardInterrupt  # the batch was cancelled: unwind, the ResultWriter cleans up
            items.put(("event", {"event": event, **fields}))

        try:
            outcome = process(self.models, self.base_config, name, path, out, ForwardingReporter(send))
        except KeyboardInterrupt:
            items.put(("cancelled", None))
            return
        except BaseException as exc:  # SystemExit or worse from a library: fail this input, not the actor
            outcome = {"status": "failed", "elapsed_s": None,
                       "error": {"code": str(Code.INTERNAL), "message": f"internal error: {exc!r}",
                                 "hint": "This is a bug. Please report it with the Ray worker log."}}
        items.put(("outcome", outcome))


def _drain(items: queue.Queue, timeout: float) -> list:
    """What arrived within `timeout` (at least one item, or none); progress coalesced per stage."""
    try:
        got = [items.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:
        try:
            got.append(items.get_nowait())
        except queue.Empty:
            break
    return _coalesce(got)


def _coalesce(items: list) -> list:
    """Drop progress events that a later progress event of the same stage supersedes."""
    newest: dict[str, int] = {}
    for i, (kind, payload) in enumerate(items):
        if kind == "event" and payload.get("event") == "progress":
            newest[payload.get("stage")] = i
    return [item for i, item in enumerate(items)
            if not (item[0] == "event" and item[1].get("event") == "progress"
                    and newest.get(item[1].get("stage")) != i)]
