"""Per-frame features: the selector's light input and the expensive backbone's embeddings.

Light feature of a frame (paper, "Feature Representation"): the EfficientNet-Lite0 pooled
embedding (1280) concatenated with the mean GloVe vector (50) of the frame's top-10 ImageNet class
names. Expensive feature: the EfficientNet-Lite2 pooled embedding (1280) of the same frame, from
which a classifier head (trained later) gives the oracle and the final prediction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Iterator

import numpy as np
import torch

from ..device import check_device, resolve_device
from ..errors import SmartframesError
from ..io import video
from ..io.decoder import Batch, DecodeSettings, candidate_batches
from ..spec import BACKBONES, BATCH_SIZE, FeatureSpec
from .backbones import centre_crop, to_input
from .quality import light_confidence, pixel_statistics, quality_table
from .runtime import load_runner
from .store import VideoFeatures
from .words import class_vectors

EXPENSIVE_PIXELS_CPU = 4 * 260 * 260
"""Input pixels per forward pass of the expensive backbone on a CPU: Lite2 runs fastest in batches
whose activations stay in cache, and those shrink with the resolution. On the 2-core CPU this was
built on (float32, frames/s in batches of 4 / 8 / 16 / 32): 260 px 49 / 33 / 22 / 20, 200 px
86 / 87 / 62 / 39, 160 px 107 / 122 / 101 / 71, 112 px 154 / 211 / 182 / 133; at 260 px, batches
of 1 / 2 / 4 / 8 / 16 / 32 ran at 38 / 45 / 46 / 37 / 28 / 20 (``benchmarks/batch_size.py``)."""


def expensive_batch_cpu(resolution: int) -> int:
    """Frames per forward pass of the expensive backbone on a CPU at ``resolution``: the largest
    power of two whose pixels stay within :data:`EXPENSIVE_PIXELS_CPU` (4 at 260 px, 8 at 160,
    16 at 112)."""
    fits = max(1, EXPENSIVE_PIXELS_CPU // (resolution * resolution))
    return 1 << (fits.bit_length() - 1)


def decode_settings(spec: FeatureSpec, batch_size: int, limits: video.Limits = video.Limits()) -> DecodeSettings:
    """What to decode for ``spec``: its candidates, at the light size (and the expensive one when the
    spec has an expensive backbone), ``batch_size`` frames at a time, refusing videos over ``limits``."""
    return DecodeSettings(spec.candidate_rule, spec.decode_sizes.wanted(), batch_size, limits)


@dataclass
class BatchFeatures:
    """What one decoded batch of B frames yields (joined per video by :func:`assemble`)."""

    visual: np.ndarray  # (B, 1280) light embedding
    glove: np.ndarray  # (B, 50)
    confidence: np.ndarray  # (B, 2) light model's ImageNet [max probability, entropy]
    pixels: np.ndarray  # (B, 3) brightness, contrast, sharpness (smartframes.features.quality)
    histograms: np.ndarray  # (B, HISTOGRAM_BINS) luma histograms
    expensive: np.ndarray | None  # (B, 1280), None for a light-only batch


class FeatureExtractor:
    """Runs the light (and expensive) backbone on video frames.

    Args:
        spec: what to compute.
        device: ``"cpu"``, ``"cuda"``, a torch device, or None for CUDA when available.
        batch_size: frames decoded, and sent through the light backbone, at a time.
        expensive_batch: frames per forward pass of the expensive backbone (None:
            :func:`expensive_batch_cpu` on a CPU, ``batch_size`` on a GPU).
        runtime: what runs the backbones (:data:`~smartframes.spec.RUNTIMES`; None:
            ``$SMARTFRAMES_RUNTIME``, else ``auto``: OpenVINO on a CPU where it is installed).
    """

    def __init__(self, spec: FeatureSpec = FeatureSpec(), device: str | None = None, batch_size: int = BATCH_SIZE,
                 expensive_batch: int | None = None, runtime: str | None = None):
        check_device(spec, device)
        self.spec = spec
        self.device = resolve_device(device)
        self.runtime = runtime
        self.batch_size = batch_size
        self.expensive_batch = expensive_batch or (
            expensive_batch_cpu(spec.expensive_resolution) if self.device.type == "cpu" else batch_size)
        self.light_spec = BACKBONES[spec.light_backbone]
        self.expensive_spec = BACKBONES[spec.expensive_backbone] if spec.expensive_backbone else None
        self.expensive_run = load_runner(spec.expensive_backbone, spec.expensive_resolution, self.device,
                                         spec.expensive_precision, False, runtime) if spec.expensive_backbone else None

    @cached_property
    def light_run(self):
        """The light backbone with its ImageNet head, loaded on first use (a method that reads no
        pixels never loads it)."""
        return load_runner(self.spec.light_backbone, self.spec.light_resolution, self.device,
                           self.spec.light_precision, True, self.runtime)

    @cached_property
    def _words(self) -> tuple[torch.Tensor, torch.Tensor]:
        vectors, known = class_vectors()
        return torch.as_tensor(vectors, device=self.device), torch.as_tensor(known, device=self.device)  # (1000, 50), (1000,)

    @torch.inference_mode()
    def light_tensors(self, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """uint8 frames ``(B, H, W, 3)`` scaled to the light short side -> on the device, float32:
        visual (B, 1280), glove (B, 50) and the ImageNet logits (B, 1000)."""
        x = to_input(centre_crop(images, self.spec.light_resolution), self.light_spec, self.device)
        emb, logits = self.light_run(x)  # (B, 1280), (B, 1000)
        top = logits.topk(self.spec.top_k_words, dim=1).indices  # (B, k)
        class_vectors, class_known = self._words
        vecs = class_vectors[top]  # (B, k, 50)
        weight = class_known[top].float().unsqueeze(-1)  # (B, k, 1)
        glove = (vecs * weight).sum(1) / weight.sum(1).clamp_min(1.0)  # (B, 50)
        return emb, glove.float(), logits.float()

    def light_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """uint8 frames ``(B, H, W, 3)`` scaled to the light short side -> (visual (B, 1280),
        glove (B, 50), confidence (B, 2): the ImageNet [max probability, entropy])."""
        visual, glove, logits = self.light_tensors(images)
        return visual.cpu().numpy(), glove.cpu().numpy(), light_confidence(logits)

    @torch.inference_mode()
    def expensive_tensors(self, images: np.ndarray) -> torch.Tensor:
        """uint8 frames ``(B, H, W, 3)`` scaled to the expensive short side -> (B, 1280) float32,
        on the device."""
        if self.expensive_run is None:
            raise SmartframesError("this feature spec has no expensive backbone")
        crops = centre_crop(images, self.spec.expensive_resolution)
        out = []
        for k in range(0, len(crops), self.expensive_batch):
            x = to_input(crops[k : k + self.expensive_batch], self.expensive_spec, self.device)
            out.append(self.expensive_run(x)[0])  # (b, 1280)
        return torch.cat(out)

    def expensive_features(self, images: np.ndarray) -> np.ndarray:
        """uint8 frames ``(B, H, W, 3)`` scaled to the expensive short side -> (B, 1280)."""
        return self.expensive_tensors(images).cpu().numpy()

    def batches(self, path, *, allow_partial: bool = True, limits: video.Limits = video.Limits()) -> Iterator[Batch]:
        """Decode a video's candidate frames in batches, in this process (see :mod:`.decoder`)."""
        d = decode_settings(self.spec, self.batch_size, limits)
        return candidate_batches(path, d.rule, d.sizes, d.batch_size, limits=d.limits, allow_partial=allow_partial)

    def run_batch(self, batch: Batch) -> BatchFeatures:
        """Features and frame statistics of one batch decoded by :meth:`batches` (``expensive``
        None when the spec has no expensive backbone, so the batch holds only the light size)."""
        light_images, *expensive_images = batch.images  # sizes as DecodeSizes.wanted orders them
        visual, glove, confidence = self.light_features(light_images)
        pixels, histograms = pixel_statistics(light_images)
        expensive = self.expensive_features(expensive_images[0]) if expensive_images else None
        return BatchFeatures(visual, glove, confidence, pixels, histograms, expensive)

    def extract(self, path, *, allow_partial: bool = True, limits: video.Limits = video.Limits()) -> VideoFeatures:
        """Features of one video's candidate frames.

        Args:
            path: the video file.
            allow_partial: keep the readable frames of a damaged file (``lost`` says how many
                candidates were missing) instead of failing.

        Raises:
            VideoError: the video cannot be read (or is damaged and ``allow_partial`` is false).
        """
        began = time.perf_counter()
        parts = [(without_pixels(b), self.run_batch(b)) for b in self.batches(path, allow_partial=allow_partial, limits=limits)]
        feats = assemble(parts, self.spec, path)
        feats.seconds = time.perf_counter() - began
        return feats


def without_pixels(batch: Batch) -> Batch:
    """A batch as :func:`assemble` keeps it once its features are computed: its frames' indices,
    times and video, not their pixels (which, kept for every batch of a long video, grew an
    extraction's memory with the video's length)."""
    return replace(batch, images=())


def assemble(parts: list[tuple[Batch, BatchFeatures]], spec: FeatureSpec, path) -> VideoFeatures:
    """Join one video's per-batch results ``(batch, features)``."""
    if not parts:
        raise video.VideoError(path, "no decodable frames")
    info = parts[0][0].info
    indices = np.concatenate([np.asarray(b.indices, np.int64) for b, _ in parts])
    times = np.concatenate([np.asarray(b.times, np.float64) for b, _ in parts])
    joined = {name: np.concatenate([getattr(f, name) for _, f in parts])
              for name in ("visual", "glove", "confidence", "pixels", "histograms")}
    expensive = np.concatenate([f.expensive for _, f in parts]) if spec.expensive_backbone else None
    wanted = len(spec.candidate_rule.indices(info.frame_count, info.fps))
    return VideoFeatures(joined["visual"], joined["glove"], expensive, indices, times, info,
                         max(0, wanted - len(indices)), parts[0][0].seek,
                         quality=quality_table(joined["pixels"], joined["histograms"]),
                         confidence=joined["confidence"])
