"""The speed benchmark behind ``smartframes bench``: per-stage speed and the end-to-end cost of one
video, on a generated clip and on a real one.

Stages, per clip: decoding (every frame at its native size), the candidate pass (one pass decoding
the candidates scaled to the light size), light features, the expensive backbone and head on n
frames; once: the selector on 300 candidates and loading the models. End to end, per video, through
:meth:`~smartframes.selection.serving.Selector.select`: every frame through the expensive classifier
(``all``), n evenly spaced frames (``uniform``), SMART and each training-free method, each then
classifying from its n frames. Cold start: ``smartframes select`` on the clip in a fresh process.
The networks are untrained: weights change no cost.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..candidates import candidate_indices
from ..device import check_device, precision, resolve_device, run_precision
from ..features.extractor import FeatureExtractor
from ..features.runtime import available_runtimes
from ..io.decoder import candidate_batches
from ..io.video import decode, probe, read_frames, write_video
from ..selection.checkpoint import Checkpoint, save_checkpoint
from ..selection.config import HeadConfig, SelectorConfig
from ..selection.head import ExpensiveHead
from ..selection.methods import TRAINING_FREE
from ..selection.networks import SmartSelector, inference_partners
from ..selection.serving import Selector
from ..spec import BATCH_SIZE, FeatureSpec
from .timing import seconds

TIMED_METHODS = ("uniform", "smart", *TRAINING_FREE)
BENCH_CANDIDATES = 64
"""Candidates a video in the bench: as the real-UCF101 experiment was run and as ``select`` reads
without a checkpoint."""
REAL_CLIP = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ucf101-9" / "Archery" / \
    "v_Archery_g21_c02.avi"
"""The real clip timed when ``--video`` is not given and it exists (a 7 s 320x240 25 fps UCF101 clip
beside a development checkout)."""


@dataclass(frozen=True)
class BenchConfig:
    """The clips and the settings measured."""

    width: int = 320
    height: int = 240
    frames: int = 175  # 7 s at 25 fps: a UCF101 clip
    fps: float = 25.0
    video: str | None = None  # a real clip, timed as well as the generated one
    n: int = 8  # frames the selection methods pass to the expensive classifier
    selector_candidates: int = 300
    repeats: int = 5
    batch_size: int = BATCH_SIZE
    device: str | None = None  # None: cuda when torch sees a GPU, else cpu
    spec: FeatureSpec = field(default_factory=lambda: replace(FeatureSpec(), max_candidates=BENCH_CANDIDATES))
    methods: tuple[str, ...] = TIMED_METHODS
    cold_start: bool = True  # time `smartframes select` in a fresh process


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


def _rate(frames: int, times: list[float]) -> dict:
    return {"frames": frames, "median_fps": frames / statistics.median(times), "best_fps": frames / min(times),
            "worst_fps": frames / max(times)}


def _span(times: list[float]) -> dict:
    return {"median_s": statistics.median(times), "best_s": min(times), "worst_s": max(times)}


def untrained_checkpoint(spec: FeatureSpec, classes: int = 10) -> Checkpoint:
    """A selector and head of the default sizes with random weights, for timing."""
    torch.manual_seed(0)
    selector = SmartSelector(SelectorConfig(in_dim=spec.light_dim, num_classes=classes)).eval()
    head = ExpensiveHead(HeadConfig(in_dim=spec.expensive_dim, num_classes=classes)).eval()
    return Checkpoint(selector, head, spec, [f"class{c}" for c in range(classes)], {})


def bench_runtimes(light_images: np.ndarray, expensive_images: np.ndarray, extractors: dict[str, FeatureExtractor],
                   cfg: BenchConfig, device) -> dict:
    """Light features of the candidates and the expensive backbone on n frames, per runtime, with
    each runtime's frames/s over the first one's measured in the same runs."""
    T, b = len(light_images), cfg.batch_size
    out = {}
    for rt, ex in extractors.items():
        light = seconds(lambda: [ex.light_tensors(light_images[k : k + b]) for k in range(0, T, b)], cfg.repeats, device)
        expensive = seconds(lambda: ex.expensive_tensors(expensive_images), cfg.repeats, device)
        out[rt] = {"light_features": _rate(T, light), "expensive_on_n": _rate(len(expensive_images), expensive)}
    first = next(iter(out.values()))
    for r in out.values():
        r["light_speedup"] = r["light_features"]["median_fps"] / first["light_features"]["median_fps"]
        r["expensive_speedup"] = r["expensive_on_n"]["median_fps"] / first["expensive_on_n"]["median_fps"]
    return out


def bench_clip(clip: Path, selectors: dict[str, Selector], cfg: BenchConfig, device,
               extractors: dict[str, FeatureExtractor] | None = None) -> dict:
    """Every per-clip figure of one clip: the stages and each method end to end (and, given
    ``extractors`` by runtime, the backbones under each)."""
    r, spec = cfg.repeats, cfg.spec
    info = probe(clip)
    any_selector = next(iter(selectors.values()))
    ex, head = any_selector.extractor, any_selector.head
    out: dict = {"clip": {"path": str(clip), "frames": info.frame_count, "fps": info.fps, "width": info.width,
                          "height": info.height, "codec": info.codec}}

    def timed(fn, repeats=r):
        return seconds(fn, repeats, device)

    out["decode_native"] = _rate(info.frame_count, timed(lambda: read_frames(clip)))
    light_size = spec.decode_sizes.light
    rule = spec.candidate_rule
    T = len(rule.indices(info.frame_count, info.fps))
    out["candidate_pass"] = {"size": light_size, **_rate(T, timed(
        lambda: list(candidate_batches(clip, rule, (light_size,), cfg.batch_size))))}
    light_images = np.concatenate([b.images[0] for b in candidate_batches(clip, rule, (light_size,), cfg.batch_size)])
    out["light_features"] = _rate(T, timed(
        lambda: [ex.light_tensors(light_images[k : k + cfg.batch_size]) for k in range(0, T, cfg.batch_size)]))
    chosen = candidate_indices(info.frame_count, 1, cfg.n).tolist()
    expensive_images = decode(clip, chosen, (spec.decode_sizes.expensive,)).frames[0]

    def classify(images):
        with torch.inference_mode():
            return torch.softmax(head(ex.expensive_tensors(images)), -1).mean(0).cpu()

    out["expensive_on_n"] = {"n": len(chosen), **_span(timed(lambda: classify(expensive_images)))}
    if extractors:
        out["runtimes"] = bench_runtimes(light_images, expensive_images, extractors, cfg, device)

    def classify_all():
        return classify(decode(clip, sizes=(spec.decode_sizes.expensive,)).frames[0])

    end_to_end = {"all": timed(classify_all, max(1, r // 2))}
    for method, selector in selectors.items():
        end_to_end[method] = timed(lambda: selector.select(clip, cfg.n))
    out["per_video"] = {k: _span(v) for k, v in end_to_end.items()}
    med = {k: v["median_s"] for k, v in out["per_video"].items()}
    out["ratios"] = {"all_over_smart": med["all"] / med["smart"], "smart_over_uniform": med["smart"] / med["uniform"],
                     **{f"{m}_over_uniform": med[m] / med["uniform"] for m in selectors if m != "uniform"}}
    return out


def cold_start(clip: Path, ckpt_dir: Path, n: int, repeats: int) -> dict:
    """Seconds of ``smartframes select`` on ``clip`` in a fresh process (import, model load, work),
    without a checkpoint (uniform, and k-center, which runs the light network) and with a
    checkpoint (SMART and its expensive classifier)."""
    commands = {"uniform, no checkpoint": [], "kcenter, no checkpoint": ["--method", "kcenter"],
                "smart + classifier, checkpoint": ["--selector", str(ckpt_dir)]}
    out = {}
    for name, extra in commands.items():
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", "smartframes", "select", str(clip), "-n", str(n), *extra],
                           check=True, capture_output=True)
            times.append(time.perf_counter() - began)
        out[name] = _span(times)
    return out


def run_bench(cfg: BenchConfig = BenchConfig(), log=print) -> dict:
    """Measure every stage and each way of classifying one video, on the generated clip and on
    ``cfg.video``; returns the figures."""
    spec, r, device = cfg.spec, cfg.repeats, resolve_device(cfg.device)
    check_device(spec, device)
    for method in ("uniform", "smart"):
        if method not in cfg.methods:
            raise ValueError(f"the bench needs {method!r} among its methods (the ratios compare them)")
    result = {"config": {**asdict(cfg), "device": str(device), "spec": asdict(spec),
                         "light_runs_in": run_precision(spec.light_precision, device)},
              "machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "processor": platform.processor() or platform.machine(),
                          "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}}
    ckpt = untrained_checkpoint(spec)
    began = time.perf_counter()
    selectors = {"smart": Selector(ckpt, device=device, batch_size=cfg.batch_size, method="smart")}
    selectors["smart"].extractor.light_run  # loaded on first use: count it here
    result["model_load_s"] = time.perf_counter() - began
    selectors.update({m: Selector(ckpt, device=device, batch_size=cfg.batch_size, method=m)
                      for m in cfg.methods if m != "smart"})
    extractors = {rt: FeatureExtractor(spec, device=device, batch_size=cfg.batch_size, runtime=rt)
                  for rt in available_runtimes(device)}
    result["config"]["runtimes"] = list(extractors)
    selector = selectors["smart"]

    T = cfg.selector_candidates
    x = torch.randn(1, T, spec.light_dim, device=selector.device)
    mask = torch.ones(1, T, dtype=torch.bool, device=selector.device)
    partners = inference_partners(torch.tensor([T]), T).to(selector.device)
    with torch.inference_mode(), precision(spec.light_precision, selector.device):
        times = seconds(lambda: ckpt.selector(x, mask, partners), max(50, 20 * r), device)
    result["selector"] = {"candidates": T, "median_ms": 1e3 * statistics.median(times), "best_ms": 1e3 * min(times)}

    with tempfile.TemporaryDirectory(prefix="smartframes-bench-") as tmp:
        clips = {"generated": Path(tmp) / "clip.mp4"}
        write_video(clips["generated"], synthetic_frames(cfg.frames, cfg.width, cfg.height), fps=cfg.fps)
        if cfg.video is not None:
            clips["real"] = Path(cfg.video)
        result["clips"] = {}
        for name, clip in clips.items():
            log(f"{name} clip: {clip.name}; device {device}")
            result["clips"][name] = bench_clip(clip, {m: selectors[m] for m in cfg.methods}, cfg, device, extractors)
        if cfg.cold_start:
            save_checkpoint(Path(tmp) / "ckpt", ckpt)
            clip = clips.get("real", clips["generated"])
            log(f"cold start of `smartframes select` on {clip.name}")
            result["cold_start"] = {"clip": str(clip), **cold_start(clip, Path(tmp) / "ckpt", cfg.n, max(1, r // 2 + 1))}
    return result


def format_bench(result: dict) -> str:
    """The figures as tables, one per clip."""
    c, spec = result["config"], result["config"]["spec"]
    lines = []

    def rate(name, r):
        lines.append(f"  {name:<66}{r['median_fps']:>8.0f} f/s  ({r['worst_fps']:.0f}-{r['best_fps']:.0f})")

    def span(name, v):
        lines.append(f"  {name:<66}{v['median_s']:>8.3f} s    ({v['best_s']:.3f}-{v['worst_s']:.3f})")

    s = result["selector"]
    lines += [f"medians over {c['repeats']} runs (range); device {c['device']}; backbones run by "
              f"{c.get('runtimes', ['torch'])[0]}",
              f"model load (light + expensive backbones, selector): {result['model_load_s']:.2f} s",
              f"selector on {s['candidates']} candidates: {s['median_ms']:.2f} ms (best {s['best_ms']:.2f} ms)"]
    for name, clip in result["clips"].items():
        k = clip["clip"]
        lines += ["", f"{name} clip: {Path(k['path']).name}, {k['frames']} frames of {k['width']}x{k['height']} at "
                  f"{k['fps']:.3g} fps ({k['codec']})"]
        rate("decode every frame to RGB (native size)", clip["decode_native"])
        p = clip["candidate_pass"]
        rate(f"candidate pass: {p['frames']} candidates decoded and scaled to {p['size']} px", p)
        rate(f"light features ({spec['light_backbone']} {spec['light_resolution']} px, {c.get('light_runs_in', spec['light_precision'])})",
             clip["light_features"])
        e = clip["expensive_on_n"]
        span(f"expensive + head on {e['n']} frames ({spec['expensive_backbone']} {spec['expensive_resolution']} px, "
             f"{spec['expensive_precision']})", e)
        for rt, v in clip.get("runtimes", {}).items():
            rate(f"  light features, runtime {rt} ({v['light_speedup']:.2f}x the first)", v["light_features"])
            rate(f"  expensive on {v['expensive_on_n']['frames']} frames, runtime {rt} ({v['expensive_speedup']:.2f}x the first)",
                 v["expensive_on_n"])
        lines.append(f"  one video end to end, n = {c['n']} (select: decode, choose, classify):")
        for method, v in clip["per_video"].items():
            label = "all frames through the expensive classifier" if method == "all" else method
            span(f"  {label}", v)
        q = clip["ratios"]
        lines.append(f"  all / SMART = {q['all_over_smart']:.2f}x faster; SMART / uniform = "
                     f"{q['smart_over_uniform']:.2f}x the time")
        others = [f"{m} {q[f'{m}_over_uniform']:.2f}x" for m in clip["per_video"] if m not in ("all", "uniform", "smart")]
        if others:
            lines.append("  over uniform: " + ", ".join(others))
    if "cold_start" in result:
        cs = result["cold_start"]
        lines += ["", f"cold start of `smartframes select` on {Path(cs['clip']).name} (import, model load, work):"]
        for name, v in cs.items():
            if name != "clip":
                span(name, v)
    return "\n".join(lines)
