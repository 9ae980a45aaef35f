"""Which frames of a video are scored: the candidate rule (pure functions, no decoding)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def candidate_indices(frame_count: int, every: int = 1, max_candidates: int | None = None, *,
                      per_second: float | None = None, fps: float = 0.0) -> np.ndarray:
    """Frame indices a video is scored on.

    Every ``every``-th frame is a candidate, or with ``per_second`` the frame nearest each multiple
    of ``1 / per_second`` seconds (a fixed rate, for long untrimmed videos; ``fps`` is the video's
    frame rate); if more than ``max_candidates`` remain, that many are kept at the centres of equal
    segments (TSN-style), so they spread over the whole video.

    Returns:
        int64 ``(N,)``, strictly increasing.
    """
    frame_count = max(frame_count, 0)
    if per_second and fps > per_second:
        step = fps / per_second  # frames between candidates
        pool = np.unique(np.round(np.arange(0, frame_count, step)).astype(np.int64))
        pool = pool[pool < frame_count]
    else:
        pool = np.arange(0, frame_count, every, dtype=np.int64)
    if max_candidates is None or len(pool) <= max_candidates:
        return pool
    pick = np.floor((np.arange(max_candidates) + 0.5) * len(pool) / max_candidates).astype(np.int64)
    return pool[pick]


@dataclass(frozen=True)
class CandidateRule:
    """The candidate rule of a feature spec: every ``every``-th frame (or ``per_second`` frames a
    second), then at most ``max_candidates``."""

    every: int = 1
    max_candidates: int | None = None
    per_second: float | None = None

    def indices(self, frame_count: int, fps: float = 0.0) -> np.ndarray:
        """Candidate frame indices of a video of ``frame_count`` frames at ``fps``, int64 ``(N,)``."""
        return candidate_indices(frame_count, self.every, self.max_candidates, per_second=self.per_second, fps=fps)
