"""The local executor: N worker processes (multiprocessing, spawn), each loading the models once.

Each worker has its own job queue, so the parent always knows which input a worker holds; all
workers report on one event queue. A worker that dies (segfault, OOM killer) has its input retried
once on a fresh worker, then the input is failed with WORKER_CRASHED. Ctrl-C / SIGTERM in the
parent: every worker gets SIGTERM (its run's ResultWriter then removes the half result), is joined,
and KeyboardInterrupt propagates.

Messages on the event queue: (kind, worker id, input name | None, payload) with kind
ready {"load_s", "synthetic"} | load_failed {"code", "message", "hint"} | start {} |
event {"event", ...protocol fields} | outcome (backend.batch.work outcome dict).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
from collections import deque

from backend.errors import BackendError, Code

JOIN_S = 15.0  # how long a stopping worker may take before it is killed


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt()


def worker_main(wid: int, base_config, jobs, events, threads: int) -> None:
    """The worker process: load the models, then run jobs (name, path, out) until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it sends SIGTERM
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        import torch

        from backend.batch.work import ForwardingReporter, load_models, process

        torch.set_num_threads(threads)
        try:
            models, load_s = load_models(base_config)
        except BackendError as exc:
            events.put(("load_failed", wid, None, {"code": str(exc.code), "message": exc.message,
                                                   "hint": exc.hint}))
            return
        events.put(("ready", wid, None, {"load_s": round(load_s, 3), "synthetic": bool(models.synthetic)}))
        while (job := jobs.get()) is not None:
            name, path, out = job
            events.put(("start", wid, name, {}))
            def send(event, fields, n=name):
                events.put(("event", wid, n, {"event": event, **fields}))

            reporter = ForwardingReporter(send)
            events.put(("outcome", wid, name, process(models, base_config, name, path, out, reporter)))
    except KeyboardInterrupt:
        pass


def default_workers(device: str) -> int:
    """What fits the machine: one on a GPU; on CPU min(cores/2, RAM/2 GiB), at least 1."""
    if device.startswith("cuda"):
        return 1
    cores = os.cpu_count() or 1
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 4 << 30
    return max(1, min(cores // 2, ram // (2 << 30)))


class LocalExecutor:
    def __init__(self, base_config, workers: int) -> None:
        self.base_config = base_config
        self.workers = max(1, workers)
        self.ctx = mp.get_context("spawn")

    def describe(self) -> dict:
        return {"kind": "local", "workers": self.workers}

    def _spawn(self, wid: int):
        jobs = self.ctx.Queue()
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        proc = self.ctx.Process(target=worker_main, args=(wid, self.base_config, jobs, self.events, threads),
                                name=f"tcmr-batch-{wid}", daemon=True)
        proc.start()
        return proc, jobs

    def run(self, jobs: list[tuple[str, str, str]], on_event) -> None:
        """Run every job; on_event(kind, name, payload) for ready/start/event/outcome/retry."""
        if not jobs:
            return
        self.events = self.ctx.Queue()
        self.pending = deque(jobs)
        self.attempts: dict[str, int] = {}
        self.procs: dict[int, tuple] = {}  # wid -> (process, jobs queue)
        self.ready: set[int] = set()
        self.busy: dict[int, tuple] = {}
        self.next_wid = 0
        self.spawns_left = self.workers + 2 * len(jobs)  # a crash loop cannot respawn forever
        try:
            for _ in range(min(self.workers, len(jobs))):
                self._add_worker()
            while self.pending or self.busy:
                self._assign()
                try:
                    message = self.events.get(timeout=0.5)
                except queue.Empty:
                    self._reap(on_event)
                    continue
                self._handle(message, on_event)
        finally:
            self._stop()

    def _add_worker(self) -> None:
        if self.spawns_left <= 0:
            raise BackendError(Code.WORKER_CRASHED, "batch workers keep dying before they can take an input",
                               "Check memory (each worker needs about 2 GB) and try --workers 1.")
        self.spawns_left -= 1
        self.procs[self.next_wid] = self._spawn(self.next_wid)
        self.next_wid += 1

    def _assign(self) -> None:
        for wid in sorted(self.ready - set(self.busy)):
            if not self.pending:
                return
            job = self.pending.popleft()
            self.busy[wid] = job
            self.attempts[job[0]] = self.attempts.get(job[0], 0) + 1
            self.procs[wid][1].put(job)

    def _handle(self, message, on_event) -> None:
        kind, wid, name, payload = message
        if kind == "load_failed":
            raise BackendError(Code(payload["code"]), payload["message"], payload["hint"])
        if kind == "ready":
            self.ready.add(wid)
        elif kind == "outcome":
            self.busy.pop(wid, None)
            payload = {**payload, "attempts": self.attempts.get(name, 1)}
        on_event(kind, name, payload)

    def _reap(self, on_event) -> None:
        """Dead workers: drain what they sent, retry their input once on a new worker, replace them."""
        dead = [wid for wid, (proc, _) in self.procs.items() if not proc.is_alive()]
        if not dead:
            return
        while True:
            try:
                self._handle(self.events.get_nowait(), on_event)
            except queue.Empty:
                break
        for wid in dead:
            self.procs.pop(wid)
            self.ready.discard(wid)
            job = self.busy.pop(wid, None)
            if job is not None:
                self._crashed(job, on_event)
        while len(self.procs) < min(self.workers, len(self.pending) + len(self.busy)):
            self._add_worker()

    def _crashed(self, job, on_event) -> None:
        name = job[0]
        if self.attempts.get(name, 1) < 2:
            on_event("retry", name, {"attempts": self.attempts[name]})
            self.pending.appendleft(job)
            return
        on_event("outcome", name, {"status": "failed", "attempts": self.attempts[name], "elapsed_s": None,
                                   "error": {"code": str(Code.WORKER_CRASHED),
                                             "message": f"the worker died twice on {job[1]}",
                                             "hint": "The input may crash the decoder or need more memory; "
                                                     "run it alone with `run` to see why."}})

    def _stop(self) -> None:
        """Normal end: tell each worker to finish. Interrupted: SIGTERM each (half results removed)."""
        for proc, jobs in self.procs.values():
            if proc.is_alive():
                if self.busy:
                    proc.terminate()
                else:
                    jobs.put(None)
        for proc, _ in self.procs.values():
            proc.join(JOIN_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
