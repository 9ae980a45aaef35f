"""Compare selector variants on one split of a store (choose on ``val``, never on ``test``): for
each variant, train with each seed, evaluate, and print SMART's accuracy next to uniform's and the
oracle's, the share of the uniform-to-oracle gap SMART closes, and the diagnosis figures.

    python benchmarks/selector_variants.py --store ucf101-run/store --split val \\
        [--variants probability/top,probability/segments,rank/top,rank/segments] [--seeds 0,1] [--budgets 1,2,4]

A variant is ``TARGET/PICK[+FIELD=VALUE...]``: the training target (``probability``: the oracle
p(true class | frame); ``rank``: its rank within the video), how scores become frames (``top`` or
``segments``), and any other field of :class:`TrainConfig` or :class:`SelectorConfig`, e.g.
``rank/top+loss=listnet+smooth=5+dropout=0.3+weight_decay=1e-4``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import fields, replace

import numpy as np

from smartframes.evaluation.diagnosis import diagnose
from smartframes.evaluation.evaluate import evaluate
from smartframes.selection.config import SelectorConfig, TrainConfig
from smartframes.selection.train import train_selector


def parse_variant(variant: str) -> tuple[TrainConfig, SelectorConfig]:
    """``TARGET/PICK[+FIELD=VALUE...]`` -> (training settings without the seed, selector settings)."""
    head, *extras = variant.split("+")
    target, rule = head.split("/")
    train, selector = {"target": target}, {"pick": rule}
    kinds = {f.name: (train, f.type) for f in fields(TrainConfig)} | {f.name: (selector, f.type) for f in fields(SelectorConfig)}
    for extra in extras:
        name, value = extra.split("=")
        if name not in kinds:
            raise SystemExit(f"variant {variant!r}: no setting named {name!r}")
        into, kind = kinds[name]
        into[name] = value if "str" in str(kind) else (value == "true" if "bool" in str(kind)
                                                        else int(value) if str(kind) == "int" else float(value))
    return TrainConfig(**train), SelectorConfig(**selector)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--variants", default="probability/top,probability/segments,rank/top,rank/segments")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--budgets", default="1,2,4")
    args = parser.parse_args()
    budgets = tuple(int(n) for n in args.budgets.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    width = max(22, max(len(v) for v in args.variants.split(",")) + 2)
    print(f"{'variant':<{width}}" + "".join(f"{'n=' + str(n):>8}" for n in budgets)
          + f"{'gap closed':>12}{'rho delta':>10}{'rho score':>10}{'span@4':>8}{'s/seed':>8}")
    for variant in args.variants.split(","):
        train_cfg, selector_cfg = parse_variant(variant)
        rule = selector_cfg.pick
        accs, gaps, rho_d, rho_s, spans, secs = [], [], [], [], [], []
        for seed in seeds:
            began = time.perf_counter()
            ckpt, _ = train_selector(args.store, None, replace(train_cfg, seed=seed), selector_cfg,
                                     progress=False, log=lambda m: None)
            report = evaluate(args.store, None, budgets, ckpt=ckpt, split=args.split)
            secs.append(time.perf_counter() - began)
            d = diagnose(report, rule=rule)
            smart = [report.result("smart", n).accuracy for n in budgets]
            uniform = [report.result("uniform", n).accuracy for n in budgets]
            oracle = [report.result("oracle", n).accuracy for n in budgets]
            accs.append(smart)
            gaps.append(np.mean([(s - u) / (o - u) if o > u else 0.0 for s, u, o in zip(smart, uniform, oracle)]))
            rho_d.append(d.spearman["delta"])
            rho_s.append(d.spearman["score"])
            spans.append(d.span["smart"])
        print(f"{variant:<{width}}" + "".join(f"{100 * a:>8.1f}" for a in np.mean(accs, 0))
              + f"{100 * np.mean(gaps):>11.0f}%{np.mean(rho_d):>10.2f}{np.mean(rho_s):>10.2f}"
              + f"{100 * np.mean(spans):>7.0f}%{np.mean(secs):>8.0f}", flush=True)
    print(f"{'uniform':<{width}}" + "".join(f"{100 * u:>8.1f}" for u in uniform))
    print(f"{'oracle':<{width}}" + "".join(f"{100 * o:>8.1f}" for o in oracle))
    print(f"{'all frames':<{width}}{100 * report.result('all').accuracy:>8.1f}   ({report.videos} {args.split} videos)")


if __name__ == "__main__":
    main()
