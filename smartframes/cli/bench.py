"""``smartframes bench``: per-stage speed and the end-to-end cost of one video, on a generated clip.

Stages: decoding (native RGB, and scaled to both extraction sizes in one pass), light features,
expensive features, the selector on 300 candidates. End to end, per video: every frame through the
expensive classifier (``all``), n evenly spaced frames (``uniform``) and SMART (light features on
every frame, the selector, the expensive classifier on the n chosen frames). The networks are
untrained: weights change no cost.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..candidates import candidate_indices
from ..device import check_device, precision, resolve_device
from ..evaluation.timing import seconds
from ..features.extractor import BATCH_SIZE
from ..io.video import decode, read_frames, write_video
from ..selection.checkpoint import Checkpoint
from ..selection.head import ExpensiveHead, HeadConfig
from ..selection.networks import SelectorConfig, SmartSelector, inference_partners
from ..selection.serving import Selector
from ..spec import FeatureSpec


@dataclass(frozen=True)
class BenchConfig:
    """The clip and the settings measured."""

    width: int = 320
    height: int = 240
    frames: int = 175  # 7 s at 25 fps: a UCF101 clip
    fps: float = 25.0
    n: int = 8  # frames the selection methods pass to the expensive classifier
    selector_candidates: int = 300
    repeats: int = 3
    batch_size: int = BATCH_SIZE
    device: str | None = None  # None: cuda when torch sees a GPU, else cpu
    spec: FeatureSpec = field(default_factory=FeatureSpec)


def synthetic_frames(count: int, width: int = 320, height: int = 240, seed: int = 0):
    """Moving textured content, one uint8 ``(height, width, 3)`` frame at a time: a panning
    blocky and striped texture with fine noise and a bouncing bright square."""
    rng = np.random.default_rng(seed)
    blocks = np.kron(rng.uniform(0, 255, (height // 16 + 1, width // 16 + 1, 3)), np.ones((16, 16, 1)))[:height, :width]
    yy, xx = np.mgrid[0:height, 0:width]
    stripes = (127 + 127 * np.sin(xx / 7.0 + yy / 11.0))[..., None] * np.array([0.9, 0.6, 0.3])
    base = 0.6 * blocks + 0.4 * stripes
    side = min(48, height // 4, width // 4)
    for t in range(count):
        img = np.roll(base, (2 * t, 3 * t), axis=(0, 1)) + rng.normal(0, 6, base.shape)
        y = abs((5 * t) % (2 * (height - side)) - (height - side))
        x = abs((7 * t) % (2 * (width - side)) - (width - side))
        img[y : y + side, x : x + side] = (250, 240, 60)
        yield np.clip(img, 0, 255).astype(np.uint8)


def _rate(frames: int, seconds: list[float]) -> dict:
    return {"frames": frames, "median_fps": frames / statistics.median(seconds), "best_fps": frames / min(seconds)}


def _in_batches(fn, images: np.ndarray, batch: int):
    return lambda: [fn(images[k : k + batch]) for k in range(0, len(images), batch)]


def untrained_checkpoint(spec: FeatureSpec, classes: int = 10) -> Checkpoint:
    """A selector and head of the default sizes with random weights, for timing."""
    torch.manual_seed(0)
    selector = SmartSelector(SelectorConfig(in_dim=spec.light_dim, num_classes=classes)).eval()
    head = ExpensiveHead(HeadConfig(in_dim=spec.expensive_dim, num_classes=classes)).eval()
    return Checkpoint(selector, head, spec, [f"class{c}" for c in range(classes)], {})


def run_bench(cfg: BenchConfig = BenchConfig(), log=print) -> dict:
    """Measure every stage and the three ways of classifying one video; returns the figures."""
    spec, r, device = cfg.spec, cfg.repeats, resolve_device(cfg.device)
    check_device(spec, device)
    result = {"config": {**asdict(cfg), "device": str(device), "spec": asdict(spec)},
              "machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "processor": platform.processor() or platform.machine(),
                          "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}}
    ckpt = untrained_checkpoint(spec)
    selector = Selector(ckpt, device=device, batch_size=cfg.batch_size)
    ex = selector.extractor

    def _seconds(fn, repeats: int) -> list[float]:
        return seconds(fn, repeats, device)

    with tempfile.TemporaryDirectory(prefix="smartframes-bench-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        write_video(clip, synthetic_frames(cfg.frames, cfg.width, cfg.height), fps=cfg.fps)
        log(f"clip: {cfg.frames} frames of {cfg.width}x{cfg.height} at {cfg.fps:g} fps (H.264); device {device}")

        result["decode_native"] = _rate(cfg.frames, _seconds(lambda: read_frames(clip), r))
        sizes = spec.decode_sizes.wanted()
        result["decode_scaled"] = {"sizes": list(sizes), **_rate(cfg.frames, _seconds(lambda: decode(clip, sizes=sizes), r))}
        light_images, expensive_images = decode(clip, sizes=sizes).frames
        result["light_features"] = _rate(cfg.frames, _seconds(_in_batches(ex.light_features, light_images, cfg.batch_size), r))
        result["expensive_features"] = _rate(
            cfg.frames, _seconds(_in_batches(ex.expensive_features, expensive_images, cfg.batch_size), r))

        T = cfg.selector_candidates
        x = torch.randn(1, T, spec.light_dim, device=selector.device)
        mask = torch.ones(1, T, dtype=torch.bool, device=selector.device)
        partners = inference_partners(torch.tensor([T]), T).to(selector.device)
        with torch.inference_mode(), precision(spec.light_precision, selector.device):
            times = _seconds(lambda: ckpt.selector(x, mask, partners), max(50, 20 * r))
        result["selector"] = {"candidates": T, "median_ms": 1e3 * statistics.median(times), "best_ms": 1e3 * min(times)}

        def classify(indices):
            expensive_size = (spec.decode_sizes.expensive,)
            frames = decode(clip, indices, expensive_size).frames[0] if indices is not None else \
                decode(clip, sizes=expensive_size).frames[0]
            probs = [ckpt.head.probabilities(ex.expensive_features(frames[k : k + cfg.batch_size]))
                     for k in range(0, len(frames), cfg.batch_size)]
            return np.concatenate(probs).mean(0)

        uniform = candidate_indices(cfg.frames, 1, cfg.n).tolist()
        end_to_end = {
            "all": _seconds(lambda: classify(None), r),
            "uniform": _seconds(lambda: classify(uniform), r),
            "smart": _seconds(lambda: selector.select(clip, cfg.n), r),
        }
    result["per_video"] = {k: {"median_s": statistics.median(v), "best_s": min(v)} for k, v in end_to_end.items()}
    med = {k: v["median_s"] for k, v in result["per_video"].items()}
    result["ratios"] = {"all_over_smart": med["all"] / med["smart"], "smart_over_uniform": med["smart"] / med["uniform"]}
    return result


def format_bench(result: dict) -> str:
    """The figures as a table."""
    c = result["config"]
    lines = [f"{'stage':<58}{'median':>12}{'best':>12}", "-" * 82]

    def rate(name, key):
        r = result[key]
        lines.append(f"{name:<58}{r['median_fps']:>8.0f} f/s{r['best_fps']:>8.0f} f/s")

    rate(f"decode {c['width']}x{c['height']} H.264 to RGB (native size)", "decode_native")
    rate(f"decode + scale to {result['decode_scaled']['sizes']} px in one pass", "decode_scaled")
    spec = c["spec"]
    rate(f"light features ({spec['light_backbone']} {spec['light_resolution']} px, {spec['light_precision']})",
         "light_features")
    rate(f"expensive features ({spec['expensive_backbone']} {spec['expensive_resolution']} px, "
         f"{spec['expensive_precision']})", "expensive_features")
    s = result["selector"]
    label = f"selector on {s['candidates']} candidates"
    lines.append(f"{label:<58}{s['median_ms']:>9.2f} ms{s['best_ms']:>9.2f} ms")
    lines += ["", f"one video of {c['frames']} frames, n = {c['n']}:"]
    names = {"all": "all frames through the expensive classifier", "uniform": f"uniform: {c['n']} frames",
             "smart": f"SMART: light on every frame + selector + {c['n']} frames"}
    for key, name in names.items():
        v = result["per_video"][key]
        lines.append(f"  {name:<56}{v['median_s']:>10.3f} s{v['best_s']:>10.3f} s")
    q = result["ratios"]
    lines.append(f"all / SMART = {q['all_over_smart']:.2f}x faster; SMART / uniform = {q['smart_over_uniform']:.2f}x the time")
    return "\n".join(lines)
