"""The Ray executor (optional extra `batch`): one actor per worker slot, models loaded once per actor.

`--ray local` starts a private Ray on this machine (2 CPUs unless --workers asks more, loopback
only, no dashboard); `--ray auto` joins the running cluster (`ray start --head`, KubeRay, or the
one `ray job submit` runs the driver in); any other value is the cluster address. Each actor asks
for 1 CPU, plus 1 GPU when the cluster has GPUs and --device is not cpu. Inputs and results are
plain paths: every node must see them at the same path (shared storage, docs/batch.md).

A dead actor (its process killed, its node lost) has its input retried once on a fresh actor, then
the input is failed with WORKER_CRASHED. Ctrl-C: the running tasks are cancelled (KeyboardInterrupt
inside them, so their ResultWriter removes the half result), then every actor is killed.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path

from backend.errors import BackendError, Code

INSTALL_HINT = 'Install Ray: pip install "ray[default]" (or the batch extra: pip install -e ".[batch]").'
CANCEL_WAIT_S = 10.0


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BackendError(Code.RAY_UNAVAILABLE, "--ray needs Ray, which is not installed",
                           INSTALL_HINT) from None
    return ray


class _Actor:
    """The actor body (wrapped by ray.remote in RayExecutor): models loaded once in __init__."""

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
        return {"error": self.error, "load_s": round(self.load_s, 3),
                "synthetic": bool(self.models is not None and self.models.synthetic)}

    def process(self, name: str, path: str, out: str) -> dict:
        from backend.batch.work import process
        from backend.events import NullReporter

        return process(self.models, self.base_config, name, path, out, NullReporter())


class RayExecutor:
    def __init__(self, base_config, address: str, workers: int) -> None:
        self.ray = _import_ray()
        self.base_config, self.workers = base_config, max(1, workers)
        # Ray's driver prints worker/raylet notices with print(): keep stdout for protocol lines (the
        # Reporter holds the real stdout object already) by sending Python's sys.stdout to stderr.
        self._stdout, sys.stdout = sys.stdout, sys.stderr
        self.started_local = address == "local"
        try:
            if self.started_local:
                repo = str(Path(__file__).resolve().parents[2])
                self.ray.init(num_cpus=max(2, self.workers), include_dashboard=False,
                              _node_ip_address="127.0.0.1", log_to_driver=False,
                              runtime_env={"env_vars": {"PYTHONPATH": repo}})
            else:
                self.ray.init(address=address, log_to_driver=False)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
            sys.stdout = self._stdout
            raise BackendError(Code.RAY_UNAVAILABLE, f"cannot start or reach Ray at '{address}': {exc}",
                               "Start a cluster with `ray start --head`, give its address, or use "
                               "--ray local.") from None
        gpus = self.ray.cluster_resources().get("GPU", 0)
        self.gpus_per_actor = 1 if gpus >= 1 and base_config.device != "cpu" else 0
        self.actor_class = self.ray.remote(num_cpus=1, num_gpus=self.gpus_per_actor, max_restarts=0)(_Actor)
        context = self.ray.get_runtime_context()
        self.address = getattr(context, "gcs_address", None) or address

    def describe(self) -> dict:
        return {"kind": "ray", "workers": self.workers, "ray_version": self.ray.__version__,
                "address": self.address, "local": self.started_local, "gpus_per_actor": self.gpus_per_actor}

    def shutdown(self) -> None:
        try:
            if self.ray.is_initialized():
                self.ray.shutdown()
        finally:
            sys.stdout = self._stdout

    def run(self, jobs: list[tuple[str, str, str]], on_event) -> None:
        if not jobs:
            return
        self.pending = deque(jobs)
        self.attempts: dict[str, int] = {}
        self.idle: list = []
        self.inflight: dict = {}  # object ref -> (actor, job)
        self.actors: list = []
        self.spawns_left = self.workers + 2 * len(jobs)
        try:
            for _ in range(min(self.workers, len(jobs))):
                self._add_actor(on_event)
            while self.pending or self.inflight:
                self._assign()
                done, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=0.5)
                for ref in done:
                    self._finish(ref, on_event)
        except BaseException:
            self._cancel()
            raise
        finally:
            for actor in self.actors:
                self.ray.kill(actor)

    def _add_actor(self, on_event) -> None:
        if self.spawns_left <= 0:
            raise BackendError(Code.WORKER_CRASHED, "Ray batch actors keep dying",
                               "Check the cluster's memory (about 2 GB per actor) and its logs.")
        self.spawns_left -= 1
        actor = self.actor_class.remote(self.base_config)
        info = self.ray.get(actor.info.remote())
        if info["error"]:
            raise BackendError(Code(info["error"]["code"]), info["error"]["message"], info["error"]["hint"])
        on_event("ready", None, info)
        self.actors.append(actor)
        self.idle.append(actor)

    def _assign(self) -> None:
        while self.idle and self.pending:
            actor, job = self.idle.pop(), self.pending.popleft()
            self.attempts[job[0]] = self.attempts.get(job[0], 0) + 1
            self.inflight[actor.process.remote(*job)] = (actor, job)

    def _finish(self, ref, on_event) -> None:
        actor, job = self.inflight.pop(ref)
        name = job[0]
        try:
            outcome = self.ray.get(ref)
        except self.ray.exceptions.RayActorError:  # the actor's process died: retry once elsewhere
            self.actors.remove(actor)
            if self.attempts[name] < 2:
                on_event("retry", name, {"attempts": self.attempts[name]})
                self.pending.appendleft(job)
            else:
                on_event("outcome", name, _crashed(job, self.attempts[name]))
            if len(self.actors) < min(self.workers, len(self.pending) + len(self.inflight)):
                self._add_actor(on_event)
            return
        except self.ray.exceptions.RayTaskError as exc:
            outcome = {"status": "failed", "elapsed_s": None,
                       "error": {"code": str(Code.INTERNAL), "message": f"internal error: {exc}",
                                 "hint": "This is a bug. Please report it with the Ray worker log."}}
        self.idle.append(actor)
        on_event("outcome", name, {**outcome, "attempts": self.attempts[name]})

    def _cancel(self) -> None:
        """Interrupt the running tasks gracefully (their ResultWriter cleans up), then give up waiting."""
        refs = list(self.inflight)
        for ref in refs:
            self.ray.cancel(ref, force=False)
        deadline = time.monotonic() + CANCEL_WAIT_S
        while refs and time.monotonic() < deadline:
            _, refs = self.ray.wait(refs, num_returns=len(refs), timeout=0.5)


def _crashed(job, attempts: int) -> dict:
    return {"status": "failed", "attempts": attempts, "elapsed_s": None,
            "error": {"code": str(Code.WORKER_CRASHED), "message": f"the Ray actor died twice on {job[1]}",
                      "hint": "The input may crash the decoder or need more memory; run it alone with "
                              "`run`."}}
