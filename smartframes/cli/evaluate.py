"""``smartframes evaluate``: SMART beside the training-free methods, uniform, random, all frames and
the oracle, at every budget."""

from __future__ import annotations

import argparse

from ..errors import SmartframesError
from .args import add_command, add_segments_arg, budgets, class_list, keep_segments, output_file, positive

EXAMPLES = [
    "smartframes evaluate --store store --selector ckpt --budgets 1,2,4,8",
    "smartframes evaluate --store store --selector ckpt --json results.json",
    "smartframes evaluate --store store --selector other-ckpt --recogniser ckpt",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``evaluate`` and its options."""
    p = add_command(subparsers, common, "evaluate", EXAMPLES,
                    help="compare SMART with the training-free methods, uniform/random/all-frames and the oracle",
                    description="Score the store's test split with every method at every budget: accuracy, "
                    "GFLOPs and milliseconds per video, selection precision where ground truth exists.")
    add_segments_arg(p, "kept in the store; precision and recall of every selection are scored against them")
    p.add_argument("--store", required=True)
    p.add_argument("--selector", required=True, help="checkpoint directory: its selector scores the frames (and its "
                   "head classifies them unless --recogniser is given)")
    p.add_argument("--recogniser", default=None, metavar="CKPT",
                   help="checkpoint trained on this store whose head classifies the chosen frames: evaluates a "
                   "selector trained elsewhere (other classes, other data) against this store's own recogniser")
    p.add_argument("--classes", default=None, metavar="FILE",
                   help="evaluate the videos of the classes named in FILE (one per line) only")
    p.add_argument("--budgets", type=budgets, default=(4, 8, 16), help="frame budgets n (default 4,8,16)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--json", default=None, help="write the results as JSON")
    p.add_argument("--probs-dir", default=None, metavar="DIR",
                   help="score with your own expensive model: DIR/<video name>.npy of per-frame class probabilities "
                   "or logits, shape (frames, classes), classes in sorted order")
    p.add_argument("--expensive-gflops", type=positive(float), default=None, metavar="G",
                   help="with --probs-dir: your model's GFLOPs per frame, for the cost columns")
    p.add_argument("--ablation", action="store_true",
                   help="also train and evaluate the paper's Table 1 variants (VF, VF+GloVe, SFS only, GS only, "
                   "SFS+GS, 2-frame input) at the first budget; about half a minute per variant on the demo")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Evaluate every method on the store's split; print the table and, with --json, write it."""
    from ..evaluation.ablation import ablation, format_ablation
    from ..evaluation.evaluate import evaluate, format_table, write_json
    from ..selection.checkpoint import load_checkpoint

    if args.expensive_gflops is not None and args.probs_dir is None:
        raise SmartframesError("--expensive-gflops goes with --probs-dir (the checkpoint's own head is counted)")
    output_file(args.json)
    keep_segments(args)
    report = evaluate(args.store, args.selector, args.budgets, split=args.split, probs_dir=args.probs_dir,
                      expensive_gflops=args.expensive_gflops, recogniser=args.recogniser,
                      classes=class_list(args.classes))
    print(format_table(report))
    results = report.to_dict()
    if args.ablation:
        table = ablation(args.store, args.budgets[0], default=load_checkpoint(args.selector), split=args.split,
                         probs_dir=args.probs_dir, expensive_gflops=args.expensive_gflops, progress=True)
        print(format_ablation(table))
        results["ablation"] = table.to_dict()
    if args.json:
        write_json(results, args.json)
        print(f"json: {args.json}")
    return 0
