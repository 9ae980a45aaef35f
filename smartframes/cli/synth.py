"""``smartframes synth``: the built-in benchmark, procedural videos with labels and ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.synth import SynthConfig
from .args import add_command

EXAMPLES = [
    "smartframes synth benchmark",
    "smartframes synth benchmark --classes 6 --per-class 20 --seed 1",
    "smartframes synth hard --distractor-rate 0.5 --window 0.1,0.2",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``synth`` and its options."""
    d = SynthConfig()
    p = add_command(
        subparsers, common, "synth", EXAMPLES, help="generate the built-in benchmark (videos + labels.csv + ground truth)",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the description unwrapped, as it always was
        description="Write procedural action videos where the choice of frames matters: the class is "
        "visible only inside an action window; idle frames outside it look alike across classes; "
        "distractor frames (blur, noise, occlusion, black, flash, cut-away) fall anywhere. Static "
        "classes show one object; temporal pairs share an object and differ in the first or second "
        "half of the window. Difficulty knobs: --distractor-rate (more distractors = fewer useful "
        "frames) and --window (shorter windows = fewer useful frames).")
    p.add_argument("out", help="output directory")
    p.add_argument("--classes", type=int, default=d.classes, help=f"number of classes (default {d.classes}, at most 12)")
    p.add_argument("--per-class", type=int, default=d.per_class, help=f"videos per class (default {d.per_class}; split 50/10/40 train/val/test)")
    p.add_argument("--frames", type=int, default=d.frames, help=f"frames per video (default {d.frames})")
    p.add_argument("--size", type=int, default=d.size, help=f"frame width and height in pixels (default {d.size})")
    p.add_argument("--fps", type=float, default=d.fps, help=f"frame rate (default {d.fps:g})")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed; the same seed writes the same videos")
    p.add_argument("--window", type=_window, default=(d.window_min, d.window_max), metavar="MIN,MAX",
                   help=f"action window length as fractions of the video (default {d.window_min},{d.window_max})")
    p.add_argument("--distractor-rate", type=float, default=d.distractor_rate,
                   help=f"fraction of frames replaced by distractors (default {d.distractor_rate})")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)
    return p


def _window(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX fractions such as 0.2,0.5, got {text!r}") from None
    return lo, hi


def run(args) -> int:
    """Write the benchmark into ``args.out``."""
    from ..data.synth import synthesize

    cfg = SynthConfig(classes=args.classes, per_class=args.per_class, frames=args.frames, size=args.size,
                      fps=args.fps, seed=args.seed, window_min=args.window[0], window_max=args.window[1],
                      distractor_rate=args.distractor_rate)
    result = synthesize(args.out, cfg, workers=args.workers, progress=not args.quiet)
    print(f"{result['videos']} videos, {result['bytes'] / 1e6:.1f} MB in {result['seconds']:.1f} s -> "
          f"{Path(args.out) / 'labels.csv'}")
    return 0
