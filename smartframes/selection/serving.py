"""Serve a trained selector on new videos: score every candidate cheaply, run the expensive
backbone on the selected frames only, and predict the class from them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..device import precision
from ..features.extractor import BATCH_SIZE, FeatureExtractor
from ..io.video import Size, VideoError, decode, read_frames
from .checkpoint import Checkpoint, load_checkpoint
from .methods import pick
from .networks import inference_partners


@dataclass
class Selection:
    """What a selector chose in one video."""

    path: str
    indices: list[int]  # selected frame indices, in time order
    times: list[float]  # their timestamps (s)
    candidates: np.ndarray  # (T,) every scored frame index
    candidate_times: np.ndarray  # (T,)
    delta: np.ndarray  # (T,) single-frame selector scores
    gamma: np.ndarray  # (T,) global selector scores
    score: np.ndarray  # (T,) delta * gamma (or one of them, per the checkpoint's switches)
    label: str  # predicted class, from the expensive classifier on the selected frames only
    probability: float
    class_probabilities: dict[str, float]
    seek: bool = False  # the candidates were reached by seeking: decode the chosen ones the same way

    def read_frames(self, size: Size = None) -> np.ndarray:
        """The chosen frames, uint8 ``(n, H, W, 3)``, decoded as the candidates were (``size`` as in
        :func:`smartframes.io.video.read_frames`; None keeps the native size)."""
        return read_frames(self.path, indices=self.indices, size=size, seek=self.seek)

    def format(self) -> str:
        """The selection as ``smartframes select`` prints it: the prediction, then one line per chosen
        frame with its time and scores."""
        pos = {int(c): k for k, c in enumerate(self.candidates)}
        lines = [f"{self.path}: {self.label} ({self.probability:.3f}) from {len(self.indices)} of "
                 f"{len(self.candidates)} frames", "  frame     time    delta    gamma    score"]
        for i, t in zip(self.indices, self.times):
            k = pos[i]
            lines.append(f"  {i:5d} {t:8.2f} {self.delta[k]:8.3f} {self.gamma[k]:8.3f} {self.score[k]:8.3f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "path": self.path, "indices": self.indices, "times": [round(t, 4) for t in self.times],
            "label": self.label, "probability": self.probability,
            "candidates": self.candidates.tolist(),
            "score": self.score.round(6).tolist(), "delta": self.delta.round(6).tolist(), "gamma": self.gamma.round(6).tolist(),
            "class_probabilities": self.class_probabilities,
        }


class Selector:
    """A trained SMART selector with its feature extractor and expensive classifier."""

    def __init__(self, ckpt: Checkpoint, device: str | None = None, batch_size: int = BATCH_SIZE):
        self.ckpt = ckpt
        self.extractor = FeatureExtractor(ckpt.spec, device=device, batch_size=batch_size)
        self.device = self.extractor.device
        self.selector = ckpt.selector.to(self.device)
        self.head = ckpt.head.to(self.device)

    @property
    def classes(self) -> list[str]:
        return self.ckpt.classes

    @torch.inference_mode()
    def score(self, light: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores of one video's light features (T, D) -> (score, delta, gamma), each (T,)."""
        x = torch.as_tensor(light, dtype=torch.float32, device=self.device)[None]  # (1, T, D)
        mask = torch.ones(1, x.shape[1], dtype=torch.bool, device=self.device)
        partners = inference_partners(torch.tensor([x.shape[1]]), x.shape[1], seed)
        with precision(self.ckpt.spec.light_precision, self.device):
            score, delta, gs = self.selector(x, mask, partners.to(self.device))
        return tuple(t[0].float().cpu().numpy() for t in (score, delta, gs.gamma))

    def select(self, video: str | os.PathLike, n: int = 8) -> Selection:
        """Choose the ``n`` best frames of a video and classify it from them.

        Decodes the candidate frames at the light resolution, scores them jointly, then decodes
        only the chosen frames at the expensive resolution for the final prediction.

        Raises:
            VideoError: the video cannot be read.
        """
        parts, idx, times, seek = [], [], [], False
        for batch in self.extractor.batches(video, light_only=True):
            visual, glove, _ = self.extractor.run_batch(batch)
            parts.append(np.concatenate([visual, glove], 1))
            idx.append(batch.indices)
            times.append(batch.times)
            seek = batch.seek
        if not parts:
            raise VideoError(video, "no decodable frames")
        light, cand, cand_times = np.concatenate(parts), np.concatenate(idx), np.concatenate(times)
        score, delta, gamma = self.score(light)
        chosen = pick(score, n, self.ckpt.selector.cfg.pick)
        size = self.ckpt.spec.decode_sizes.expensive
        frames = decode(video, cand[chosen].tolist(), (size,), seek=seek).frames[0]
        emb = self.extractor.expensive_features(frames)
        probs = self.head.probabilities(emb).mean(0)  # (C,)
        best = int(probs.argmax())
        return Selection(
            str(video), cand[chosen].tolist(), cand_times[chosen].tolist(), cand, cand_times, delta, gamma, score,
            self.classes[best], float(probs[best]), {c: float(p) for c, p in zip(self.classes, probs)}, seek,
        )


def load_selector(path: str | os.PathLike, device: str | None = None) -> Selector:
    """Load a selector checkpoint directory for serving, on ``device`` (None: CUDA when available).

    Raises:
        CheckpointError: missing, damaged or inconsistent checkpoint.
    """
    return Selector(load_checkpoint(Path(path)), device=device)


class SelectVideo:
    """The per-video work of batch selection as one picklable callable (what a Ray actor runs):
    a video's path -> its :class:`Selection`. The checkpoint loads on the first video."""

    def __init__(self, checkpoint, n: int, device: str | None = None):
        self.checkpoint, self.n, self.device = str(checkpoint), n, device
        self.selector = None

    def __call__(self, path) -> Selection:
        if self.selector is None:
            self.selector = load_selector(self.checkpoint, device=self.device)
        return self.selector.select(path, self.n)

    def __getstate__(self):
        return {**self.__dict__, "selector": None}
