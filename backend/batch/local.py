"""The local executor: N worker processes (multiprocessing, spawn), each loading the models once.

Each worker has its own pipe (jobs in, events out), so the parent always knows which input a worker
holds and a dying worker cannot jam the others' channel. A worker that dies (segfault, OOM killer)
has its input retried once on a fresh worker, then the input is failed with WORKER_CRASHED. Ctrl-C /
SIGTERM in the parent: every worker gets SIGTERM (its run's ResultWriter then removes the half
result), is joined, and KeyboardInterrupt propagates.

Messages on a worker's pipe: (kind, worker id, input name | None, payload) with kind
ready {"load_s", "synthetic"} | load_failed {"code", "message", "hint"} | start {} |
event {"event", ...protocol fields} | outcome (backend.batch.work outcome dict).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
from collections import deque
from multiprocessing.connection import wait

from backend.errors import BackendError, Code

JOIN_S = 15.0  # how long a stopping worker may take before it is killed


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt()


def worker_main(wid: int, base_config, conn, threads: int) -> None:
    """The worker process: load the models, then run jobs (name, path, out) received on `conn` until None.

    Its own pipe (no shared queue, no feeder thread): a worker that dies mid-message can break only
    its own channel, never the others'."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it sends SIGTERM
    signal.signal(signal.SIGTERM, _raise_interrupt)
    os.dup2(2, 1)  # stdout belongs to the parent's protocol lines: anything a library prints goes to stderr
    try:
        import torch

        from backend.batch.work import ForwardingReporter, load_models, process

        torch.set_num_threads(threads)
        try:
            models, load_s = load_models(base_config)
        except BackendError as exc:
            conn.send(("load_failed", wid, None, {"code": str(exc.code), "message": exc.message,
                                                  "hint": exc.hint}))
            return
        conn.send(("ready", wid, None, {"load_s": round(load_s, 3), "synthetic": bool(models.synthetic)}))
        while (job := conn.recv()) is not None:
            name, path, out = job
            conn.send(("start", wid, name, {}))

            def send(event, fields, n=name):
                conn.send(("event", wid, n, {"event": event, **fields}))

            outcome = process(models, base_config, name, path, out, ForwardingReporter(send))
            conn.send(("outcome", wid, name, outcome))
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass


def worker_threads(workers: int) -> int:
    """torch threads per worker: $OMP_NUM_THREADS when set, else the cores shared out."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else max(1, (os.cpu_count() or 1) // workers)


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
        parent, child = self.ctx.Pipe()
        threads = worker_threads(self.workers)
        proc = self.ctx.Process(target=worker_main, args=(wid, self.base_config, child, threads),
                                name=f"tcmr-batch-{wid}", daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def run(self, jobs: list[tuple[str, str, str]], on_event) -> None:
        """Run every job; on_event(kind, name, payload) for ready/start/event/outcome/retry."""
        if not jobs:
            return
        self.pending = deque(jobs)
        self.attempts: dict[str, int] = {}
        self.procs: dict[int, tuple] = {}  # wid -> (process, pipe)
        self.ready: set[int] = set()
        self.busy: dict[int, tuple] = {}
        self.next_wid = 0
        self.spawns_left = self.workers + 2 * len(jobs)  # a crash loop cannot respawn forever
        try:
            for _ in range(min(self.workers, len(jobs))):
                self._add_worker()
            while self.pending or self.busy:
                self._assign()
                self._poll(on_event)
        finally:
            self._stop()

    def _poll(self, on_event) -> None:
        """Handle every message that arrived (up to 0.5 s wait); then deal with dead workers."""
        by_conn = {conn: wid for wid, (_, conn) in self.procs.items()}
        sentinels = [proc.sentinel for proc, _ in self.procs.values()]
        dead = set()
        for ready in wait(list(by_conn) + sentinels, timeout=0.5):
            wid = by_conn.get(ready)
            if wid is None:
                continue
            try:
                while ready.poll():
                    self._handle(ready.recv(), on_event)
            except (EOFError, OSError):
                dead.add(wid)
        dead |= {wid for wid, (proc, _) in self.procs.items() if not proc.is_alive()}
        if dead:
            self._reap(dead, on_event)

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
            self.procs[wid][1].send(job)

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

    def _reap(self, dead: set[int], on_event) -> None:
        """Dead workers: retry their input once on a new worker, replace them."""
        for wid in dead:
            proc, conn = self.procs.pop(wid)
            proc.join(1.0)
            conn.close()
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
        for proc, conn in self.procs.values():
            if proc.is_alive():
                if self.busy:
                    proc.terminate()
                else:
                    with contextlib.suppress(OSError):
                        conn.send(None)
        for proc, _ in self.procs.values():
            proc.join(JOIN_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
