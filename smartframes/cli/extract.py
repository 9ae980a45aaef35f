"""``smartframes extract``: per-frame features of a labelled dataset into a store."""

from __future__ import annotations

import argparse
import sys

from ..io.decoder import DECODE_TIMEOUT
from ..io.video import Limits
from .args import (EXIT_SOME_FAILED, add_batch_size_arg, add_command, add_dataset_args, add_device_arg,
                   add_engine_args, add_segments_arg, add_spec_args, dataset_from_args, positive, spec_from_args)

EXAMPLES = [
    "smartframes extract videos/ --store store",
    "smartframes extract labels.csv --store store --max-candidates 64",
    "smartframes extract --format ucf101 --root UCF101 --split 1 --store store",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``extract`` and its options."""
    p = add_command(subparsers, common, "extract", EXAMPLES,
                    help="compute per-frame features of a labelled dataset into a store",
                    description="Decode every video of DATASET, compute light (Lite0 + GloVe) and "
                    "expensive (Lite2) per-frame features, and store them. Re-running resumes.")
    add_segments_arg(p, "kept in the store for evaluate and report (--format activitynet reads its own)")
    p.add_argument("dataset", nargs="?", help="folder with one sub-folder per class, or CSV with header "
                   "path,label[,split] (or use --format and --root)")
    p.add_argument("--store", required=True, help="store directory (created or resumed)")
    add_dataset_args(p)
    add_device_arg(p)
    add_batch_size_arg(p)
    p.add_argument("--retry-failed", action="store_true", help="try again videos that failed before")
    p.add_argument("--allow-partial", action="store_true",
                   help=f"exit 0 when some videos failed (default: exit status {EXIT_SOME_FAILED}, the count on stderr)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_engine_args(p)
    add_spec_args(p)
    lim = Limits()
    g = p.add_argument_group("limits (a video over one is recorded as failed, before it is decoded)")
    g.add_argument("--max-pixels", type=positive(int), default=lim.max_pixels,
                   help=f"largest frame, width x height (default {lim.max_pixels}, 8K)")
    g.add_argument("--max-frames", type=positive(int), default=lim.max_frames,
                   help=f"most frames per video (default {lim.max_frames})")
    g.add_argument("--max-duration", type=positive(float), default=lim.max_duration,
                   help=f"longest video in seconds (default {lim.max_duration:g})")
    g.add_argument("--decode-timeout", type=positive(float), default=DECODE_TIMEOUT,
                   help=f"seconds without decoding progress before a video is abandoned (default {DECODE_TIMEOUT:g})")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Extract the dataset into the store; 1 when no video could be processed, EXIT_SOME_FAILED
    when some failed (unless --allow-partial)."""
    from ..scale.extract import extract_dataset

    limits = Limits(max_pixels=args.max_pixels, max_frames=args.max_frames, max_duration=args.max_duration)
    dataset = dataset_from_args(args, args.dataset)
    summary = extract_dataset(
        dataset.items, args.store, spec_from_args(args), device=args.device,
        batch_size=args.batch_size, retry_failed=args.retry_failed, progress=not args.quiet,
        limits=limits, decode_timeout=args.decode_timeout, engine=args.engine, address=args.address, actors=args.actors,
        segments=args.segments if args.segments is not None else dataset.segments,
    )
    print(summary.line())
    if summary.store_done == 0:
        print(f"smartframes: error: {args.store}: no video could be processed", file=sys.stderr)
        return 1
    if summary.store_failed and not args.allow_partial:
        print(f"smartframes: error: {args.store}: {summary.store_failed} videos failed (--retry-failed tries them "
              f"again); exit status {EXIT_SOME_FAILED}, or 0 with --allow-partial", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0
