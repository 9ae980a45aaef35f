"""What each method costs per video: FLOPs counted by torch's ``FlopCounterMode`` on the real modules
at the store's resolutions, and milliseconds timed on this machine.

The selector methods pay the light backbone on every candidate, the selector networks (only those
their score needs), and the expensive backbone + head on the n chosen frames; the training-free
methods that read light features or the light model's confidence pay the light backbone on every
candidate and the expensive part on n frames (their own arithmetic, well under a millisecond per
video, is left out); ``quality`` reads only pixel statistics, so it pays, like ``uniform`` and
``random``, the expensive part for n frames alone; ``all`` and ``oracle`` pay it for every candidate.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..device import precision
from ..features.backbones import load_backbone
from ..features.extractor import expensive_batch_cpu
from ..selection.checkpoint import Checkpoint
from ..selection.methods import SELECTOR_METHODS, TRAINING_FREE
from ..selection.networks import inference_partners
from ..spec import FeatureSpec
from .timing import seconds


LIGHT_METHODS = tuple(m for m in TRAINING_FREE if m != "quality")
"""Training-free methods that need the light backbone on every candidate."""


def count_flops(module, *inputs) -> int:
    """FLOPs of one forward pass, counted by torch's FlopCounterMode (a multiply-add counts 2).

    oneDNN is off meanwhile: the counter cannot see inside its fused LSTM kernel, but does see
    the step-by-step matrix products of the LSTM torch runs without it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # switching oneDNN prints a note about Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter, \
                torch.inference_mode():
            module(*inputs)
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class CostModel:
    """Per-frame and per-video costs of the pipeline's parts, in GFLOPs and milliseconds."""

    light_gflops: float  # light backbone, one frame
    expensive_gflops: float  # expensive backbone + head, one frame
    light_ms: float
    expensive_ms: float
    selector_gflops: dict  # T -> selector networks on a T-candidate video
    selector_ms: dict

    def to_dict(self) -> dict:
        """The figures as JSON-ready numbers (selector figures keyed by candidate count)."""
        return {"light_gflops_per_frame": self.light_gflops, "expensive_gflops_per_frame": self.expensive_gflops,
                "light_ms_per_frame": self.light_ms, "expensive_ms_per_frame": self.expensive_ms,
                "selector_gflops": {str(k): v for k, v in self.selector_gflops.items()},
                "selector_ms": {str(k): v for k, v in self.selector_ms.items()}}

    def gflops(self, method: str, T: int, n_used: int) -> float:
        return _per_video(method, T, n_used, self.light_gflops, self.selector_gflops, self.expensive_gflops)

    def ms(self, method: str, T: int, n_used: int) -> float:
        return _per_video(method, T, n_used, self.light_ms, self.selector_ms, self.expensive_ms)


def _per_video(method: str, T: int, n_used: int, light: float, selector: dict, expensive: float) -> float:
    """What ``method`` pays on a T-candidate video using ``n_used`` frames, from the per-frame costs of
    the light and expensive parts and the selector's per-video cost (by T), in one unit."""
    if method in SELECTOR_METHODS:
        return light * T + selector[T] + expensive * n_used
    if method in LIGHT_METHODS:
        return light * T + expensive * n_used
    return expensive * (T if method in ("all", "oracle") else n_used)


def _best_ms(fn, repeats: int = 3) -> float:
    """The fastest of ``repeats`` timed calls, in ms (on the CPU, where the cost model runs)."""
    return 1e3 * min(seconds(fn, repeats))


def build_cost_model(ckpt: Checkpoint, lengths: set[int], timing_batch: int = 16,
                     external_gflops: float | None = None) -> CostModel:
    """Count FLOPs of the real modules at the store's resolutions and time them on this machine.
    ``external_gflops``: the expensive model is the user's, of this many GFLOPs per frame (and of
    unknown time, counted as 0 ms)."""
    spec: FeatureSpec = ckpt.spec
    cfg = ckpt.selector.cfg
    light = load_backbone(spec.light_backbone)
    # the ImageNet head of the light backbone only serves the GloVe words
    light_pass = light if cfg.use_glove else light.forward_features
    lr = spec.light_resolution
    x_light = torch.zeros(1, 3, lr, lr).contiguous(memory_format=torch.channels_last)
    light_flops = count_flops(light_pass, x_light)
    batch_l = x_light.expand(timing_batch, -1, -1, -1).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), precision(spec.light_precision, "cpu"):
        light_ms = _best_ms(lambda: light_pass(batch_l)) / timing_batch
    if external_gflops is not None:
        exp_flops, exp_ms = external_gflops * 1e9, 0.0
    else:
        expensive, head, er = load_backbone(spec.expensive_backbone), ckpt.head, spec.expensive_resolution
        x_exp = torch.zeros(1, 3, er, er).contiguous(memory_format=torch.channels_last)
        exp_flops = count_flops(lambda x: head(expensive.forward_features(x)), x_exp)
        # in the batches the expensive pass runs in on a CPU (faster per frame than larger ones)
        batch = expensive_batch_cpu(er)
        batch_e = x_exp.expand(batch, -1, -1, -1).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), precision(spec.expensive_precision, "cpu"):
            exp_ms = _best_ms(lambda: head(expensive.forward_features(batch_e))) / batch
    selector = ckpt.selector.eval()

    def scoring(x, mask, partners):  # the networks the score needs: SFS, GS or both, and the frame evidence
        x = selector.prepare(x, mask)
        return ((selector.sfs(x) if cfg.use_sfs else None), (selector.gs(x, mask, partners) if cfg.use_gs else None),
                selector.frame_evidence(x) if selector.evidence is not None else None)

    sel_flops, sel_ms = {}, {}
    for T in sorted(lengths):
        x = torch.zeros(1, T, spec.light_dim)
        mask = torch.ones(1, T, dtype=torch.bool)
        partners = inference_partners(torch.tensor([T]), T)
        sel_flops[T] = count_flops(scoring, x, mask, partners) / 1e9
        with torch.inference_mode(), precision(spec.light_precision, "cpu"):
            sel_ms[T] = _best_ms(lambda: scoring(x, mask, partners))
    return CostModel(light_flops / 1e9, exp_flops / 1e9, light_ms, exp_ms, sel_flops, sel_ms)
