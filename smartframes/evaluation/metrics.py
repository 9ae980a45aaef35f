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
