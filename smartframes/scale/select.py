"""Batch selection: a selector run over many videos, here in order or on Ray actors as they
finish. A video that cannot be read costs that video, not the run."""

from __future__ import annotations

import os
from typing import Iterable, Iterator, Literal

from ..errors import SmartframesError
from ..io.video import VideoError
from ..selection.serving import Selection, SelectVideo, check_method, load_selector

Engine = Literal["local", "ray"]
ENGINES: tuple[Engine, ...] = ("local", "ray")


def select_videos(videos: Iterable[str | os.PathLike], selector=None, n: int = 8, *, engine: Engine = "local",
                  device: str | None = None, address: str | None = None, actors: int | None = None,
                  method: str | None = None) -> Iterator[tuple[str, Selection | VideoError]]:
    """Choose ``n`` frames of each video.

    Args:
        videos: video files.
        selector: a checkpoint directory (or, with the local engine, a loaded
            :class:`~smartframes.selection.serving.Selector`); None for a training-free ``method``.
        n: frames per video.
        method: how to choose (see :func:`~smartframes.selection.serving.load_selector`).
        engine: ``local`` (this process, in the order given) or ``ray`` (Ray actors, in the order
            they finish; ``pip install 'smartframes[ray]'``).
        device: ``cpu`` or ``cuda`` (None: CUDA when available).
        address, actors: with ``ray``, the cluster (None: a local instance) and the model copies.

    Yields:
        ``(path, Selection)``, or ``(path, VideoError)`` for a video that could not be read.

    Raises:
        CheckpointError: the selector cannot be loaded (before any video is read).
    """
    if engine not in ENGINES:
        raise SmartframesError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if n < 1:
        raise SmartframesError(f"n must be >= 1, got {n}")
    videos = [str(v) for v in videos]
    if engine == "ray":
        from ..device import resolve_device
        from ..selection.checkpoint import load_checkpoint
        from .cluster import ray_map

        device = str(resolve_device(device))
        if selector is not None and not isinstance(selector, (str, os.PathLike)):
            raise SmartframesError("engine='ray' takes the selector as a checkpoint directory")
        # a bad checkpoint or method is one error here, not one per video
        check_method(method, load_checkpoint(selector) if selector is not None else None)
        gpus = 1 if device.startswith("cuda") else 0
        work = SelectVideo(selector, n, device, method)
        for path, status, value in ray_map(work, ((p, p) for p in videos), address=address, actors=actors,
                                           gpus_per_actor=gpus):
            yield path, value if status == "ok" else VideoError(path, value)
        return
    if selector is None or isinstance(selector, (str, os.PathLike)):
        selector = load_selector(selector, device=device, method=method)
    for path in videos:
        try:
            yield path, selector.select(path, n)
        except VideoError as e:
            yield path, e
