"""``smartframes report``: one self-contained HTML report of a store and a checkpoint."""

from __future__ import annotations

import argparse

from .args import add_command, add_segments_arg, budgets, keep_segments, output_file

EXAMPLES = [
    "smartframes report --store store --selector ckpt --out report.html",
    "smartframes report --store store --selector ckpt --budgets 4,8 --out r.html",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``report`` and its options."""
    p = add_command(subparsers, common, "report", EXAMPLES,
                    help="write one self-contained HTML report (table, figures, frame strips)")
    add_segments_arg(p, "kept in the store; drawn under the frame strips")
    p.add_argument("--store", required=True)
    p.add_argument("--selector", required=True, help="checkpoint directory")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--budgets", type=budgets, default=(1, 2, 4, 8), help="frame budgets n (default 1,2,4,8)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Write the report to ``args.out``."""
    from ..evaluation.report import build_report

    output_file(args.out)
    keep_segments(args)
    path = build_report(args.store, args.selector, args.out, args.budgets)
    print(f"report: {path}")
    return 0
