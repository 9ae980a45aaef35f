"""Ways to choose n frames among a video's T candidates: pure functions over per-frame data.

Every function returns positions among the candidates (0..T-1), distinct and in time order, and
all T positions when n >= T. :data:`METHODS` lists the methods :func:`choose` knows, in the order
evaluation tables show them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..candidates import candidate_indices

Method = Literal["smart", "sfs", "gs", "uniform", "random", "all", "oracle"]
METHODS: tuple[Method, ...] = ("smart", "sfs", "gs", "uniform", "random", "all", "oracle")
SELECTOR_METHODS: tuple[Method, ...] = ("smart", "sfs", "gs")  # those that need a trained selector's scores


def top_n(scores: np.ndarray, n: int) -> list[int]:
    """Positions of the ``n`` highest scores, in time order.

    Ties go to the earlier frame; ``n`` at least the number of frames returns every frame.
    """
    s = np.asarray(scores, np.float64).ravel()
    if n >= len(s):
        return list(range(len(s)))
    if n <= 0:
        return []
    best = np.argsort(-s, kind="stable")[:n]  # stable: equal scores keep time order
    return sorted(best.tolist())


def segment_top(scores: np.ndarray, n: int) -> list[int]:
    """The highest-scoring position inside each of ``n`` equal segments of the video, in time
    order: the budget spread over the whole video (ties go to the earlier frame; all positions if
    ``n`` >= T)."""
    s = np.asarray(scores, np.float64).ravel()
    T = len(s)
    if n >= T:
        return list(range(T))
    if n <= 0:
        return []
    edges = (np.arange(n + 1) * T) // n  # n < T: every segment holds at least one frame
    return [int(a + np.argmax(s[a:b])) for a, b in zip(edges[:-1], edges[1:])]


PICKS = {"top": top_n, "segments": segment_top}
"""How a selector's scores become n frames: the n best anywhere, or the best of each segment."""


def pick(scores: np.ndarray, n: int, rule: str = "top") -> list[int]:
    """Positions chosen from per-frame ``scores`` (T,) by ``rule``, a key of :data:`PICKS`."""
    return PICKS[rule](scores, n)


def uniform_frames(T: int, n: int) -> list[int]:
    """n evenly spaced positions among T candidates (segment centres); all of them if n >= T."""
    return candidate_indices(T, 1, n).tolist()


def random_frames(T: int, n: int, rng: np.random.Generator) -> list[int]:
    """n distinct random positions among T candidates, in time order; all if n >= T."""
    return list(range(T)) if n >= T else sorted(rng.choice(T, size=n, replace=False).tolist())


def choose(method: Method, n: int | None, T: int, *, score=None, delta=None, gamma=None, probs=None,
           label: int | None = None, rng: np.random.Generator | None = None, rule: str = "top") -> list[int]:
    """Positions (among T candidates) that ``method`` picks with budget ``n`` (None for ``all``).

    Args:
        score, delta, gamma: the selector's per-frame scores (T,), for smart, sfs and gs, turned
            into frames by ``rule`` (the selector's :data:`PICKS` rule).
        probs, label: the expensive classifier's per-frame probabilities (T, C) and the true class,
            for oracle.
        rng: for random.
    """
    if method == "all" or n is None:
        return list(range(T))
    if method == "smart":
        return pick(score, n, rule)
    if method == "sfs":
        return pick(delta, n, rule)
    if method == "gs":
        return pick(gamma, n, rule)
    if method == "uniform":
        return uniform_frames(T, n)
    if method == "random":
        return random_frames(T, n, rng)
    if method == "oracle":
        return top_n(probs[:, label], n)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
