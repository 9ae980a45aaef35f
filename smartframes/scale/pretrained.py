"""Build the generic selector shipped in the package (``make pretrained``):

    python -m smartframes.scale.pretrained --labels ../shared/data/ucf101-9/labels.csv --work build/pretrained

Extracts the clips into ``WORK/store`` at the default feature spec (64 candidates a clip; resumable),
trains with :data:`smartframes.selection.pretrained.GENERIC_TRAINING`, and writes the selector
without its recogniser head to ``smartframes/pretrained/generic``. Training is deterministic on
the CPU, so the same clips give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import replace
from pathlib import Path

from ..selection.checkpoint import Checkpoint, save_checkpoint
from ..selection.pretrained import GENERIC_DIR, GENERIC_SELECTOR, GENERIC_TRAINING
from ..selection.train import train_selector
from ..spec import FeatureSpec
from .extract import extract_dataset


def build_generic(labels, work, out=GENERIC_DIR, *, progress: bool = True) -> Checkpoint:
    """Extract ``labels`` (a CSV of clips) into ``work/store`` at the default spec, train the
    selector with :data:`GENERIC_TRAINING` and :data:`GENERIC_SELECTOR`, and write it to ``out``
    without its recogniser head."""
    work = Path(work)
    summary = extract_dataset(labels, work / "store", replace(FeatureSpec(), max_candidates=64), progress=progress)
    print(f"extract: {summary.line()}")
    ckpt, _ = train_selector(work / "store", None, GENERIC_TRAINING, GENERIC_SELECTOR, progress=progress)
    where = Path(labels).resolve()
    generic = replace(ckpt, head=None, meta={**ckpt.meta, "trained_on": f"{where.parent.name}/{where.name}", "seconds": None})
    save_checkpoint(out, generic)
    return generic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartframes.scale.pretrained", description=__doc__.splitlines()[0])
    parser.add_argument("--labels", required=True, help="CSV path,label,split of the training clips")
    parser.add_argument("--work", required=True, help="folder for the feature store")
    parser.add_argument("--out", default=str(GENERIC_DIR))
    args = parser.parse_args(argv)
    began = time.perf_counter()
    build_generic(args.labels, args.work, args.out)
    digest = hashlib.sha256((Path(args.out) / "model.safetensors").read_bytes()).hexdigest()
    print(f"generic selector: {args.out} (model.safetensors sha256 {digest[:16]}...), {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
