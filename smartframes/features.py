"""Per-frame features: the selector's light input and the expensive backbone's embeddings.

Light feature of a frame (paper, "Feature Representation"): the EfficientNet-Lite0 pooled
embedding (1280) concatenated with the mean GloVe vector (50) of the frame's top-10 ImageNet class
names. Expensive feature: the EfficientNet-Lite2 pooled embedding (1280) of the same frame, from
which a classifier head (trained later) gives the oracle and the final prediction.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, fields
from typing import Iterator

import numpy as np
import torch

from . import video
from .candidates import CandidateRule
from .backbones import BACKBONES, centre_crop, load_backbone, to_input
from .decoder import Batch, DecodeSettings, candidate_batches
from .errors import SmartframesError
from .words import GLOVE_DIM, GLOVE_NAME, class_vectors


LEGACY_SPEC = {"light_precision": "float32"}
"""What a stored spec written before these fields existed meant (its features were float32)."""

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def precision(name: str, device) -> contextlib.AbstractContextManager:
    """Run a block in ``name`` precision on ``device``: autocast for bfloat16 or float16, nothing
    for float32. float16 needs a GPU."""
    dtype = PRECISIONS[name]
    if dtype is None:
        return contextlib.nullcontext()
    kind = torch.device(device).type
    if dtype is torch.float16 and kind == "cpu":
        raise SmartframesError("float16 precision needs --device cuda; on a CPU use bfloat16")
    return torch.autocast(kind, dtype=dtype)


BATCH_SIZE = 16
"""Frames per forward pass. On the 2-core CPU this was built on, Lite0 at 160 px ran at 240 / 273 /
204 frames/s with batches of 8 / 16 / 32 (smaller batches stay in cache); on a GPU raise it."""


def check_device(spec: "FeatureSpec", device, here: bool = True) -> None:
    """Refuse a device that cannot run ``spec``, before any work starts (``here``: on this machine;
    a Ray cluster's GPUs are checked by :mod:`.cluster`)."""
    kind = torch.device(device).type
    if here and kind == "cuda" and not torch.cuda.is_available():
        raise SmartframesError("--device cuda asked for, but torch sees no CUDA device")
    if kind == "cpu" and "float16" in (spec.light_precision, spec.expensive_precision):
        raise SmartframesError("float16 precision needs --device cuda; on a CPU use bfloat16")


@dataclass(frozen=True)
class FeatureSpec:
    """Everything that determines a video's stored features; a store holds one spec."""

    light_backbone: str = "efficientnet_lite0"
    light_resolution: int = 160
    glove: str = GLOVE_NAME
    top_k_words: int = 10
    expensive_backbone: str | None = "efficientnet_lite2"
    expensive_resolution: int = 260
    every: int = 1  # candidate frames: every k-th decoded frame ...
    max_candidates: int | None = None  # ... then at most M of those, spread evenly
    candidate_fps: float | None = None  # instead of every k-th: F frames per second of video
    # The cheap path (light backbone and selector) runs in bfloat16: 2.3x the frames/s of float32 on
    # a CPU with bf16 instructions, embedding cosine 0.996 to float32 (benchmarks in the README).
    light_precision: str = "bfloat16"
    expensive_precision: str = "float32"

    def __post_init__(self):
        for name in (self.light_backbone, self.expensive_backbone):
            if name is not None and name not in BACKBONES:
                raise SmartframesError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
        if self.light_resolution < 32 or self.expensive_resolution < 32:
            raise SmartframesError("resolutions must be at least 32 pixels")
        if self.every < 1:
            raise SmartframesError(f"--every must be >= 1, got {self.every}")
        if self.candidate_fps is not None and not self.candidate_fps > 0:
            raise SmartframesError(f"--candidate-fps must be > 0, got {self.candidate_fps}")
        if self.candidate_fps is not None and self.every != 1:
            raise SmartframesError("--every and --candidate-fps exclude each other")
        if self.max_candidates is not None and self.max_candidates < 1:
            raise SmartframesError(f"--max-candidates must be >= 1, got {self.max_candidates}")
        for name in ("light_precision", "expensive_precision"):
            if getattr(self, name) not in PRECISIONS:
                raise SmartframesError(f"--{name.replace('_', '-')} must be one of {', '.join(PRECISIONS)}, "
                                       f"got {getattr(self, name)!r}")
        if not 1 <= self.top_k_words <= 1000:
            raise SmartframesError(f"top_k_words must be in 1..1000, got {self.top_k_words}")

    @property
    def visual_dim(self) -> int:
        return BACKBONES[self.light_backbone].embed_dim

    @property
    def light_dim(self) -> int:
        """Width of the selector's input X_i: visual embedding + GloVe mean."""
        return self.visual_dim + GLOVE_DIM

    @property
    def expensive_dim(self) -> int | None:
        return None if self.expensive_backbone is None else BACKBONES[self.expensive_backbone].embed_dim

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSpec":
        d = {**LEGACY_SPEC, **d}
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SmartframesError(f"feature spec has unknown fields: {', '.join(sorted(unknown))}")
        return cls(**d)

    @property
    def candidate_rule(self) -> CandidateRule:
        return CandidateRule(self.every, self.max_candidates, self.candidate_fps)

    @property
    def decode_sizes(self) -> list[int]:
        """Short sides to scale frames to while decoding: one per backbone, before its centre crop."""
        sizes = [BACKBONES[self.light_backbone].resize_short_side(self.light_resolution)]
        if self.expensive_backbone is not None:
            sizes.append(BACKBONES[self.expensive_backbone].resize_short_side(self.expensive_resolution))
        return sizes

    def decode_settings(self, batch_size: int, limits: video.Limits = video.Limits(),
                        light_only: bool = False) -> DecodeSettings:
        """What to decode for this spec: candidates, sizes (only the light one with ``light_only``),
        batch size and limits."""
        sizes = self.decode_sizes[:1] if light_only else self.decode_sizes
        return DecodeSettings(self.candidate_rule, tuple(sizes), batch_size, limits)

    def diff(self, other: "FeatureSpec") -> list[str]:
        """Human-readable list of fields that differ, e.g. ``["light_resolution: 160 != 224"]``."""
        a, b = asdict(self), asdict(other)
        return [f"{k}: {a[k]} != {b[k]}" for k in a if a[k] != b[k]]


@dataclass
class VideoFeatures:
    """Features of one video's candidate frames, rows in time order."""

    visual: np.ndarray  # (T, 1280) float32, light backbone embedding
    glove: np.ndarray  # (T, 50) float32, mean GloVe vector of the top-k ImageNet class names
    expensive: np.ndarray | None  # (T, 1280) float32, expensive backbone embedding
    indices: np.ndarray  # (T,) int64 frame indices
    times: np.ndarray  # (T,) float64 seconds
    info: video.VideoInfo
    lost: int  # candidate frames that could not be decoded
    seconds: float = 0.0  # time spent decoding and computing them

    @property
    def light(self) -> np.ndarray:
        """The selector's input X, (T, 1330)."""
        return np.concatenate([self.visual, self.glove], axis=1)


class FeatureExtractor:
    """Runs the light (and expensive) backbone on video frames.

    Args:
        spec: what to compute.
        device: ``"cpu"``, ``"cuda"`` or a torch device.
        batch_size: frames per forward pass.
    """

    def __init__(self, spec: FeatureSpec = FeatureSpec(), device: str = "cpu", batch_size: int = BATCH_SIZE):
        check_device(spec, device)
        self.spec = spec
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.light_spec = BACKBONES[spec.light_backbone]
        self.light_model = load_backbone(spec.light_backbone, self.device)
        self.expensive_spec = BACKBONES[spec.expensive_backbone] if spec.expensive_backbone else None
        self.expensive_model = load_backbone(spec.expensive_backbone, self.device) if spec.expensive_backbone else None
        vectors, known = class_vectors()
        self.class_vectors = torch.as_tensor(vectors, device=self.device)  # (1000, 50)
        self.class_known = torch.as_tensor(known, device=self.device)  # (1000,)

    @torch.inference_mode()
    def light_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 frames ``(B, H, W, 3)`` scaled to the light short side -> (visual (B, 1280),
        glove (B, 50))."""
        x = to_input(centre_crop(images, self.spec.light_resolution), self.light_spec, self.device)
        with precision(self.spec.light_precision, self.device):
            emb = self.light_model.forward_features(x).float()  # (B, 1280)
            logits = self.light_model.forward_head(emb)  # (B, 1000)
        top = logits.topk(self.spec.top_k_words, dim=1).indices  # (B, k)
        vecs = self.class_vectors[top]  # (B, k, 50)
        weight = self.class_known[top].float().unsqueeze(-1)  # (B, k, 1)
        glove = (vecs * weight).sum(1) / weight.sum(1).clamp_min(1.0)  # (B, 50)
        return emb.float().cpu().numpy(), glove.float().cpu().numpy()

    @torch.inference_mode()
    def expensive_features(self, images: np.ndarray) -> np.ndarray:
        """uint8 frames ``(B, H, W, 3)`` scaled to the expensive short side -> (B, 1280)."""
        if self.expensive_model is None:
            raise SmartframesError("this feature spec has no expensive backbone")
        x = to_input(centre_crop(images, self.spec.expensive_resolution), self.expensive_spec, self.device)
        with precision(self.spec.expensive_precision, self.device):
            return self.expensive_model.forward_features(x).float().cpu().numpy()

    def batches(self, path, *, allow_partial: bool = True, light_only: bool = False,
                limits: video.Limits = video.Limits()) -> Iterator[Batch]:
        """Decode a video's candidate frames in batches, in this process (see :mod:`.decoder`)."""
        d = self.spec.decode_settings(self.batch_size, limits, light_only)
        return candidate_batches(path, d.rule, d.sizes, d.batch_size, limits=d.limits, allow_partial=allow_partial)

    def run_batch(self, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Features of one decoded batch: (visual, glove, expensive or None)."""
        visual, glove = self.light_features(images[0])
        expensive = self.expensive_features(images[1]) if self.expensive_model is not None else None
        return visual, glove, expensive

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
        parts = [(b, self.run_batch(b.images)) for b in self.batches(path, allow_partial=allow_partial, limits=limits)]
        feats = assemble(parts, self.spec, path)
        feats.seconds = time.perf_counter() - began
        return feats


def assemble(parts: list[tuple[Batch, tuple]], spec: FeatureSpec, path) -> VideoFeatures:
    """Join one video's per-batch results ``(batch, (visual, glove, expensive))``."""
    if not parts:
        raise video.VideoError(path, "no decodable frames")
    info = parts[0][0].info
    indices = np.concatenate([np.asarray(b.indices, np.int64) for b, _ in parts])
    times = np.concatenate([np.asarray(b.times, np.float64) for b, _ in parts])
    visual = np.concatenate([f[0] for _, f in parts])
    glove = np.concatenate([f[1] for _, f in parts])
    expensive = np.concatenate([f[2] for _, f in parts]) if spec.expensive_backbone else None
    wanted = len(spec.candidate_rule.indices(info.frame_count, info.fps))
    return VideoFeatures(visual, glove, expensive, indices, times, info, max(0, wanted - len(indices)))
