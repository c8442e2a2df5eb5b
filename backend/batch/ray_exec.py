"""The Ray executor (optional extra `batch`): one actor per worker slot, models loaded once per actor.

`--ray local` starts a private single-node Ray on this machine, on loopback only (every Ray server
binds 127.0.0.1, see `_start_local`), with --workers CPUs (default 2), no dashboard and no usage
statistics, and stops it at the end. `--ray auto` joins the running cluster (`ray start --head`,
KubeRay, or the one `ray job submit` runs the driver in); any other value is the cluster address.
Each actor asks for 1 CPU, plus 1 GPU when the cluster has GPUs and --device is not cpu. Inputs and
results are plain paths: every node must see them at the same path (shared storage, docs/batch.md).

Per-input progress: each input is one call of the actor's streaming-generator method
(backend.batch.ray_actor); the driver waits on all running generators with ray.wait and relays
their events as they come. A dead actor (its process killed, its node lost) has its input retried
once on a fresh actor, then the input is failed with WORKER_CRASHED. Ctrl-C / SIGTERM: every
running generator is cancelled (the actor sees the flag and its ResultWriter removes the half
result), the driver waits up to CANCEL_WAIT_S for them to finish, then kills every actor, and a
local Ray is shut down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path

from backend.errors import BackendError, Code

INSTALL_HINT = 'Install Ray: pip install "ray>=2.60,<3" (or the batch extra: pip install -e ".[batch]").'
CANCEL_WAIT_S = 10.0
LOCAL_OBJECT_STORE = 256 << 20  # bytes: the local Ray only carries small event lists and outcomes
# Read by Ray when it is imported: with cluster mode off, Ray's node address is the loopback one and
# every Ray server binds it (what Ray does by default on macOS and Windows); usage stats off.
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BackendError(Code.RAY_UNAVAILABLE, "--ray needs Ray, which is not installed",
                           INSTALL_HINT) from None
    return ray


def _start_local(ray, workers: int) -> None:
    """A private Ray on loopback: `workers` CPUs, no dashboard; workers import this checkout."""
    repo = str(Path(__file__).resolve().parents[2])
    paths = [repo, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))  # Ray's processes inherit it
    with contextlib.suppress(ImportError, AttributeError):  # Ray imported before LOCAL_ENV was set
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    # address="local": always a new Ray, never one that RAY_ADDRESS or an earlier `ray start` names
    ray.init(address="local", num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=LOCAL_OBJECT_STORE, log_to_driver=False)
    address = ray.get_runtime_context().gcs_address or ""
    if not address.startswith("127."):
        ray.shutdown()
        raise BackendError(Code.RAY_UNAVAILABLE, f"the local Ray did not bind to loopback ({address})",
                           "Run `python -m backend batch --ray local` as a process of its own (Ray must "
                           "not be imported before it), or join a cluster you started: --ray ADDRESS.")


class RayExecutor:
    def __init__(self, base_config, address: str, workers: int) -> None:
        self.started_local = address == "local"
        if self.started_local:
            os.environ.update(LOCAL_ENV)
        self.ray = _import_ray()
        self.base_config, self.workers = base_config, max(1, workers)
        # Ray's driver prints worker/raylet notices with print(): keep stdout for protocol lines (the
        # Reporter holds the real stdout object already) by sending Python's sys.stdout to stderr.
        self._stdout, sys.stdout = sys.stdout, sys.stderr
        main = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if main else None
        try:
            if self.started_local:
                _start_local(self.ray, self.workers)
            else:
                self.ray.init(address=address, log_to_driver=False)
        except BackendError:
            self.shutdown()
            raise
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
            self.shutdown()
            raise BackendError(Code.RAY_UNAVAILABLE, f"cannot start or reach Ray at '{address}': {exc}",
                               "Start a cluster with `ray start --head`, give its address, or use "
                               "--ray local.") from None
        except BaseException:
            self.shutdown()
            raise
        finally:
            if sigterm is not None:  # ray.init replaces SIGTERM with sys.exit: ours makes it a cancel
                signal.signal(signal.SIGTERM, sigterm)
        gpus = self.ray.cluster_resources().get("GPU", 0)
        self.gpus_per_actor = 1 if gpus >= 1 and base_config.device != "cpu" else 0
        from backend.batch.ray_actor import BatchActor

        self.actor_class = self.ray.remote(num_cpus=1, num_gpus=self.gpus_per_actor, max_restarts=0)(
            BatchActor)
        self.address = self.ray.get_runtime_context().gcs_address or address

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
        """Run every job; on_event(kind, name, payload) for ready/event/outcome/retry."""
        if not jobs:
            return
        self.pending = deque(jobs)
        self.attempts: dict[str, int] = {}
        self.idle: list = []
        self.starting: dict = {}  # info() ref -> actor still loading its models
        self.inflight: dict = {}  # streaming generator -> (actor, job)
        self.actors: list = []
        self.spawns_left = self.workers + 2 * len(jobs)
        try:
            for _ in range(min(self.workers, len(jobs))):
                self._add_actor()
            while self.pending or self.inflight:
                self._assign()
                self._poll(on_event)
        except BaseException:
            self._cancel(on_event)
            raise
        finally:
            for actor in self.actors:
                with contextlib.suppress(Exception):
                    self.ray.kill(actor)

    def _poll(self, on_event) -> None:
        """Wait up to 0.5 s for anything (an actor ready, a generator's next item); handle all ready."""
        waitables = [*self.starting, *self.inflight]
        ready, _ = self.ray.wait(waitables, num_returns=1, timeout=0.5)
        if ready:
            ready, _ = self.ray.wait(waitables, num_returns=len(waitables), timeout=0)
        for item in ready:
            if item in self.starting:
                self._started(item, on_event)
            else:
                self._advance(item, on_event)

    def _add_actor(self) -> None:
        if self.spawns_left <= 0:
            raise BackendError(Code.WORKER_CRASHED, "Ray batch actors keep dying",
                               "Check the cluster's memory (about 2 GB per actor) and its logs.")
        self.spawns_left -= 1
        actor = self.actor_class.remote(self.base_config)
        self.actors.append(actor)
        self.starting[actor.info.remote()] = actor

    def _started(self, ref, on_event) -> None:
        actor = self.starting.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.RayActorError:  # died while loading: try another one
            self._drop(actor)
            self._replace()
            return
        if info["error"]:
            raise BackendError(Code(info["error"]["code"]), info["error"]["message"], info["error"]["hint"])
        on_event("ready", None, info)
        self.idle.append(actor)

    def _drop(self, actor) -> None:
        """Forget a dead (or unreachable: ActorUnavailableError) actor; kill it in case it comes back."""
        self.actors.remove(actor)
        with contextlib.suppress(Exception):
            self.ray.kill(actor)

    def _replace(self) -> None:
        wanted = min(self.workers, len(self.pending) + len(self.inflight))
        if len(self.actors) < wanted:
            self._add_actor()

    def _assign(self) -> None:
        while self.idle and self.pending:
            actor, job = self.idle.pop(), self.pending.popleft()
            self.attempts[job[0]] = self.attempts.get(job[0], 0) + 1
            self.inflight[actor.process.remote(*job)] = (actor, job)

    def _advance(self, generator, on_event) -> None:
        """The generator's next list of items: relay events; at its outcome the actor is free again."""
        actor, job = self.inflight[generator]
        name = job[0]
        try:
            items = self.ray.get(next(generator))
        except StopIteration:  # ended without an outcome (cancelled): the input stays pending
            del self.inflight[generator]
            self.idle.append(actor)
            return
        except self.ray.exceptions.RayActorError:  # the actor's process died: retry once elsewhere
            del self.inflight[generator]
            self._drop(actor)
            self._crashed(job, on_event)
            self._replace()
            return
        except self.ray.exceptions.RayTaskError as exc:
            items = [("outcome", _internal(exc))]
        for kind, payload in items:
            if kind == "event":
                on_event("event", name, payload)
            elif kind == "outcome":
                del self.inflight[generator]
                self.idle.append(actor)
                on_event("outcome", name, {**payload, "attempts": self.attempts[name]})

    def _crashed(self, job, on_event) -> None:
        name = job[0]
        if self.attempts[name] < 2:
            on_event("retry", name, {"attempts": self.attempts[name]})
            self.pending.appendleft(job)
            return
        on_event("outcome", name, {
            "status": "failed", "attempts": self.attempts[name], "elapsed_s": None,
            "error": {"code": str(Code.WORKER_CRASHED), "message": f"the Ray actor died twice on {job[1]}",
                      "hint": "The input may crash the decoder or need more memory; run it alone with "
                              "`run`."}})

    def _cancel(self, on_event) -> None:
        """Cancel every running generator (the actors stop at their next event and clean up) and
        wait up to CANCEL_WAIT_S for them to end, recording an input that finished meanwhile; the
        caller then kills the actors."""
        for generator in self.inflight:
            with contextlib.suppress(Exception):
                self.ray.cancel(generator)
        deadline = time.monotonic() + CANCEL_WAIT_S
        running = dict(self.inflight)
        while running and time.monotonic() < deadline:
            ready, _ = self.ray.wait(list(running), num_returns=1, timeout=0.5)
            for generator in ready:
                try:
                    items = self.ray.get(next(generator))
                except Exception:  # StopIteration (ended), TaskCancelledError, a dead actor: it is over
                    del running[generator]
                    continue
                name = running[generator][1][0]
                for kind, payload in items:
                    if kind == "outcome":
                        on_event("outcome", name, {**payload, "attempts": self.attempts[name]})


def _internal(exc) -> dict:
    return {"status": "failed", "elapsed_s": None,
            "error": {"code": str(Code.INTERNAL), "message": f"internal error: {exc}",
                      "hint": "This is a bug. Please report it with the Ray worker log."}}
