"""Scale-out on Ray (``--engine ray``): the per-video work of ``extract`` and ``select`` run by Ray
actors, one model copy per actor, while this process claims videos and writes results, so the store
and the exports are those the local engine makes. Needs ``pip install smartframes[ray]``.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Callable, Hashable, Iterable, Iterator

from ..errors import SmartframesError
from ..spec import RUNTIME_ENV

HEARTBEAT_EVERY = 10.0  # seconds: the longest ray_map waits for a result before calling its heartbeat


def _ray():
    try:
        import ray
    except ImportError:
        raise SmartframesError("--engine ray needs Ray: pip install 'smartframes[ray]'") from None
    return ray


class _Actor:
    """Holds one worker (its models load on its first item, once) and runs it on items; a
    user-facing error comes back as ``("error", reason)`` instead of killing the actor. Runs two
    threads, so that :meth:`idle` answers while :meth:`run` is busy."""

    def __init__(self, worker: Callable):
        self.worker = worker

    def idle(self) -> float:
        """Seconds since the worker last made progress on its item (``progress_at``, a
        ``time.monotonic()`` it updates; 0 for a worker that does not report it)."""
        at = getattr(self.worker, "progress_at", None)
        return 0.0 if at is None else time.monotonic() - at

    def run(self, item):
        try:
            return "ok", self.worker(item)
        except SmartframesError as e:
            return "error", getattr(e, "reason", str(e))
        except Exception as e:  # a hostile file must cost one video, not the run
            return "error", f"unexpected {type(e).__name__}: {e}"


def ray_map(worker: Callable, items: Iterable[tuple[Hashable, object]], *, address: str | None = None,
            actors: int | None = None, cpus_per_actor: float = 2, gpus_per_actor: float = 0,
            heartbeat: Callable[[], None] | None = None, heartbeat_every: float = HEARTBEAT_EVERY,
            stall_timeout: float | None = None) -> Iterator[tuple]:
    """Run ``worker(item)`` (a picklable callable) on Ray actors for each ``(key, item)``; yield ``(key, "ok", result)``
    or ``(key, "error", reason)`` as they finish, in any order. ``items`` is consumed lazily, one per
    free actor, so a video is claimed only when an actor is ready for it.

    Args:
        address: a running cluster (``ray start --head`` prints it); None starts a local instance.
        actors: how many model copies; default as many as the cluster's CPUs (or GPUs) allow.
        heartbeat: called here at least every ``heartbeat_every`` seconds while items are running
            (``extract`` renews its claims with it).
        stall_timeout: an item whose worker reports no progress (see :meth:`_Actor.idle`) for this
            many seconds is abandoned, ``(key, "error", "decoder stalled: ...")`` as the local engine
            records it, and its actor replaced (None: never).
    """
    ray = _ray()
    source = iter(items)
    first = next(source, None)
    if first is None:
        return
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    resources = ray.cluster_resources()
    cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
    if gpus_per_actor:
        actors = actors or int(gpus // gpus_per_actor)
        if actors < 1 or actors * gpus_per_actor > gpus:
            raise SmartframesError(f"the Ray cluster has {gpus:g} GPUs, not enough for {max(actors, 1)} GPU actors; "
                                   "use --device cpu, fewer --actors, or GPU nodes")
        cpus_per_actor = min(cpus_per_actor, cpus / actors)
    elif actors:
        cpus_per_actor = cpus / actors  # share the cluster's CPUs, so every actor can be placed
    else:
        cpus_per_actor = min(cpus_per_actor, cpus)
        actors = max(1, int(cpus // cpus_per_actor))
    # the backbone runtime the CLI chose (--runtime) travels to the actors, on any node
    env = {RUNTIME_ENV: os.environ[RUNTIME_ENV]} if RUNTIME_ENV in os.environ else {}
    options = {"runtime_env": {"env_vars": env}} if env else {}
    remote = ray.remote(num_cpus=cpus_per_actor, num_gpus=gpus_per_actor, max_concurrency=2, **options)(_Actor)
    pool = [remote.remote(worker) for _ in range(actors)]
    source = itertools.chain([first], source)
    running: dict = {}  # object ref -> (key, actor)
    free = list(pool)
    every = heartbeat_every if heartbeat or stall_timeout is None else None
    if stall_timeout is not None:
        every = min(heartbeat_every, max(stall_timeout / 4, 0.05))

    up: set = set()  # actors that have answered: started

    def replace(actor):
        ray.kill(actor)
        pool.remove(actor)
        pool.append(remote.remote(worker))
        return pool[-1]

    try:
        while True:
            while free:
                nxt = next(source, None)
                if nxt is None:
                    break
                actor = free.pop()
                running[actor.run.remote(nxt[1])] = (nxt[0], actor)
            if not running:
                return
            done, _ = ray.wait(list(running), num_returns=1, timeout=every)
            if heartbeat:
                heartbeat()
            if not done:
                if stall_timeout is not None:
                    for key, actor in _stalled(ray, running, stall_timeout, up):
                        free.append(replace(actor))
                        yield key, "error", f"decoder stalled: no progress for {stall_timeout:g} s; abandoned"
                continue
            key, actor = running.pop(done[0])
            up.add(actor)
            try:
                status, value = ray.get(done[0])
            except ray.exceptions.RayError as e:  # the actor died (a crash in FFmpeg, the OOM killer)
                status, value = "error", f"worker died ({type(e).__name__}); abandoned"
                actor = replace(actor)
            free.append(actor)
            yield key, status, value
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        for actor in pool:
            ray.kill(actor)
        if started_here:
            ray.shutdown()


def _stalled(ray, running: dict, limit: float, up: set) -> list[tuple]:
    """Take out of ``running`` (object ref -> (key, actor)) the items whose actor has made no
    progress for ``limit`` seconds; returns their (key, actor). ``up``: the actors known to have
    started (one that does not answer is stalled only then, not while it starts)."""
    asked = {ref: (actor, actor.idle.remote()) for ref, (_, actor) in running.items()}
    out = []
    for ref, (actor, answer) in asked.items():
        try:
            idle = ray.get(answer, timeout=max(limit, 5.0))
            up.add(actor)
        except ray.exceptions.GetTimeoutError:  # a worker that does not even answer (stopped, swapped out)
            idle = float("inf") if actor in up else 0.0
        except ray.exceptions.RayError:  # a dead actor: its item's result says so
            continue
        if idle > limit:
            out.append(running.pop(ref))  # its actor is killed: the task goes with it
    return out
