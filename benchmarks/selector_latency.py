"""Selector latency: milliseconds to score one video's candidates with SFS + GS on this CPU.

Builds an untrained selector of the default size (weights do not change the cost), feeds
random light features of 300 candidate frames (and other lengths with --frames), and reports the
median and best of many runs, single-threaded and with torch's default threads.

    python benchmarks/selector_latency.py [--frames 300,100,24] [--runs 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from smartframes.selector import SelectorConfig, SmartSelector, pair_partners


def latency_ms(model: SmartSelector, T: int, runs: int) -> dict:
    x = torch.randn(1, T, model.cfg.in_dim)
    mask = torch.ones(1, T, dtype=torch.bool)
    times = []
    with torch.inference_mode():
        for k in range(runs + 10):
            begin = time.perf_counter()
            partners = pair_partners(torch.tensor([T]), T, torch.Generator().manual_seed(0))
            model(x, mask, partners)
            if k >= 10:  # warm-up runs are not counted
                times.append((time.perf_counter() - begin) * 1e3)
    return {"frames": T, "median_ms": statistics.median(times), "best_ms": min(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", default="300,100,24", help="comma-separated candidate counts")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    model = SmartSelector(SelectorConfig()).eval()
    params = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}; selector {params / 1e6:.2f} M parameters")
    results = []
    for threads in (1, torch.get_num_threads()):
        torch.set_num_threads(threads)
        for T in (int(t) for t in args.frames.split(",")):
            r = {"threads": threads, **latency_ms(model, T, args.runs)}
            results.append(r)
            print(f"threads {threads}  frames {T:4d}  median {r['median_ms']:6.2f} ms  best {r['best_ms']:6.2f} ms")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
