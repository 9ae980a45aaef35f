"""The paper's UCF101 experiment (Table 2a) on real UCF101 clips: extract with the defaults, train
the selector with several seeds, evaluate every method at every budget on the test split, and say
why SMART helps or does not (the diagnosis figures of :mod:`smartframes.evaluation.diagnosis`).

    python benchmarks/real_ucf101.py --labels ../shared/data/ucf101-9/labels.csv --work ucf101-run \\
        [--seeds 0,1,2] [--budgets 1,2,4,8,16] [--max-candidates 64] [--expensive-precision bfloat16]

Resumable: the store, and each seed's checkpoint, are reused when present. Prints the Table 2a
layout (mean ± std over the seeds for the selector methods; random over 10 draws and the seeds),
mAP, GFLOPs and ms per video, the diagnosis on val and test, the paper's own Table 2a, and the time
the whole run took.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from smartframes.evaluation.diagnosis import diagnose, format_diagnosis
from smartframes.evaluation.evaluate import evaluate, format_paired
from smartframes.scale.extract import extract_dataset
from smartframes.selection.checkpoint import load_checkpoint
from smartframes.selection.methods import METHODS
from smartframes.selection.config import ANNOTATIONS, TrainConfig
from smartframes.selection.train import train_selector
from smartframes.spec import FeatureSpec

PAPER = """paper Table 2a (UCF101, ResNet-152 expensive model; accuracy % | GFLOPs at 10 / 26 / 50 frames):
  Random      63.2 68.3 70.2 | 110 277 652
  Uniform     63.8 69.1 70.7 | 110 277 652
  SMART       72.8 75.3 75.5 | 164 331 706
  All frames  74.6           | 1969"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", required=True, help="CSV path,label,split of the clips")
    parser.add_argument("--work", required=True, help="folder for the store, checkpoints and results")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budgets", default="1,2,4,8,16")
    parser.add_argument("--max-candidates", type=int, default=64)
    parser.add_argument("--light-resolution", type=int, default=FeatureSpec().light_resolution)
    parser.add_argument("--expensive-resolution", type=int, default=FeatureSpec().expensive_resolution)
    parser.add_argument("--light-precision", default=FeatureSpec().light_precision,
                        help="of the light pass (bfloat16 runs in float32 on a CPU without bfloat16 instructions)")
    parser.add_argument("--expensive-precision", default=FeatureSpec().expensive_precision,
                        help="of the expensive pass (benchmarks/precision_gate.py compares two runs)")
    parser.add_argument("--segments", default=None,
                        help="temporal annotations (default: segments.json beside --labels, if there)")
    parser.add_argument("--annotations", default=TrainConfig().annotations, choices=ANNOTATIONS,
                        help="how training uses the segments (smartframes train --annotations)")
    args = parser.parse_args()
    began = time.perf_counter()
    work = Path(args.work)
    seeds = [int(s) for s in args.seeds.split(",")]
    budgets = tuple(int(n) for n in args.budgets.split(","))
    spec = replace(FeatureSpec(), max_candidates=args.max_candidates, light_resolution=args.light_resolution,
                   expensive_resolution=args.expensive_resolution, light_precision=args.light_precision,
                   expensive_precision=args.expensive_precision)
    segments = args.segments or (Path(args.labels).parent / "segments.json")
    summary = extract_dataset(args.labels, work / "store", spec,
                              segments=segments if Path(segments).is_file() else None)
    print(f"extract: {summary.line()}")

    rows: dict[tuple[str, int | None], list] = {}
    diagnoses = {"val": [], "test": []}
    val_rows: dict[tuple[str, int | None], list] = {}
    for seed in seeds:
        ckpt_dir = work / f"selector-{args.annotations}-seed{seed}"
        if (ckpt_dir / "config.json").is_file():
            ckpt = load_checkpoint(ckpt_dir)
        else:
            ckpt, _ = train_selector(work / "store", ckpt_dir, TrainConfig(seed=seed, annotations=args.annotations),
                                     progress=False)
        for split in ("val", "test"):
            report = evaluate(work / "store", None, budgets, ckpt=ckpt, split=split)
            diagnoses[split].append(diagnose(report, rule=ckpt.selector.cfg.pick))
            for r in report.results:
                (rows if split == "test" else val_rows).setdefault((r.method, r.budget), []).append(r)
            if split == "test":
                test_videos, cost = report.videos, report.cost
        print(f"seed {seed}: test " + ", ".join(f"n={n} SMART {100 * report.result('smart', n).accuracy:.1f}"
                                                for n in budgets), flush=True)

    def cell(method, n):
        accs = 100 * np.array([r.accuracy for r in rows[(method, n)]])
        return f"{accs.mean():.1f}" + (f"±{accs.std():.1f}" if method in ("smart", "sfs", "gs", "random") else "")

    print("\nval accuracy % (choose settings here), mean over seeds: " + "; ".join(
        f"{m} " + "/".join(f"{100 * np.mean([r.accuracy for r in val_rows[(m, n)]]):.1f}" for n in budgets)
        for m in ("smart", "uniform")) + f"; all {100 * np.mean([r.accuracy for r in val_rows[('all', None)]]):.1f}")
    print(f"\n{test_videos} test videos, {len(seeds)} training seeds; accuracy % (mean±std over seeds) | GFLOPs per video")
    print(f"{'method':<12}" + "".join(f"{'n=' + str(n):>12}" for n in budgets) + "  |" +
          "".join(f"{'n=' + str(n):>8}" for n in budgets) + f"{'ms (n=' + str(budgets[0]) + ')':>12}")
    for method in METHODS:
        keys = [(method, None)] if method == "all" else [(method, n) for n in budgets]
        gflops = [np.mean([r.gflops_per_video for r in rows[k]]) for k in keys]
        ms = np.mean([r.ms_per_video for r in rows[keys[0]]])
        accs = [cell(*k) for k in keys]
        print(f"{method:<12}" + "".join(f"{a:>12}" for a in accs) + " " * (12 * (len(budgets) - len(keys))) + "  |"
              + "".join(f"{g:>8.1f}" for g in gflops) + " " * (8 * (len(budgets) - len(keys))) + f"{ms:>12.0f}")
    print(format_paired(rows, budgets))
    print("mAP %: " + "; ".join(f"{m} " + "/".join(f"{100 * np.mean([r.map for r in rows[(m, n)]]):.1f}" for n in budgets)
                                for m in ("smart", "uniform")) + f"; all {100 * np.mean([r.map for r in rows[('all', None)]]):.1f}")
    annotated = [r for r in rows[("smart", budgets[0])] if r.selection_precision is not None]
    if annotated:
        print(f"on the {report.annotated} annotated test videos (mean over seeds): selection precision | segment recall")
        for method in METHODS:
            if method != "all" and rows[(method, budgets[0])][0].selection_precision is not None:
                print(f"  {method:<11}" + " ".join(f"{np.mean([r.selection_precision for r in rows[(method, n)]]):.2f}"
                                                for n in budgets) + "  | " +
                      " ".join(f"{np.mean([r.segment_recall for r in rows[(method, n)]]):.2f}" for n in budgets))
    print(f"light {cost.light_gflops:.3f} GFLOPs/frame, expensive {cost.expensive_gflops:.3f} "
          f"(1 : {cost.expensive_gflops / cost.light_gflops:.1f})")
    for split in ("val", "test"):
        print(f"\ndiagnosis on {split} (seed {seeds[0]}):\n" + format_diagnosis(diagnoses[split][0]))
        sp = np.array([[d.spearman["delta"], d.spearman["gamma"], d.spearman["score"]] for d in diagnoses[split]])
        span = np.array([d.span["smart"] for d in diagnoses[split]])
        print(f"over the seeds: Spearman delta/gamma/score {' / '.join(f'{v:.2f}' for v in sp.mean(0))}; "
              f"SMART span at n=4 {100 * span.mean():.0f} %")
    print("\n" + PAPER)
    (work / f"results-{args.annotations}.json").write_text(json.dumps({
        "test_videos": test_videos, "spec": asdict(spec),
        "rows": {f"{m}@{n}": [r.accuracy for r in v] for (m, n), v in rows.items()},
        "diagnosis": {s: [d.to_dict() for d in ds] for s, ds in diagnoses.items()}}, indent=1, default=str))
    print(f"\nwhole run: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
