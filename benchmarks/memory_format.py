"""Benchmark channels-last against contiguous memory for both backbones on this CPU.

The backbones are loaded in channels-last memory (``backbones.load_backbone``) because of the
figures this prints: frames/s of the light backbone (Lite0, 160 px) and the expensive one
(Lite2, 260 px), float32 and bfloat16 autocast, batches of 16 random images. The two memory
formats are timed alternately, batch by batch, so that a busy machine slows both alike.

Usage::

    python benchmarks/memory_format.py [--repeats 6] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from smartframes.features.backbones import load_backbone
from smartframes.spec import BATCH_SIZE

CASES = [("efficientnet_lite0", 160), ("efficientnet_lite2", 260)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"{'backbone':<20}{'px':>5}{'precision':>11}{'channels-last':>16}{'contiguous':>13}   frames/s (median)")
    for name, size in CASES:
        channels_last = load_backbone(name)
        contiguous = load_backbone(name).to(memory_format=torch.contiguous_format)
        x = torch.randn(args.batch_size, 3, size, size)  # (B, 3, H, W)
        inputs = {"channels-last": (channels_last, x.contiguous(memory_format=torch.channels_last)),
                  "contiguous": (contiguous, x)}
        for bf16 in (False, True):
            seconds = {k: [] for k in inputs}
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                for model, batch in inputs.values():
                    model.forward_features(batch)  # warm-up
                for _ in range(args.repeats):
                    for key, (model, batch) in inputs.items():
                        begin = time.perf_counter()
                        model.forward_features(batch)
                        seconds[key].append(time.perf_counter() - begin)
            fps = {k: args.batch_size / statistics.median(v) for k, v in seconds.items()}
            print(f"{name:<20}{size:>5}{'bfloat16' if bf16 else 'float32':>11}"
                  f"{fps['channels-last']:>16.1f}{fps['contiguous']:>13.1f}")


if __name__ == "__main__":
    main()
