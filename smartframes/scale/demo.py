"""The built-in benchmark end to end (what ``smartframes demo`` runs), reusing whatever a previous
run left.

Generates the benchmark, extracts its features, trains the selector, selects frames in one test
video (with a contact sheet), evaluates against the baselines (table + JSON), runs the ablation of
paper Table 1 and writes the HTML report with the figures.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

from ..data.dataset import load_dataset
from ..data.synth import SynthConfig, synthesize
from ..device import check_device, resolve_device
from ..evaluation.ablation import Ablation, ablation, format_ablation
from ..evaluation.evaluate import evaluate, format_table, write_json
from ..evaluation.plots import contact_sheet
from ..evaluation.report import build_report
from ..features.store import FeatureStore
from ..selection.checkpoint import CheckpointError, load_checkpoint
from ..selection.serving import load_selector
from ..selection.train import train_selector
from ..spec import FeatureSpec
from .extract import extract_dataset

# The benchmark's frames are 112 px. The expensive backbone sees them at that size; the light one
# at 48 px, the cheapest resolution whose SMART accuracy matched the best in the sweep of
# benchmarks/light_resolution.py (32 px lost 8 points; 48-112 px were within 2.5 points).
BENCHMARK_SPEC = FeatureSpec(light_resolution=48, expensive_resolution=112)
DEMO_BUDGETS = (1, 2, 4, 8)


def _benchmark(data: Path, cfg: SynthConfig, progress: bool) -> None:
    truth = data / "ground_truth.json"
    if truth.is_file() and json.loads(truth.read_text()).get("config") == json.loads(json.dumps(asdict(cfg))):
        print(f"benchmark: reusing {data}")
        return
    made = synthesize(data, cfg, progress=progress)
    print(f"benchmark: {made['videos']} videos ({cfg.classes} classes, {cfg.frames} frames of "
          f"{cfg.size}x{cfg.size}), {made['bytes'] / 1e6:.1f} MB in {made['seconds']:.1f} s -> {data}")


def _selector(store_dir: Path, ckpt_dir: Path, progress: bool) -> str:
    """Train the selector unless a loadable checkpoint for this store exists; returns the SHA-1 of
    its config.json, which says whether earlier results belong to it."""
    if (ckpt_dir / "config.json").is_file():
        with FeatureStore.open(store_dir) as store:
            spec = store.spec
        try:
            load_checkpoint(ckpt_dir, expect_spec=spec)
            print(f"selector: reusing {ckpt_dir}")
        except CheckpointError as e:
            print(f"selector: retraining, the checkpoint in {ckpt_dir} does not fit ({e})")
            train_selector(store_dir, ckpt_dir, progress=progress)
    else:
        train_selector(store_dir, ckpt_dir, progress=progress)
    return hashlib.sha1((ckpt_dir / "config.json").read_bytes()).hexdigest()


def run_demo(out: str | Path, *, seed: int = 0, device: str | None = None, progress: bool = True,
             benchmark: SynthConfig | None = None) -> dict:
    """Run the whole job under ``out``: ``benchmark/``, ``store/``, ``selector/``,
    ``selected.png``, ``results.json`` and ``report.html``. ``benchmark`` replaces the default
    benchmark (whose ``seed`` is ``seed``).

    Returns:
        ``{"seconds", "extract" (ExtractSummary), "report" (the Evaluation), "ablation" (the Ablation)}``.
    """
    device = str(resolve_device(device))
    check_device(BENCHMARK_SPEC, device)
    out = Path(out)
    began = time.perf_counter()
    data, store_dir, ckpt_dir = out / "benchmark", out / "store", out / "selector"
    _benchmark(data, benchmark or SynthConfig(seed=seed), progress)
    summary = extract_dataset(data / "labels.csv", store_dir, BENCHMARK_SPEC, device=device, progress=progress)
    print(f"features: {summary.line()}")
    selector_sha1 = _selector(store_dir, ckpt_dir, progress)

    first_test = next(it.path for it in load_dataset(data / "labels.csv") if it.split == "test")
    sel = load_selector(ckpt_dir, device=device).select(first_test, n=4)
    contact_sheet(sel, sel.read_frames(), out / "selected.png")
    print(f"select: {Path(first_test).name}: predicted {sel.label} ({sel.probability:.2f}) from frames {sel.indices}; "
          f"sheet {out / 'selected.png'}")

    report = evaluate(store_dir, ckpt_dir, DEMO_BUDGETS)
    print(format_table(report))
    results = out / "results.json"
    previous = json.loads(results.read_text()) if results.is_file() else {}
    if previous.get("selector_config_sha1") == selector_sha1 and "ablation" in previous:
        table = Ablation.from_dict(previous["ablation"])
        print("ablation: reusing the table in results.json")
    else:
        table = ablation(store_dir, DEMO_BUDGETS[0], default=load_checkpoint(ckpt_dir), progress=progress)
    print(format_ablation(table))
    write_json({**report.to_dict(), "selector_config_sha1": selector_sha1, "ablation": table.to_dict()}, results)
    print(f"results: {results}")
    print(f"report: {build_report(store_dir, ckpt_dir, out / 'report.html', DEMO_BUDGETS, report=report, ablation=table)}")
    seconds = time.perf_counter() - began
    print(f"demo: {seconds:.0f} s")
    return {"seconds": seconds, "extract": summary, "report": report, "ablation": table}
