"""``smartframes demo``: the built-in benchmark end to end, reusing whatever a previous run left.

Built so far: generate the benchmark, extract its features, train the selector, select frames in
one test video (with a contact sheet), evaluate against the baselines (table + JSON), run the
ablation of paper Table 1, and write the HTML report with the figures.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from .dataset import load_dataset
from .extract import extract_dataset
from .features import FeatureSpec
from .serving import load_selector
from .synth import SynthConfig, synthesize
from .train import train_selector

# The benchmark's frames are 112 px; both backbones run at that size (see README, "Built-in benchmark").
BENCHMARK_SPEC = FeatureSpec(light_resolution=112, expensive_resolution=112)
DEMO_BUDGETS = (1, 2, 4, 8)


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
    ckpt_dir = out / "selector"
    if (ckpt_dir / "config.json").is_file():
        print(f"selector: reusing {ckpt_dir}")
    else:
        train_selector(out / "store", ckpt_dir, progress=progress)
    selector = load_selector(ckpt_dir, device=device)
    first_test = next(it.path for it in load_dataset(data / "labels.csv") if it.split == "test")
    sel = selector.select(first_test, n=4)
    from .plots import contact_sheet
    from .video import read_frames

    contact_sheet(sel, read_frames(first_test, indices=sel.indices), out / "selected.png")
    print(f"select: {Path(first_test).name}: predicted {sel.label} ({sel.probability:.2f}) from frames {sel.indices}; "
          f"sheet {out / 'selected.png'}")
    from .evaluate import ablation, evaluate, format_ablation, format_table, write_json
    from .report import build_report

    report = evaluate(out / "store", ckpt_dir, DEMO_BUDGETS)
    print(format_table(report))
    results = out / "results.json"
    if results.is_file() and "ablation" in (previous := json.loads(results.read_text())):
        report["ablation"] = previous["ablation"]
        print("ablation: reusing the table in results.json")
    else:
        report["ablation"] = ablation(out / "store", DEMO_BUDGETS[0], progress=progress)
    print(format_ablation(report["ablation"]))
    write_json(report, results)
    print(f"results: {results}")
    print(f"report: {build_report(out / 'store', ckpt_dir, out / 'report.html', DEMO_BUDGETS, report=report)}")
    return {"synth_seconds": synth_s, "extract": summary, "report": report}
