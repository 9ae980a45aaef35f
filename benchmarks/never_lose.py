"""Three ways to make SMART steadier against uniform sampling, measured on the seed checkpoints that
``benchmarks/real_ucf101.py`` or ``benchmarks/untrimmed.py`` leave in their work folder:

1. rank ensembles: K selectors of different training seeds, their within-video ranks averaged;
2. pick rules: :func:`~smartframes.selection.methods.quantile_frames` with an exponent from 0
   (uniform) to inf (top-n), chosen on val per budget (accuracy, ties by log-likelihood) or once
   for all budgets, then applied to test;
3. fusion: the expensive prediction from the n frames times the global selector's own video-level
   class probabilities (Eq. 6, from every frame's light features) to a power w.

Every row is a mean over the seeds (each seed's own head and selector) with the paired difference
to uniform under the same head and a 95 % bootstrap interval over the test videos.

    python benchmarks/never_lose.py --work /path/to/real_ucf101-work [--tag auto] [--budgets 1,2,4,8,16]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from smartframes.evaluation.metrics import paired_difference
from smartframes.features.store import FeatureStore
from smartframes.selection.checkpoint import Checkpoint, load_checkpoint
from smartframes.selection.methods import quantile_frames, top_n, uniform_frames
from smartframes.selection.scoring import VideoData, collate, load_videos, score_videos
from smartframes.selection.networks import inference_partners

EXPONENTS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, float("inf"))
FUSION_WEIGHTS = (0.25, 0.5, 1.0)


def within_video_ranks(s: np.ndarray) -> np.ndarray:
    """Scores (T,) -> ranks scaled to [0, 1], ties in time order."""
    r = np.empty(len(s))
    r[np.argsort(s, kind="stable")] = np.arange(len(s))
    return r / max(len(s) - 1, 1)


@torch.inference_mode()
def light_log_probs(ckpt: Checkpoint, videos: list[VideoData]) -> list[np.ndarray]:
    """Per video, the global selector's log class probabilities (C,) from all its frames."""
    out = []
    for v in videos:
        x, mask, lengths, _, _ = collate([v])
        _, _, g = ckpt.selector(x, mask, inference_partners(lengths, x.shape[1]))
        out.append(torch.log_softmax(g.logits[0].float(), -1).numpy())
    return out


class Split:
    """One seed's figures on one split: scores, head probabilities and light evidence per video."""

    def __init__(self, ckpt: Checkpoint, videos: list[VideoData]):
        self.videos = videos
        start = time.perf_counter()
        self.scores = [s for s, _, _ in score_videos(ckpt.selector, videos)]
        self.ms_per_video = 1000 * (time.perf_counter() - start) / max(len(videos), 1)
        self.probs = [ckpt.head.probabilities(v.emb) for v in videos]
        self.light = light_log_probs(ckpt, videos)

    def outcome(self, picks: list[list[int]], weight: float = 0.0) -> tuple[np.ndarray, float]:
        """(per-video 0/1 right, mean log-likelihood of the true class) for chosen frames per video."""
        right, ll = [], []
        for v, p, light, chosen in zip(self.videos, self.probs, self.light, picks):
            pooled = np.log(p[chosen].mean(0) + 1e-9) + weight * light
            right.append(float(pooled.argmax() == v.label))
            ll.append(pooled[v.label] - np.logaddexp.reduce(pooled))
        return np.array(right), float(np.mean(ll))


def row(name: str, results: list[np.ndarray], uniform: list[np.ndarray]) -> str:
    """Mean ± std over seeds (%) and the paired difference to uniform, per budget."""
    cells = []
    for r, u in zip(results, uniform):  # per budget: (seeds, videos)
        acc = 100 * r.mean(1)
        mean, low, high = paired_difference(r, u)
        cells.append(f"{acc.mean():5.1f}±{acc.std():.1f} {100 * mean:+5.1f} [{100 * low:+.1f},{100 * high:+.1f}]")
    return f"  {name:<22}" + " | ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder with store/ and selector-TAG-seedS/")
    parser.add_argument("--tag", default="auto")
    parser.add_argument("--budgets", default="1,2,4,8,16")
    args = parser.parse_args()
    budgets = [int(n) for n in args.budgets.split(",")]
    paths = sorted(args.work.glob(f"selector-{args.tag}-seed*"))
    if len(paths) < 2:
        raise SystemExit(f"{args.work}: need at least two selector-{args.tag}-seed* checkpoints, found {len(paths)}")
    ckpts = [load_checkpoint(p) for p in paths]
    with FeatureStore.open(args.work / "store") as store:
        videos = {s: load_videos(store, s, ckpts[0].classes) for s in ("val", "test")}
    runs = {split: [Split(c, videos[split]) for c in ckpts] for split in videos}
    K = len(ckpts)
    print(f"{K} seeds; {len(videos['val'])} val, {len(videos['test'])} test videos; per budget {budgets}: "
          "accuracy % mean±std over seeds, SMART-like minus uniform [95 % bootstrap over videos]")

    def table(split: str, pickers: dict[str, callable], weight: float = 0.0) -> dict[str, list[np.ndarray]]:
        """name -> per budget (seeds, videos) of 0/1; pickers: name -> (seed, video, n) -> frames."""
        out = {}
        for name, picker in pickers.items():
            out[name] = [np.stack([runs[split][k].outcome([picker(k, i, n) for i in range(len(videos[split]))],
                                                          weight)[0] for k in range(K)]) for n in budgets]
        return out

    def uniform_in(split: str):
        return lambda k, i, n: uniform_frames(len(runs[split][k].scores[i]), n)

    def top_in(split: str):
        return lambda k, i, n: top_n(runs[split][k].scores[i], n)

    def ensemble(size: int, split: str):
        def picker(k, i, n):
            members = [(k + j) % K for j in range(size)]
            return top_n(np.mean([within_video_ranks(runs[split][m].scores[i]) for m in members], 0), n)
        return picker

    for split in ("val", "test"):
        uni = table(split, {"u": uniform_in(split)})["u"]
        print(f"\n1. rank ensembles ({split}; scoring costs {np.mean([r.ms_per_video for r in runs[split]]):.1f} ms "
              "a video per selector)")
        for size in sorted({1, min(3, K), K}):
            print(row(f"K={size}", table(split, {"e": ensemble(size, split)})["e"], uni))
        print(f"3. fusion with the light video-level evidence ({split})")
        for w in FUSION_WEIGHTS:
            print(row(f"smart x light^{w}", table(split, {"f": top_in(split)}, w)["f"], uni))
            print(row(f"uniform x light^{w}", table(split, {"f": uniform_in(split)}, w)["f"], uni))

    print("\n2. pick rules, chosen on val, reported on test")
    test_uniform = table("test", {"u": uniform_in("test")})["u"]
    figures = {}  # (split, seed, exponent, n) -> (right, log-likelihood)
    for split in ("val", "test"):
        for k in range(K):
            for a in EXPONENTS:
                for n in budgets:
                    picks = [quantile_frames(s, n, a) for s in runs[split][k].scores]
                    figures[(split, k, a, n)] = runs[split][k].outcome(picks)
    val_key = lambda k, a, ns: (np.mean([figures[("val", k, a, n)][0].mean() for n in ns]),  # noqa: E731
                                np.mean([figures[("val", k, a, n)][1] for n in ns]))
    per_budget = {(k, n): max(EXPONENTS, key=lambda a: val_key(k, a, [n])) for k in range(K) for n in budgets}
    once = {k: max(EXPONENTS, key=lambda a: val_key(k, a, budgets)) for k in range(K)}
    for a in (0.0, 1.0, 4.0, float("inf")):
        print(row(f"exponent {a:g}", [np.stack([figures[("test", k, a, n)][0] for k in range(K)]) for n in budgets],
                  test_uniform))
    print(row("chosen per budget", [np.stack([figures[("test", k, per_budget[(k, n)], n)][0] for k in range(K)])
                                    for n in budgets], test_uniform))
    print(row("chosen once", [np.stack([figures[("test", k, once[k], n)][0] for k in range(K)]) for n in budgets],
              test_uniform))
    print("  choices per seed (per budget | once):")
    for k in range(K):
        print(f"    seed {k}: " + " ".join(f"n={n}:{per_budget[(k, n)]:g}" for n in budgets) + f" | {once[k]:g}")


if __name__ == "__main__":
    main()
