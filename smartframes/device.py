"""Where and in which precision the networks run: the default device, the precision context, and
the check that refuses a device before any work starts."""

from __future__ import annotations

import contextlib

import torch

from .errors import SmartframesError
from .spec import FeatureSpec

DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}  # keys: spec.PRECISIONS


def default_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``: what every ``device=None`` means."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device``, or :func:`default_device` for None."""
    return torch.device(default_device() if device is None else device)


def precision(name: str, device) -> contextlib.AbstractContextManager:
    """Run a block in ``name`` precision on ``device``: autocast for bfloat16 or float16, nothing
    for float32. float16 needs a GPU."""
    dtype = DTYPES[name]
    if dtype is None:
        return contextlib.nullcontext()
    kind = torch.device(device).type
    if dtype is torch.float16 and kind == "cpu":
        raise SmartframesError("float16 precision needs --device cuda; on a CPU use bfloat16")
    return torch.autocast(kind, dtype=dtype)


def check_device(spec: FeatureSpec, device, here: bool = True) -> None:
    """Refuse a device that cannot run ``spec``, before any work starts (``here``: on this machine;
    a Ray cluster's GPUs are checked by :mod:`smartframes.scale.cluster`)."""
    kind = resolve_device(device).type
    if here and kind == "cuda" and not torch.cuda.is_available():
        raise SmartframesError("--device cuda asked for, but torch sees no CUDA device")
    if kind == "cpu" and "float16" in (spec.light_precision, spec.expensive_precision):
        raise SmartframesError("float16 precision needs --device cuda; on a CPU use bfloat16")


def synchronize(device) -> None:
    """Wait for the work queued on ``device`` (a no-op on a CPU): timings must include it."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
