"""Frame selection on classes the selector never saw: for each of several class splits of a store,
train a SMART selector on some classes and a recogniser on the others, then evaluate the selector
(zero-shot), every training-free method, uniform and random on the recogniser's classes, with
that recogniser. Prints each method's accuracy and its share of the uniform-to-oracle gap, as mean
and spread over the class splits, on val (where the default is chosen) and on test.

    python benchmarks/class_disjoint.py --store ucf101-run/store [--splits 3] [--held-out 4] [--budgets 1,2,4,8]

A class split k shuffles the store's classes with seed k: the first ``held-out`` classes are the
recogniser's (evaluated), the rest the selector's (trained on).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from smartframes.evaluation.evaluate import evaluate
from smartframes.features.store import FeatureStore
from smartframes.selection.methods import METHODS
from smartframes.selection.config import TrainConfig
from smartframes.selection.train import train_selector

SHOWN = [m for m in METHODS if m not in ("sfs", "gs", "all")]


def class_splits(classes: list[str], count: int, held_out: int) -> list[tuple[list[str], list[str]]]:
    """``count`` (selector classes, recogniser classes) pairs, each from a seeded shuffle."""
    out = []
    for k in range(count):
        order = np.random.default_rng(k).permutation(len(classes))
        names = [classes[i] for i in order]
        out.append((sorted(names[held_out:]), sorted(names[:held_out])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=4, help="classes per split the selector never sees")
    parser.add_argument("--budgets", default="1,2,4,8")
    parser.add_argument("--seed", type=int, default=0, help="training seed of the selector and the recogniser")
    parser.add_argument("--json", default=None, help="also write every figure here")
    args = parser.parse_args()
    began = time.perf_counter()
    budgets = tuple(int(n) for n in args.budgets.split(","))
    with FeatureStore.open(args.store) as store:
        classes = store.classes()
    quiet = {"progress": False, "log": lambda m: None}
    acc = {s: {} for s in ("val", "test")}  # split -> (method, n) -> [accuracy per class split]
    videos = {"val": [], "test": []}
    for k, (seen, unseen) in enumerate(class_splits(classes, args.splits, args.held_out)):
        selector, _ = train_selector(args.store, None, TrainConfig(seed=args.seed), classes=seen, **quiet)
        # the recogniser's own selector is not used: one epoch is enough to make the checkpoint
        recogniser, _ = train_selector(args.store, None, TrainConfig(seed=args.seed, epochs=1), classes=unseen, **quiet)
        for split in ("val", "test"):
            report = evaluate(args.store, None, budgets, split=split, ckpt=selector, recogniser=recogniser,
                              classes=unseen)
            videos[split].append(report.videos)
            for r in report.results:
                acc[split].setdefault((r.method, r.budget), []).append(r.accuracy)
        print(f"class split {k}: selector on {', '.join(seen)}; evaluated on {', '.join(unseen)} "
              f"({videos['val'][-1]} val, {videos['test'][-1]} test videos)", flush=True)

    for split in ("val", "test"):
        rows = acc[split]
        uniform = np.array([rows[("uniform", n)] for n in budgets])  # (budgets, splits)
        oracle = np.array([rows[("oracle", n)] for n in budgets])
        head = "".join(f"{'n=' + str(n):>13}" for n in budgets)
        print(f"\n{split}: accuracy % (mean ± std over {args.splits} class splits; {sum(videos[split])} videos in all) "
              f"and share of the uniform-to-oracle gap over n = {', '.join(map(str, budgets))}")
        print(f"{'method':<12}{head}{'gap share':>18}")
        for method in SHOWN:
            a = np.array([rows[(method, n)] for n in budgets])
            gap = np.where(oracle > uniform, (a - uniform) / np.where(oracle > uniform, oracle - uniform, 1), 0.0)
            share = gap.mean(0)  # per class split
            cells = "".join(f"{100 * m:>7.1f} ± {100 * s:<3.1f}" for m, s in zip(a.mean(1), a.std(1)))
            print(f"{method:<12}{cells}{100 * share.mean():>10.0f}% ± {100 * share.std():.0f}%")
        a = np.array(rows[("all", None)])
        print(f"{'all frames':<12}{100 * a.mean():>7.1f} ± {100 * a.std():.1f}")
    print(f"\nwhole run: {time.perf_counter() - began:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({s: {f"{m}@{n}": v for (m, n), v in rows.items()} for s, rows in acc.items()}, fh, indent=1)


if __name__ == "__main__":
    main()
