"""Your own recogniser in place of the Lite2 head: any model that classifies single frames.

A recogniser is any object with ``classes`` (the class names its output columns follow) that maps
uint8 RGB frames ``(n, H, W, 3)`` at the video's own size to class probabilities (or logits)
``(n, C)``; an optional ``gflops_per_frame`` puts its cost into the evaluation tables.
:func:`smartframes.train_selector` takes it for the oracle targets, :func:`smartframes.evaluate`
as the expensive model, and :func:`smartframes.select_frames` / :class:`Selector` to classify
the chosen frames. :class:`TorchRecogniser` wraps a torch image classifier in one line.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np
import torch

from ..errors import SmartframesError
from ..io.video import read_frames, scale_frames

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@runtime_checkable
class Recogniser(Protocol):
    """Frames uint8 ``(n, H, W, 3)`` -> class probabilities or logits ``(n, len(classes))``."""

    classes: Sequence[str]

    def __call__(self, frames: np.ndarray) -> np.ndarray: ...


def is_recogniser(obj) -> bool:
    """Whether ``obj`` is a user's recogniser (and not a checkpoint, a path or None)."""
    return callable(obj) and hasattr(obj, "classes") and not isinstance(obj, (str, bytes))


def recognise(recogniser: Recogniser, frames: np.ndarray, classes: Sequence[str] | None = None) -> np.ndarray:
    """Run ``recogniser`` on ``frames`` and return checked probabilities float32 ``(n, C)``: rows
    that are not probabilities go through a softmax, and with ``classes`` the columns are
    reordered to them (each must be one of the recogniser's).

    Raises:
        SmartframesError: wrong shape, non-finite values, or a class the recogniser lacks.
    """
    names = list(recogniser.classes)
    out = np.asarray(recogniser(frames), dtype=np.float64)
    if out.shape != (len(frames), len(names)):
        raise SmartframesError(f"the recogniser returned shape {out.shape} for {len(frames)} frames; "
                               f"expected ({len(frames)}, {len(names)}), one column per class")
    if not np.all(np.isfinite(out)):
        raise SmartframesError("the recogniser returned NaN or infinite values")
    if out.min() < 0 or not np.allclose(out.sum(1), 1.0, atol=1e-3):
        out = np.exp(out - out.max(1, keepdims=True))
        out /= out.sum(1, keepdims=True)
    if classes is not None:
        missing = [c for c in classes if c not in names]
        if missing:
            raise SmartframesError(f"the recogniser does not know the classes {', '.join(missing[:5])}")
        out = out[:, [names.index(c) for c in classes]]
    return out.astype(np.float32)


def frame_probabilities(recogniser: Recogniser, path, indices: Sequence[int], classes: Sequence[str] | None = None, *,
                        seek: bool = False, batch_size: int = 32) -> np.ndarray:
    """The recogniser's probabilities for frames ``indices`` of a video file, float32 ``(T, C)``,
    decoded at the video's own size ``batch_size`` frames at a time (columns as in :func:`recognise`)."""
    parts = []
    for start in range(0, len(indices), batch_size):
        chunk = list(indices[start : start + batch_size])
        parts.append(recognise(recogniser, read_frames(path, indices=chunk, seek=seek), classes))
    return np.concatenate(parts)


class TorchRecogniser:
    """A torch image classifier as a :class:`Recogniser`: frames are scaled (short side ``size``,
    FFmpeg bicubic), centre-cropped to ``size`` x ``size``, normalised with ``mean``/``std``, and
    the model's logits (B, C) become probabilities.

    Args:
        model: a ``torch.nn.Module`` taking float (B, 3, size, size).
        classes: the class names of its output columns.
        size, mean, std: its preprocessing (default: ImageNet at 224 px).
        gflops_per_frame: its cost, for the evaluation tables.
        device: where it runs.
    """

    def __init__(self, model: torch.nn.Module, classes: Sequence[str], *, size: int = 224,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 gflops_per_frame: float | None = None, device: str = "cpu"):
        self.model = model.eval().to(device)
        self.classes, self.size, self.device = list(classes), size, device
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)
        self.gflops_per_frame = gflops_per_frame

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        scaled = scale_frames(frames, self.size)  # (n, h, w, 3), short side = size
        h, w = scaled.shape[1:3]
        top, left = (h - self.size) // 2, (w - self.size) // 2
        crop = scaled[:, top : top + self.size, left : left + self.size]  # (n, size, size, 3)
        x = torch.from_numpy(np.ascontiguousarray(crop)).to(self.device).permute(0, 3, 1, 2).float() / 255
        return torch.softmax(self.model((x - self.mean) / self.std), dim=1).cpu().numpy()
