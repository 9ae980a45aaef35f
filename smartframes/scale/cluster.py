"""Scale-out on Ray (``--engine ray``): the per-video work of ``extract`` and ``select`` run by Ray
actors, one model copy per actor, while this process claims videos and writes results, so the store
and the exports are those the local engine makes. Needs ``pip install smartframes[ray]``.
"""

from __future__ import annotations

import itertools
import os
from typing import Callable, Hashable, Iterable, Iterator

from ..errors import SmartframesError
from ..features.runtime import RUNTIME_ENV

HEARTBEAT_EVERY = 10.0  # seconds: the longest ray_map waits for a result before calling its heartbeat


def _ray():
    try:
        import ray
    except ImportError:
        raise SmartframesError("--engine ray needs Ray: pip install 'smartframes[ray]'") from None
    return ray


class _Actor:
    """Holds one worker (its models load on its first item, once) and runs it on items; a
    user-facing error comes back as ``("error", reason)`` instead of killing the actor."""

    def __init__(self, worker: Callable):
        self.worker = worker

    def run(self, item):
        try:
            return "ok", self.worker(item)
        except SmartframesError as e:
            return "error", getattr(e, "reason", str(e))
        except Exception as e:  # a hostile file must cost one video, not the run
            return "error", f"unexpected {type(e).__name__}: {e}"


def ray_map(worker: Callable, items: Iterable[tuple[Hashable, object]], *, address: str | None = None,
            actors: int | None = None, cpus_per_actor: float = 2, gpus_per_actor: float = 0,
            heartbeat: Callable[[], None] | None = None, heartbeat_every: float = HEARTBEAT_EVERY) -> Iterator[tuple]:
    """Run ``worker(item)`` (a picklable callable) on Ray actors for each ``(key, item)``; yield ``(key, "ok", result)``
    or ``(key, "error", reason)`` as they finish, in any order. ``items`` is consumed lazily, one per
    free actor, so a video is claimed only when an actor is ready for it.

    Args:
        address: a running cluster (``ray start --head`` prints it); None starts a local instance.
        actors: how many model copies; default as many as the cluster's CPUs (or GPUs) allow.
        heartbeat: called here at least every ``heartbeat_every`` seconds while items are running
            (``extract`` renews its claims with it).
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
    remote = ray.remote(num_cpus=cpus_per_actor, num_gpus=gpus_per_actor, **options)(_Actor)
    pool = [remote.remote(worker) for _ in range(actors)]
    source = itertools.chain([first], source)
    running: dict = {}  # object ref -> (key, actor)
    free = list(pool)
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
            done, _ = ray.wait(list(running), num_returns=1, timeout=heartbeat_every if heartbeat else None)
            if heartbeat:
                heartbeat()
            if not done:
                continue
            key, actor = running.pop(done[0])
            try:
                status, value = ray.get(done[0])
            except ray.exceptions.RayError as e:  # the actor died (a crash in FFmpeg, the OOM killer)
                status, value = "error", f"worker died ({type(e).__name__}); abandoned"
                ray.kill(actor)
                pool.remove(actor)
                actor = remote.remote(worker)
                pool.append(actor)
            free.append(actor)
            yield key, status, value
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        for actor in pool:
            ray.kill(actor)
        if started_here:
            ray.shutdown()
