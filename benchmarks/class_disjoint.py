"""Frame selection on classes the selector never saw: for each of several class splits, train a
SMART selector on some classes and a recogniser on the others, then evaluate the selector
(zero-shot), every training-free method, uniform and random on the recogniser's classes, with
that recogniser. Prints each method's accuracy and its share of the uniform-to-oracle gap, as mean
and spread over the class splits, on val (where the default is chosen) and on test.

    python benchmarks/class_disjoint.py --store ucf101-run/store [--splits 3] [--held-out 4] [--budgets 1,2,4,8]

A class split k shuffles the classes with seed k: the first ``held-out`` classes are the
recogniser's (evaluated), the rest the selector's (trained on). With several ``--store`` (say a
trimmed and an untrimmed set of one feature spec), the held-out classes are drawn from the classes
every store has, each store is evaluated on its own with a recogniser trained on its own videos
of those classes, and the selector trains on every class left in the ``--selector-stores``
(default: the evaluated stores) as one set.
``--no-evidence`` trains the selector without the frame evidence of its classes.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from smartframes.evaluation.evaluate import evaluate
from smartframes.features.store import FeatureStore
from smartframes.selection.methods import METHODS
from smartframes.selection.config import SelectorConfig, TrainConfig
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


def table(split: str, rows: dict, budgets: tuple[int, ...], splits: int, videos: int) -> None:
    """Print one split's accuracy (mean ± std over the class splits) and gap share per method."""
    uniform = np.array([rows[("uniform", n)] for n in budgets])  # (budgets, splits)
    oracle = np.array([rows[("oracle", n)] for n in budgets])
    head = "".join(f"{'n=' + str(n):>13}" for n in budgets)
    print(f"\n{split}: accuracy % (mean ± std over {splits} class splits; {videos} videos in all) "
          f"and share of the uniform-to-oracle gap over n = {', '.join(map(str, budgets))}")
    print(f"{'method':<12}{head}{'gap share':>18}")
    for method in SHOWN:
        a = np.array([rows[(method, n)] for n in budgets])
        gap = np.where(oracle > uniform, (a - uniform) / np.where(oracle > uniform, oracle - uniform, 1), 0.0)
        share = gap.mean(0)  # per class split
        cells = "".join(f"{100 * m:>7.1f} ± {100 * s:<3.1f}" for m, s in zip(a.mean(1), a.std(1)))
        print(f"{method:<12}{cells}{100 * share.mean():>10.0f}% ± {100 * share.std():.0f}%")
    smart = np.array([rows[("smart", n)] for n in budgets])
    print(f"{'SMART − uniform':<16}" + "".join(f"{100 * d:>+13.1f}" for d in (smart - uniform).mean(1))
          + "   (worst split " + " / ".join(f"{100 * d:+.1f}" for d in (smart - uniform).min(1)) + ")")
    a = np.array(rows[("all", None)])
    print(f"{'all frames':<12}{100 * a.mean():>7.1f} ± {100 * a.std():.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, nargs="+", help="stores evaluated, each on its own")
    parser.add_argument("--selector-stores", nargs="+", default=None,
                        help="stores the selector trains on (default: the --store list)")
    parser.add_argument("--no-evidence", action="store_true", help="selector without the frame evidence")
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=4, help="classes per split the selector never sees")
    parser.add_argument("--budgets", default="1,2,4,8")
    parser.add_argument("--seed", type=int, default=0, help="training seed of the selector and the recogniser")
    parser.add_argument("--json", default=None, help="also write every figure here")
    args = parser.parse_args()
    began = time.perf_counter()
    budgets = tuple(int(n) for n in args.budgets.split(","))
    selector_stores = args.selector_stores or args.store
    common, every = None, set()
    for where in dict.fromkeys(args.store + selector_stores):
        with FeatureStore.open(where) as store:
            have = set(store.classes())
        every |= have
        if where in args.store:
            common = have if common is None else common & have
    quiet = {"progress": False, "log": lambda m: None}
    acc = {(w, s): {} for w in args.store for s in ("val", "test")}  # (store, split) -> (method, n) -> [per class split]
    videos = {key: [] for key in acc}
    for k, (_, unseen) in enumerate(class_splits(sorted(common), args.splits, args.held_out)):
        seen = sorted(every - set(unseen))
        selector, _ = train_selector(selector_stores if len(selector_stores) > 1 else selector_stores[0], None,
                                     TrainConfig(seed=args.seed), SelectorConfig(use_evidence=not args.no_evidence),
                                     classes=seen, **quiet)
        for where in args.store:
            # the recogniser's own selector is not used: one epoch is enough to make the checkpoint
            recogniser, _ = train_selector(where, None, TrainConfig(seed=args.seed, epochs=1), classes=unseen, **quiet)
            for split in ("val", "test"):
                report = evaluate(where, None, budgets, split=split, ckpt=selector, recogniser=recogniser,
                                  classes=unseen)
                videos[(where, split)].append(report.videos)
                for r in report.results:
                    acc[(where, split)].setdefault((r.method, r.budget), []).append(r.accuracy)
        print(f"class split {k}: selector on {', '.join(seen)}; evaluated on {', '.join(unseen)}", flush=True)

    for (where, split), rows in acc.items():
        print(f"\n== {where}", end="")
        table(split, rows, budgets, args.splits, sum(videos[(where, split)]))
    print(f"\nwhole run: {time.perf_counter() - began:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({f"{w} {s}": {f"{m}@{n}": v for (m, n), v in rows.items()} for (w, s), rows in acc.items()},
                      fh, indent=1)


if __name__ == "__main__":
    main()
