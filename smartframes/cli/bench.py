"""``smartframes bench``: per-stage speed and the end-to-end cost of one video, on a generated clip
and on a real one (:mod:`smartframes.evaluation.bench` times them)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from ..errors import SmartframesError
from .args import add_batch_size_arg, add_command, add_device_arg, add_spec_args, output_file, positive, spec_from_args

EXAMPLES = [
    "smartframes bench",
    "smartframes bench --video clip.mp4 --json bench.json",
    "smartframes bench --size 640x480 --repeats 3 --no-cold-start",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``bench`` and its options."""
    p = add_command(subparsers, common, "bench", EXAMPLES, help="time each stage and one video end to end, every method",
                    description="On a generated clip and a real one: decode frames/s, the candidate pass, light "
                    "features frames/s, the expensive classifier on n frames, selector ms on 300 candidates, "
                    "model load, seconds per video for all frames, uniform-n, SMART-n and each training-free "
                    "method, with the ratios, and the cold start of `select`. 64 candidates a video unless "
                    "--max-candidates says otherwise.")
    add_device_arg(p)
    p.add_argument("--size", type=_frame_size, default=(320, 240), metavar="WxH", help="clip size (default 320x240)")
    p.add_argument("--frames", type=positive(int), default=175, help="clip length (default 175: 7 s at 25 fps)")
    p.add_argument("--fps", type=positive(float), default=25.0)
    p.add_argument("-n", type=positive(int), default=8, help="frames for uniform and SMART (default 8)")
    p.add_argument("--video", default=None,
                   help="a real clip to time as well (default: a 7 s UCF101 clip of ../shared/data/ucf101-9 when "
                   "the checkout has one beside it)")
    p.add_argument("--repeats", type=positive(int), default=5, help="timed runs per figure (default 5)")
    add_batch_size_arg(p)
    p.add_argument("--no-cold-start", action="store_true", help="skip timing `smartframes select` in fresh processes")
    p.add_argument("--json", default=None, help="also write every figure as JSON")
    add_spec_args(p)
    p.set_defaults(func=run)
    return p


def _frame_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, got {text!r}") from None
    if w < 32 or h < 32 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even and at least 32, got {text!r}")
    return w, h


def run(args) -> int:
    """Run the bench the options describe, print its tables and, with --json, write its figures."""
    from ..evaluation.bench import BENCH_CANDIDATES, REAL_CLIP, BenchConfig, format_bench, run_bench
    from ..io.files import write_atomically
    from ..io.video import probe

    if args.no_expensive:
        raise SmartframesError("bench times the expensive backbone too; leave out --no-expensive")
    video = args.video if args.video is not None else (str(REAL_CLIP) if REAL_CLIP.is_file() else None)
    if video is not None:
        probe(video)  # a bad file is refused before any timing
    cfg = BenchConfig(width=args.size[0], height=args.size[1], frames=args.frames, fps=args.fps, n=args.n,
                      video=video, repeats=args.repeats, batch_size=args.batch_size, device=args.device,
                      spec=replace(spec_from_args(args), max_candidates=args.max_candidates or BENCH_CANDIDATES),
                      cold_start=not args.no_cold_start)
    output_file(args.json)
    result = run_bench(cfg)
    print(format_bench(result))
    if args.json:
        write_atomically(args.json, json.dumps(result, indent=2))
        print(f"json: {args.json}")
    return 0
