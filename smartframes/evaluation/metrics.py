"""Accuracy metrics of video-level class scores: hit@1, average precision and mAP."""

from __future__ import annotations

import numpy as np


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the step precision-recall curve of one class (as scikit-learn computes it):
    each distinct score is one threshold, so videos with equal scores enter together and their
    order does not matter. Without ties: the mean, over the positive videos, of the precision
    among the videos scored at least as high. NaN when no video is positive."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    s, hits = np.asarray(scores, np.float64)[order], np.asarray(positive, bool)[order]
    if not hits.any():
        return float("nan")
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last video of each distinct score
    true_pos = np.cumsum(hits)[last]
    precision = true_pos / (last + 1)
    recall_gain = np.diff(np.r_[0, true_pos]) / hits.sum()
    return float(np.sum(recall_gain * precision))


def hit_at_1(prediction: np.ndarray, labels: list[int]) -> bool:
    """Whether the top class of a video's scores (C,) is one of its labels (ActivityNet's hit@1)."""
    return int(np.argmax(prediction)) in labels


def mean_average_precision(predictions: np.ndarray, labels: list[list[int]]) -> float:
    """mAP of video-level class scores ``(V, C)`` against each video's labels (one or several):
    the mean of :func:`average_precision` over the classes that have a positive video."""
    positive = np.zeros(predictions.shape, bool)
    for v, classes in enumerate(labels):
        positive[v, classes] = True
    aps = [average_precision(predictions[:, c], positive[:, c]) for c in range(predictions.shape[1]) if positive[:, c].any()]
    return float(np.mean(aps)) if aps else float("nan")


def paired_difference(a: np.ndarray, b: np.ndarray, draws: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean difference of two methods' per-video results, paired by run and by video, with a 95 %
    bootstrap interval over videos (the test videos are the sample; the runs, e.g. training seeds,
    are averaged inside each draw).

    Args:
        a, b: (runs, videos) of 0/1 (right or wrong), the same videos in the same order.

    Returns:
        (mean, low, high) of mean(a - b), as fractions.
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)  # (runs, videos)
    if d.ndim != 2 or d.shape[1] == 0:
        raise ValueError(f"need (runs, videos) with at least one video, got shape {d.shape}")
    per_video = d.mean(0)  # (videos,)
    idx = np.random.default_rng(seed).integers(0, len(per_video), size=(draws, len(per_video)))
    boot = per_video[idx].mean(1)  # (draws,)
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(per_video.mean()), float(low), float(high)
