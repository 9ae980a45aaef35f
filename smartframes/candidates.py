"""Which frames of a video are scored: the candidate rule (pure functions, no decoding)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def candidate_indices(frame_count: int, every: int = 1, max_candidates: int | None = None) -> np.ndarray:
    """Frame indices a video is scored on.

    Every ``every``-th frame is a candidate; if more than ``max_candidates`` remain, that many are
    kept at the centres of equal segments (TSN-style), so they spread over the whole video.

    Returns:
        int64 ``(N,)``, strictly increasing.
    """
    pool = np.arange(0, max(frame_count, 0), every, dtype=np.int64)
    if max_candidates is None or len(pool) <= max_candidates:
        return pool
    pick = np.floor((np.arange(max_candidates) + 0.5) * len(pool) / max_candidates).astype(np.int64)
    return pool[pick]


@dataclass(frozen=True)
class CandidateRule:
    """The candidate rule of a feature spec: every ``every``-th frame, then at most ``max_candidates``."""

    every: int = 1
    max_candidates: int | None = None

    def indices(self, frame_count: int) -> np.ndarray:
        """Candidate frame indices of a video with ``frame_count`` frames, int64 ``(N,)``."""
        return candidate_indices(frame_count, self.every, self.max_candidates)
