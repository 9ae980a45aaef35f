"""Frames/s of each backbone, at the default resolutions and precisions, against the batch size, on
frames of a real clip: the figures behind ``BATCH_SIZE`` (light pass, decoding) and
``EXPENSIVE_PIXELS_CPU`` (expensive pass) in :mod:`smartframes.features.extractor`.

    python benchmarks/batch_size.py [--video CLIP] [--repeats 8] [--batches 1,2,4,8,16,32] [--expensive-resolution 260]

The batch sizes are timed in turn within each repeat, so that a busy machine slows them alike;
prints the median and range of frames/s over the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from smartframes.evaluation.bench import synthetic_frames
from smartframes.features.extractor import FeatureExtractor
from smartframes.io.video import decode, write_video
from smartframes.spec import FeatureSpec

CLIP = Path(__file__).resolve().parents[1] / "../shared/data/ucf101-9/Archery/v_Archery_g21_c02.avi"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=None,
                        help="a real clip (default: a 7 s UCF101 clip of ../shared, else a generated one)")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--batches", default="1,2,4,8,16,32")
    parser.add_argument("--frames", type=int, default=32, help="frames per timing")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--expensive-resolution", type=int, default=FeatureSpec().expensive_resolution)
    args = parser.parse_args()
    spec = FeatureSpec(expensive_resolution=args.expensive_resolution)
    batches = [int(b) for b in args.batches.split(",")]
    video = args.video or (str(CLIP) if CLIP.is_file() else None)
    if video is None:
        video = str(Path(tempfile.mkdtemp(prefix="batch-size-")) / "clip.mp4")
        write_video(video, synthetic_frames(args.frames), fps=25)
    args.video = video
    light, expensive = decode(video, range(args.frames), spec.decode_sizes.wanted()).frames
    ex = FeatureExtractor(spec, device=args.device, expensive_batch=max(batches))
    passes = {f"light ({spec.light_backbone} {spec.light_resolution} px, {spec.light_precision})":
              (ex.light_tensors, light),
              f"expensive ({spec.expensive_backbone} {spec.expensive_resolution} px, {spec.expensive_precision})":
              (ex.expensive_tensors, expensive)}
    print(f"{args.video}: {args.frames} frames a timing, {args.repeats} repeats, device {args.device}")
    for name, (run, images) in passes.items():
        times = {b: [] for b in batches}
        for b in batches:  # warm-up
            run(images[:b])
        for _ in range(args.repeats):
            for b in batches:
                began = time.perf_counter()
                for k in range(0, len(images), b):
                    run(images[k : k + b])
                times[b].append(time.perf_counter() - began)
        print(name)
        for b, t in times.items():
            fps = sorted(len(images) / s for s in t)
            print(f"  batch {b:>3}: {statistics.median(fps):7.1f} frames/s (range {fps[0]:.1f}-{fps[-1]:.1f})")


if __name__ == "__main__":
    main()
