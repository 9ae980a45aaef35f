"""Where and in which precision the networks run: the default device, the precision context, and
the check that refuses a device before any work starts."""

from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path

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


@functools.cache
def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (x86 AVX512-BF16 or AMX-BF16, read from
    /proc/cpuinfo). Elsewhere oneDNN emulates it far slower than float32: Lite0 at 112 px ran at
    13 frames/s in bfloat16 against 207 in float32 on an AVX2-only CPU."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


def run_precision(name: str, device) -> str:
    """The precision a block asked to run in ``name`` really runs in on ``device``: bfloat16 on a
    CPU without bfloat16 instructions runs in float32, which is faster there and exact."""
    if name == "bfloat16" and torch.device(device).type == "cpu" and not cpu_has_bfloat16():
        return "float32"
    return name


def precision(name: str, device) -> contextlib.AbstractContextManager:
    """Run a block in ``name`` precision on ``device`` (as :func:`run_precision` resolves it):
    autocast for bfloat16 or float16, nothing for float32. float16 needs a GPU."""
    dtype = DTYPES[name]
    kind = torch.device(device).type
    if dtype is None or run_precision(name, device) == "float32":
        return contextlib.nullcontext()
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
