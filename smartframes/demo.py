"""``smartframes demo``: the built-in benchmark end to end, reusing whatever a previous run left.

Built so far: generate the benchmark, extract its features. Selector training, evaluation and the
report are not built yet; the demo says so instead of pretending.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from .extract import extract_dataset
from .features import FeatureSpec
from .synth import SynthConfig, synthesize

# The benchmark's frames are 112 px; both backbones run at that size (see README, "Built-in benchmark").
BENCHMARK_SPEC = FeatureSpec(light_resolution=112, expensive_resolution=112)


def run_demo(out: str | Path, *, seed: int = 0, device: str = "cpu", progress: bool = True) -> dict:
    """Generate (or reuse) the default benchmark under ``out/benchmark`` and extract its features
    into ``out/store``. Returns timings and the extraction summary line."""
    out = Path(out)
    data = out / "benchmark"
    cfg = SynthConfig(seed=seed)
    truth = data / "ground_truth.json"
    began = time.perf_counter()
    if truth.is_file() and json.loads(truth.read_text()).get("config") == json.loads(json.dumps(asdict(cfg))):
        print(f"benchmark: reusing {data}")
    else:
        made = synthesize(data, cfg, progress=progress)
        print(f"benchmark: {made['videos']} videos ({cfg.classes} classes, {cfg.frames} frames of "
              f"{cfg.size}x{cfg.size}), {made['bytes'] / 1e6:.1f} MB in {made['seconds']:.1f} s -> {data}")
    synth_s = time.perf_counter() - began
    summary = extract_dataset(data / "labels.csv", out / "store", BENCHMARK_SPEC, device=device, progress=progress)
    print(f"features: {summary.line()}")
    print("not built yet: selector training, evaluation and the report; the demo stops after features "
          f"(store: {out / 'store'})")
    return {"synth_seconds": synth_s, "extract": summary}
