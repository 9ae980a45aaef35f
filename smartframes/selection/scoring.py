"""Stored features as the selector and the expensive head see them: one video's arrays loaded from
a store (:class:`VideoData`), padded batches, the selector's scores as serving computes them, your
own model's per-frame probabilities, and the video prediction pooled over chosen frames.

Training, evaluation and the report all read a store through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.segments import Segment
from ..device import precision
from ..errors import SmartframesError
from ..features.store import FeatureStore
from .head import pool_frames
from .networks import SmartSelector, inference_partners


@dataclass
class VideoData:
    """One video's training inputs."""

    id: str
    path: str
    label: int
    x: np.ndarray  # (T, D) light features [visual : glove]
    emb: np.ndarray  # (T, 1280) expensive embeddings
    indices: np.ndarray  # (T,)
    times: np.ndarray  # (T,)
    probs: np.ndarray | None = None  # (T, C) expensive head probabilities
    target: np.ndarray | None = None  # (T,) oracle p(true class | frame)
    labels: list[int] | None = None  # every class of a multi-label video (for mAP); None: [label]
    seek: bool = False  # its candidates were reached by seeking: read its frames the same way
    quality: np.ndarray | None = None  # (T, 4) frame statistics; None in stores written before they were kept
    confidence: np.ndarray | None = None  # (T, 2) light model's ImageNet [max probability, entropy]; ditto
    segments: list[Segment] | None = None  # where its action happens, when annotated

    @property
    def all_labels(self) -> list[int]:
        """Every class of the video: ``labels``, or ``[label]`` for a single-label video."""
        return self.labels or [self.label]


def load_videos(store: FeatureStore, split: str, classes: list[str], need_expensive: bool = True,
                keep: set[str] | None = None) -> list[VideoData]:
    """Finished videos of one split (only those labelled one of ``keep``, when given), with their
    features; labels become indices into ``classes``."""
    if need_expensive and store.spec.expensive_backbone is None:
        raise SmartframesError(f"{store.root}: store has no expensive features; extract without --no-expensive")
    out = []
    for rec in store.records(status="done", split=split):
        if keep is not None and rec.label not in keep:
            continue
        a = store.load(rec.id)
        labels = [classes.index(c) for c in (rec.labels or []) if c in classes] or None
        out.append(VideoData(rec.id, rec.path, classes.index(rec.label), np.concatenate([a["visual"], a["glove"]], 1),
                             a.get("expensive"), a["indices"], a["times"], labels=labels, seek=rec.seek,
                             quality=a.get("quality"), confidence=a.get("confidence"), segments=rec.segments))
    return out


def load_frame_probabilities(directory, video: VideoData, num_classes: int) -> np.ndarray:
    """Per-frame class probabilities of one video computed by a model of your own.

    The file is ``<directory>/<video file name without suffix>.npy``, float, shape
    ``(frames in the video, C)`` indexed by frame index, or ``(candidate frames, C)`` in the
    store's candidate order; columns follow the sorted class names. Logits are accepted too: rows
    that do not sum to 1 go through a softmax.

    Returns:
        float32 ``(candidates, C)``, rows in the store's candidate order.

    Raises:
        SmartframesError: missing file, wrong shape or non-finite values, naming the file.
    """
    path = Path(directory) / (Path(video.path).stem + ".npy")
    if not path.is_file():
        raise SmartframesError(f"{path}: per-frame probabilities missing for {video.path}")
    try:
        probs = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise SmartframesError(f"{path}: not a readable .npy array ({e})") from None
    if probs.ndim != 2 or probs.shape[1] != num_classes:
        raise SmartframesError(f"{path}: expected shape (frames, {num_classes}), got {probs.shape}")
    if not np.all(np.isfinite(probs)):
        raise SmartframesError(f"{path}: contains NaN or infinite values")
    if len(probs) != len(video.indices):
        if len(probs) <= int(video.indices.max()):
            raise SmartframesError(f"{path}: {len(probs)} rows, but the video has candidates up to frame {int(video.indices.max())}")
        probs = probs[video.indices]
    probs = probs.astype(np.float64)
    if not np.allclose(probs.sum(1), 1.0, atol=1e-3) or probs.min() < 0:
        probs = np.exp(probs - probs.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
    return probs.astype(np.float32)


def collate(videos: list[VideoData], with_targets: bool = False):
    """Pad a batch: x (B, T, D), mask (B, T), lengths (B,), labels (B,), targets (B, T) or None."""
    lengths = torch.tensor([len(v.x) for v in videos])
    T, D = int(lengths.max()), videos[0].x.shape[1]
    x = torch.zeros(len(videos), T, D)
    target = torch.zeros(len(videos), T) if with_targets else None
    for b, v in enumerate(videos):
        x[b, : len(v.x)] = torch.from_numpy(v.x)
        if with_targets:
            target[b, : len(v.x)] = torch.from_numpy(v.target)
    mask = torch.arange(T)[None] < lengths[:, None]
    labels = torch.tensor([v.label for v in videos])
    return x, mask, lengths, labels, target


@torch.inference_mode()
def score_videos(selector: SmartSelector, videos: list[VideoData], seed: int = 0, batch_size: int = 64,
                 precision_name: str = "float32"):
    """Per video, (score, delta, gamma) arrays (T,), as serving scores it alone: its pair partners
    drawn with ``seed`` for that video only, the selector in ``precision_name`` (the spec's
    ``light_precision`` when serving). Batching changes no video's partners."""
    selector.eval()
    out = []
    for start in range(0, len(videos), batch_size):
        chunk = videos[start : start + batch_size]
        x, mask, lengths, _, _ = collate(chunk)
        partners = inference_partners(lengths, x.shape[1], seed)  # (B, T)
        with precision(precision_name, "cpu"):
            score, delta, gs = selector(x, mask, partners)
        for b, v in enumerate(chunk):
            n = len(v.x)
            out.append((score[b, :n].float().numpy(), delta[b, :n].float().numpy(), gs.gamma[b, :n].float().numpy()))
    return out


def video_prediction(probs: np.ndarray, chosen: list[int], pooling: int = 1) -> np.ndarray:
    """Per-frame class probabilities (T, C) pooled over the chosen frames -> (C,): their mean, or
    with ``pooling`` > 1 the mean of the surest of them (:func:`~smartframes.selection.head.pool_frames`)."""
    return pool_frames(probs[chosen], pooling)
