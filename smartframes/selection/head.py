"""The expensive classifier: a head on the expensive backbone's per-frame embeddings.

Trained TSN-style (every frame labelled with its video's class). Its probability of the true class
on a frame is the oracle target of the single-frame selector; averaging its probabilities over the
chosen frames is the final video prediction.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import HeadConfig
from .networks import feature_statistics


class ExpensiveHead(nn.Module):
    """Standardise the embedding, then a linear layer (or a small MLP): (N, 1280) -> (N, C) logits."""

    def __init__(self, cfg: HeadConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mean", torch.zeros(cfg.in_dim))
        self.register_buffer("std", torch.ones(cfg.in_dim))
        if cfg.hidden:
            self.net = nn.Sequential(nn.Linear(cfg.in_dim, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, cfg.num_classes))
        else:
            self.net = nn.Linear(cfg.in_dim, cfg.num_classes)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.net((emb - self.mean) / self.std)

    @torch.inference_mode()
    def probabilities(self, emb: np.ndarray | torch.Tensor) -> np.ndarray:
        """Per-frame class probabilities (N, C) of embeddings (N, in_dim)."""
        x = torch.as_tensor(emb, dtype=torch.float32, device=self.mean.device)
        return torch.softmax(self(x), -1).cpu().numpy()


def pool_frames(probs: np.ndarray, pooling: int = 1) -> np.ndarray:
    """A video's class probabilities (C,) from those of its chosen frames (n, C): the mean over the
    ceil(n / ``pooling``) frames with the largest class probability (:attr:`HeadConfig.pooling`;
    1: over all n). Where most frames may show something else (long videos), the frames the head
    reads most plainly carry the prediction."""
    if pooling > 1 and len(probs) > 1:
        keep = -(-len(probs) // pooling)
        probs = probs[np.argsort(-probs.max(1), kind="stable")[:keep]]
    return probs.mean(0)


BACKGROUND = -1
"""The label of a frame outside the action of an annotated video: the head learns to spread its
probability evenly over the classes there (cross-entropy to the uniform distribution), so that such
a frame, pooled with others, says nothing rather than something wrong."""


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy to the label, or to the uniform distribution for :data:`BACKGROUND` frames."""
    fg = y != BACKGROUND
    total = F.cross_entropy(logits[fg], y[fg], reduction="sum") if fg.any() else logits.sum() * 0
    if not fg.all():
        total = total - torch.log_softmax(logits[~fg], -1).mean(-1).sum()
    return total / len(y)


def train_head(emb: np.ndarray, labels: np.ndarray, cfg: HeadConfig, seed: int = 0) -> ExpensiveHead:
    """Fit a head on frames ``emb`` (N, in_dim) with labels (N,) (:data:`BACKGROUND` for frames outside
    the action) by Adam on cross-entropy."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = ExpensiveHead(cfg)
    x = torch.as_tensor(emb, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    mean, std = feature_statistics(x)
    head.mean.copy_(mean)
    head.std.copy_(std)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for _ in range(cfg.epochs):
        for batch in torch.randperm(len(x), generator=gen).split(cfg.batch_size):
            opt.zero_grad()
            _loss(head(x[batch]), y[batch]).backward()
            opt.step()
    return head.eval()


def frame_labels(label: int, action: np.ndarray | None, T: int) -> np.ndarray:
    """Per-frame training labels (T,) of a video of class ``label``: the label inside the ``action``
    mask (bool (T,); None: every frame), :data:`BACKGROUND` outside it."""
    return np.full(T, label) if action is None else np.where(action, label, BACKGROUND)


def cross_fit_oracle(
    embeddings: list[np.ndarray], labels: list[int], cfg: HeadConfig, folds: int = 5, seed: int = 0,
    frames: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Oracle targets p(true class | frame) for training videos, each from a head that never saw
    that video (k-fold cross-fitting), so the targets are not over-confident.

    Args:
        embeddings: per video, (T_i, in_dim) expensive embeddings.
        labels: per video, the class index.
        folds: number of folds (videos are dealt to folds in a seeded random order).
        frames: per video, a bool mask (T_i,) of its action frames; the others are learnt as
            :data:`BACKGROUND` (default: every frame is the action; targets are given for every frame).

    Returns:
        Per video, float32 (T_i,).
    """
    n = len(embeddings)
    folds = max(2, min(folds, n))
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, int)
    fold_of[order] = np.arange(n) % folds
    targets: list[np.ndarray] = [np.empty(0, np.float32)] * n
    for k in range(folds):
        train = [i for i in range(n) if fold_of[i] != k]
        emb = np.concatenate([embeddings[i] for i in train])
        lab = np.concatenate([frame_labels(labels[i], frames[i] if frames is not None else None, len(embeddings[i]))
                              for i in train])
        head = train_head(emb, lab, cfg, seed=seed + k)
        for i in np.flatnonzero(fold_of == k):
            targets[i] = head.probabilities(embeddings[i])[:, labels[i]].astype(np.float32)
    return targets
