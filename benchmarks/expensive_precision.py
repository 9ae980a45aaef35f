"""Does bfloat16 keep the oracle? The expensive backbone in bfloat16 against the float32 features of
a store, on real clips: per video, the rank correlation of the oracle target p(true class | frame)
and whether the top-n frames are the same, under the store's trained expensive head.

    python benchmarks/expensive_precision.py --store W/store --checkpoint W/selector-seed0 \\
        [--splits val,test] [--budgets 1,2,4,8,16]

The store must hold float32 expensive features (the default until this check passed); its
candidates are decoded again exactly as they were stored, and the expensive backbone runs on them in
bfloat16. The thresholds the default must keep: rank correlation >= 0.99 and the same top-n in
>= 95 % of videos. Also prints the frames/s of both precisions on the same batches.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np
from scipy.stats import spearmanr
from tqdm import tqdm

from smartframes.features.extractor import FeatureExtractor
from smartframes.spec import BATCH_SIZE
from smartframes.features.store import FeatureStore
from smartframes.io.video import read_frames
from smartframes.selection.checkpoint import load_checkpoint


def top(p: np.ndarray, n: int) -> frozenset:
    """The n frames of highest oracle target (ties broken by position, as ``choose`` does)."""
    return frozenset(np.argsort(-p, kind="stable")[:n].tolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--checkpoint", required=True, help="a checkpoint trained on the store (its head is used)")
    parser.add_argument("--splits", default="val,test")
    parser.add_argument("--budgets", default="1,2,4,8,16")
    parser.add_argument("--limit", type=int, default=None, help="at most this many videos a split")
    parser.add_argument("--precision", default="bfloat16",
                        help="the precision tried (float32 checks that the store's features come back exactly)")
    args = parser.parse_args()
    store = FeatureStore.open(args.store)
    if store.spec.expensive_precision != "float32":
        raise SystemExit(f"{args.store}: expensive features are {store.spec.expensive_precision}, not float32")
    ckpt = load_checkpoint(args.checkpoint, expect_spec=store.spec)
    classes = ckpt.classes
    budgets = [int(n) for n in args.budgets.split(",")]
    tried = FeatureExtractor(replace(store.spec, expensive_precision=args.precision))
    size = store.spec.decode_sizes.expensive
    for split in args.splits.split(","):
        records = store.records(status="done", split=split)[: args.limit]
        rho, same, agree, cosine, frames, secs = [], {n: [] for n in budgets}, [], [], 0, 0.0
        for rec in tqdm(records, desc=split, unit="video"):
            stored = store.load(rec.id)
            images = read_frames(rec.path, stored["indices"].tolist(), size, seek=rec.seek)
            began = time.perf_counter()
            emb = np.concatenate([tried.expensive_features(images[k : k + BATCH_SIZE])
                                  for k in range(0, len(images), BATCH_SIZE)])  # (T, 1280)
            secs += time.perf_counter() - began
            frames += len(images)
            p32 = ckpt.head.probabilities(stored["expensive"])  # (T, C)
            p16 = ckpt.head.probabilities(emb)
            y = classes.index(rec.label)
            rho.append(float(spearmanr(p32[:, y], p16[:, y]).statistic) if len(p32) > 1 else 1.0)
            for n in budgets:
                same[n].append(top(p32[:, y], n) == top(p16[:, y], n))
            agree.append(int(p32.mean(0).argmax() == p16.mean(0).argmax()))
            e32 = stored["expensive"]
            cosine.append(float(np.median((e32 * emb).sum(1) / np.linalg.norm(e32, axis=1) / np.linalg.norm(emb, axis=1))))
        print(f"{split}: {len(records)} videos, {frames} frames; {args.precision} expensive pass {frames / secs:.1f} frames/s")
        print(f"  embedding cosine to float32, median over videos {statistics.median(cosine):.4f}")
        print(f"  rank correlation of p(true class | frame): median {statistics.median(rho):.4f}, "
              f"min {min(rho):.4f}, {100 * np.mean(np.array(rho) >= 0.99):.1f} % of videos >= 0.99")
        print("  same top-n frames: " + ", ".join(f"n={n} {100 * np.mean(v):.1f} %" for n, v in same.items()))
        print(f"  same all-frames prediction: {100 * np.mean(agree):.1f} % of videos")


if __name__ == "__main__":
    main()
