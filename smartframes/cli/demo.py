"""``smartframes demo``: the built-in benchmark end to end (:mod:`smartframes.scale.demo`), reusing
whatever a previous run left."""

from __future__ import annotations

import argparse

from .args import add_command, add_device_arg

EXAMPLES = [
    "smartframes demo",
    "smartframes demo --out demo --seed 1 --quiet",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``demo`` and its options."""
    p = add_command(subparsers, common, "demo", EXAMPLES, help="run the main job end to end on the built-in benchmark")
    p.add_argument("--out", default="smartframes-demo", help="output directory (default smartframes-demo)")
    p.add_argument("--seed", type=int, default=0, help="benchmark seed (default 0)")
    add_device_arg(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run the demo under ``args.out``; 1 when no video's features could be extracted."""
    from ..scale.demo import run_demo

    result = run_demo(args.out, seed=args.seed, device=args.device, progress=not args.quiet)
    return 0 if result["extract"].store_done else 1
