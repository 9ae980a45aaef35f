"""``smartframes train``: the expensive head and the SMART selector, trained on a store."""

from __future__ import annotations

import argparse

from ..selection.config import ANNOTATIONS, EVIDENCE_SCORES, SelectorConfig, TrainConfig
from .args import add_command, class_list, output_folder, positive

EXAMPLES = [
    "smartframes train --store store --out ckpt",
    "smartframes train --store store --out ckpt --classes classes.txt",
    "smartframes train --store trimmed-store untrimmed-store --out ckpt",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``train`` and its options."""
    t = TrainConfig()
    p = add_command(subparsers, common, "train", EXAMPLES,
                    help="train the expensive head and the SMART selector on a store",
                    description="Train the expensive classifier head (with cross-fitted oracle targets), the "
                    "single-frame selector and the global selector on the store's train split; keep the "
                    "epoch with the best validation accuracy; write a checkpoint directory.")
    p.add_argument("--store", required=True, nargs="+",
                   help="feature store made by `smartframes extract`; several train as one set (their features "
                   "must be of one spec; their candidate frames may differ)")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--epochs", type=int, default=t.epochs, help=f"default {t.epochs}")
    p.add_argument("--batch-size", type=positive(int), default=t.batch_size, help=f"videos per step (default {t.batch_size})")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default=t.optimizer,
                   help="adam (default) or sgd (the paper's: momentum 0.9, lr 1e-4, /10 every 25 epochs)")
    p.add_argument("--lr", type=float, default=None, help=f"learning rate (default {t.lr} for adam, 1e-4 for sgd)")
    p.add_argument("--val-budget", type=int, default=t.val_budget, help=f"n for picking the epoch (default {t.val_budget})")
    p.add_argument("--seed", type=int, default=t.seed)
    p.add_argument("--head-hidden", type=int, default=0,
                   help="expensive head: 0 for linear (default), else one hidden layer of this width")
    p.add_argument("--classes", default=None, metavar="FILE",
                   help="train on the videos of the classes named in FILE (one per line) only")
    p.add_argument("--oracle-dir", default=None,
                   help="oracle targets from your own model: DIR/<video name>.npy, per-frame class "
                   "probabilities (or logits) of shape (frames, classes), classes in sorted order")
    p.add_argument("--target", choices=("probability", "rank"), default=t.target,
                   help=f"what delta and gamma learn per frame: the oracle p(true class | frame), or its "
                   f"rank within the video (default {t.target})")
    p.add_argument("--annotations", choices=ANNOTATIONS, default=t.annotations,
                   help="where the store has temporal annotations (extract --segments): 'head' trains the expensive "
                   "head on the frames inside the action only, 'target' also ranks every frame inside the action above "
                   f"every frame outside in the selector's target, 'ignore' uses neither, 'auto' takes 'target' where "
                   f"the footage around the annotated actions of val does not name the class, 'ignore' where it "
                   f"does (default {t.annotations})")
    p.add_argument("--pick", choices=("top", "segments"), default=SelectorConfig().pick,
                   help="scores -> n frames: the n best anywhere (default), or the best of each of n equal segments")
    p.add_argument("--sfs-only", action="store_true", help="ablation: score with delta alone")
    p.add_argument("--gs-only", action="store_true", help="ablation: score with gamma alone")
    p.add_argument("--no-pairs", action="store_true", help="ablation: single-frame input to the global selector")
    p.add_argument("--no-glove", action="store_true", help="ablation: visual features only")
    p.add_argument("--no-evidence", action="store_true",
                   help="ablation: score by delta and gamma alone, without the frame evidence of the classes")
    p.add_argument("--evidence-score", choices=("auto", *EVIDENCE_SCORES), default=t.evidence_score,
                   help="what the frame evidence reads from the light classifier of the classes: 'class', its largest class "
                   "probability, 'energy', how strongly a frame shows any class (sigmoid of the log-sum-exp of the logits), "
                   f"or 'auto', the one whose picks fall inside the annotated actions of val most often (default {t.evidence_score})")
    p.add_argument("--gamma-as-printed", action="store_true",
                   help="the global selector exactly as the paper prints it: Eq. 5 on the running sum omega_t and "
                   "trained by Eq. 7 alone (default: Eq. 5 on frame t, gamma also regressed onto the oracle)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Train on ``args.store`` (one store or several) and write the checkpoint to ``args.out``."""
    from ..selection.config import HeadConfig
    from ..selection.train import train_selector

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                      val_budget=args.val_budget, seed=args.seed, target=args.target, annotations=args.annotations,
                      evidence_score=args.evidence_score)
    sel = SelectorConfig(pairs=not args.no_pairs, use_sfs=not args.gs_only, use_gs=not args.sfs_only,
                         use_glove=not args.no_glove, pick=args.pick, use_evidence=not args.no_evidence)
    if args.gamma_as_printed:
        sel, cfg = sel.as_printed(), cfg.as_printed()
    output_folder(args.out)
    train_selector(args.store, args.out, cfg, sel, HeadConfig(hidden=args.head_hidden), oracle_dir=args.oracle_dir,
                   classes=class_list(args.classes), progress=not args.quiet)
    print(f"checkpoint: {args.out}")
    return 0
