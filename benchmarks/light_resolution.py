"""Choose the light resolution by selection accuracy per GFLOP, on a store you already extracted.

For each light (Lite0) resolution, recompute the light features of every video in ``--store``
(decoding once, at all resolutions in one pass), keep that store's expensive features, train the
selector with the default settings and evaluate it on the test split. Prints, per resolution, the
light GFLOPs and frames/s per frame, SMART's accuracy and GFLOPs at each budget, and SMART's cost
as a fraction of the all-frames cost at the budget where SMART is most accurate.

    python benchmarks/light_resolution.py --store smartframes-demo/store --out /tmp/lightres \\
        [--resolutions 48,56,64,80,112] [--budgets 1,2,4,8] [--seeds 0]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from smartframes.evaluation.cost import count_flops
from smartframes.evaluation.evaluate import evaluate
from smartframes.features.backbones import load_backbone
from smartframes.features.extractor import FeatureExtractor
from smartframes.features.store import FeatureStore, VideoFeatures
from smartframes.io.video import decode, probe
from smartframes.selection.config import TrainConfig
from smartframes.selection.train import train_selector
from smartframes.spec import BACKBONES, FeatureSpec


def light_stores(source: FeatureStore, out: Path, resolutions: list[int]) -> dict[int, Path]:
    """One store per light resolution under ``out``, sharing ``source``'s expensive features."""
    records = source.records(status="done")
    specs = {r: replace(source.spec, light_resolution=r) for r in resolutions}
    stores = {r: FeatureStore.create_or_open(out / f"light{r}", spec) for r, spec in specs.items()}
    extractors = {r: FeatureExtractor(replace(spec, expensive_backbone=None)) for r, spec in specs.items()}
    light = BACKBONES[source.spec.light_backbone]
    sizes = [light.resize_short_side(r) for r in resolutions]
    for store in stores.values():
        store.add_videos(records)
    done = [{rec.id for rec in store.records(status="done")} for store in stores.values()]
    todo = [rec for rec in records if not all(rec.id in d for d in done)]
    began = time.perf_counter()
    for rec in todo:
        arrays = source.load(rec.id)
        decoded = decode(rec.path, arrays["indices"].tolist(), sizes)
        info = probe(rec.path)
        for (r, store), frames in zip(stores.items(), decoded.frames):
            visual, glove, _ = extractors[r].light_features(frames)
            store.put(rec.id, VideoFeatures(visual, glove, arrays["expensive"], arrays["indices"], arrays["times"],
                                            info, 0, rec.seek), 0.0)
    if todo:
        print(f"light features of {len(todo)} videos at {resolutions} in {time.perf_counter() - began:.1f} s")
    for store in stores.values():
        store.close()
    return {r: out / f"light{r}" for r in resolutions}


def light_speed(spec: FeatureSpec, frames: int = 256, batch: int = 32) -> tuple[float, float]:
    """(GFLOPs, frames/s) of the light features of one frame of ``spec`` on this machine."""
    ex = FeatureExtractor(replace(spec, expensive_backbone=None), batch_size=batch)
    resolution = spec.light_resolution
    gflops = count_flops(load_backbone(spec.light_backbone), torch.zeros(1, 3, resolution, resolution)) / 1e9
    images = np.random.default_rng(0).integers(0, 255, (batch, resolution, resolution, 3), dtype=np.uint8)
    ex.light_features(images)
    begin = time.perf_counter()
    for _ in range(frames // batch):
        ex.light_features(images)
    return gflops, (frames // batch) * batch / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="a store with expensive features (its train/val/test splits)")
    parser.add_argument("--out", required=True, help="directory for the per-resolution stores (reused when present)")
    parser.add_argument("--resolutions", default="48,56,64,80,112")
    parser.add_argument("--budgets", default="1,2,4,8")
    parser.add_argument("--seeds", default="0", help="training seeds; accuracies are averaged over them")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    resolutions = [int(r) for r in args.resolutions.split(",")]
    budgets = tuple(int(n) for n in args.budgets.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    with FeatureStore.open(args.store) as source:
        print(f"source store {args.store}: expensive {source.spec.expensive_backbone} at "
              f"{source.spec.expensive_resolution} px, {source.count('done')} videos")
        stores = light_stores(source, Path(args.out), resolutions)
        spec = source.spec
    rows = []
    for r in resolutions:
        gflops, fps = light_speed(replace(spec, light_resolution=r))
        accs, cost, everything = [], None, None
        for seed in seeds:
            ckpt, _ = train_selector(stores[r], None, TrainConfig(seed=seed), progress=False, log=lambda m: None)
            report = evaluate(stores[r], None, budgets, ckpt=ckpt).to_dict()
            res = {(x["method"], x["budget"]): x for x in report["results"]}
            accs.append([res[("smart", n)]["accuracy"] for n in budgets])
            cost = [res[("smart", n)]["gflops_per_video"] for n in budgets]
            everything = res[("all", None)]
        acc = np.mean(accs, axis=0)
        best = int(np.argmax(acc))
        row = {"light_resolution": r, "light_gflops": gflops, "light_fps": fps,
               "smart_accuracy": dict(zip(budgets, acc.tolist())), "smart_gflops": dict(zip(budgets, cost)),
               "all_accuracy": everything["accuracy"], "all_gflops": everything["gflops_per_video"],
               "best_budget": budgets[best], "cost_fraction_at_best": cost[best] / everything["gflops_per_video"]}
        rows.append(row)
        print(f"light {r:4d} px  {gflops:6.3f} GFLOPs/frame  {fps:6.0f} frames/s  SMART "
              + " ".join(f"n={n}:{100 * a:5.1f}%" for n, a in zip(budgets, acc))
              + f"  all {100 * everything['accuracy']:.1f}%  cost at n={budgets[best]}: "
              f"{cost[best]:.2f} of {everything['gflops_per_video']:.2f} GFLOPs ({100 * row['cost_fraction_at_best']:.0f}%)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
