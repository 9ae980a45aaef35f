"""Wall-clock timing that means the same on a CPU and a GPU: the device's queue is drained before
and after each call, so a CUDA figure counts the kernels, not their launches."""

from __future__ import annotations

import time
from typing import Callable

from ..device import synchronize


def seconds(fn: Callable[[], object], repeats: int, device="cpu", warmup: int = 1) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn``, after ``warmup`` calls not counted.

    Args:
        fn: the work, called without arguments.
        device: where ``fn`` queues its work (``"cpu"``, ``"cuda"``, a torch device).
    """
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        synchronize(device)
        begin = time.perf_counter()
        fn()
        synchronize(device)
        out.append(time.perf_counter() - begin)
    return out
