"""Cheap per-frame statistics kept beside the features: how a frame looks (exposure, focus, change
from the previous candidate) and how sure the light model is of what it sees. The training-free
``quality`` and ``confidence`` methods read them (:mod:`smartframes.selection.methods`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

HISTOGRAM_BINS = 32
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 weights of R, G, B


def pixel_statistics(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames (B, H, W, 3) -> (stats (B, 3): mean luma in [0, 1], its std, the variance of
    its 4-neighbour Laplacian; luma histograms (B, HISTOGRAM_BINS), each summing to 1)."""
    luma = (images.astype(np.float32) @ LUMA) / 255.0  # (B, H, W)
    lap = (luma[:, 1:-1, :-2] + luma[:, 1:-1, 2:] + luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1]
           - 4 * luma[:, 1:-1, 1:-1])  # (B, H-2, W-2)
    stats = np.stack([luma.mean((1, 2)), luma.std((1, 2)), lap.var((1, 2))], axis=1)
    bins = np.minimum((luma * HISTOGRAM_BINS).astype(np.int64), HISTOGRAM_BINS - 1).reshape(len(images), -1)
    hists = np.stack([np.bincount(b, minlength=HISTOGRAM_BINS) for b in bins]).astype(np.float32)
    return stats.astype(np.float32), hists / hists.sum(1, keepdims=True)


def quality_table(stats: np.ndarray, hists: np.ndarray) -> np.ndarray:
    """A video's per-frame statistics (T, 3) and histograms (T, bins), in time order -> the
    ``quality`` table (T, 4): brightness, contrast, sharpness, and the L1 distance of each luma
    histogram to the previous candidate's (0 for the first), in [0, 2]."""
    change = np.zeros(len(stats), np.float32)
    change[1:] = np.abs(hists[1:] - hists[:-1]).sum(1)
    return np.concatenate([stats, change[:, None]], axis=1).astype(np.float32)


def light_confidence(logits: torch.Tensor) -> np.ndarray:
    """ImageNet logits (B, 1000) -> (B, 2): the light model's maximum class probability and the
    entropy (nats) of its class distribution."""
    logp = logits.float().log_softmax(dim=1)
    p = logp.exp()
    return np.stack([p.max(1).values.cpu().numpy(), -(p * logp).sum(1).cpu().numpy()], axis=1)
