"""How much of a selector's accuracy is the training seed: train on one store with several seeds and
print, per budget, the test accuracy of SMART (delta x gamma), SFS alone and GS alone for each seed
and their mean.

Usage::

    python benchmarks/selector_seeds.py --store smartframes-demo/store [--seeds 0,1,2,3,4] [--budgets 1,2,4,8]

With the demo's store this is the five-seed comparison the README quotes (about 2.5 minutes on two
cores).
"""

from __future__ import annotations

import argparse

import numpy as np

from smartframes.evaluation.evaluate import evaluate
from smartframes.selection.config import TrainConfig
from smartframes.selection.train import train_selector

METHODS = ("smart", "sfs", "gs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="a feature store with train, val and test videos")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--budgets", default="1,2,4,8")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    budgets = tuple(int(n) for n in args.budgets.split(","))
    accuracy = {m: [] for m in METHODS}  # method -> per seed, per budget
    print(f"{'seed':<6}{'method':<8}" + "".join(f"{'n=' + str(n):>8}" for n in budgets))
    for seed in seeds:
        ckpt, _ = train_selector(args.store, None, TrainConfig(seed=seed), progress=False, log=lambda m: None)
        report = evaluate(args.store, None, budgets, ckpt=ckpt).to_dict()
        rows = {(r["method"], r["budget"]): r["accuracy"] for r in report["results"]}
        for m in METHODS:
            accuracy[m].append([100 * rows[(m, n)] for n in budgets])
            print(f"{seed:<6}{m:<8}" + "".join(f"{a:>8.1f}" for a in accuracy[m][-1]), flush=True)
    for m in METHODS:
        print(f"{'mean':<6}{m:<8}" + "".join(f"{a:>8.2f}" for a in np.mean(accuracy[m], axis=0)))


if __name__ == "__main__":
    main()
