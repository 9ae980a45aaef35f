"""The generic SMART selector shipped in the package: trained once on real UCF101 clips, kept as a
selector-only checkpoint (no recogniser) whose frame score does not depend on the class set, so
``smartframes select VIDEO --method smart`` works on a fresh install, on any classes.

Rebuilt bit for bit by ``make pretrained`` (:mod:`smartframes.scale.pretrained`): extract the
clips at the default feature spec, train with the settings below, keep the selector.
"""

from __future__ import annotations

from pathlib import Path

from .checkpoint import Checkpoint, load_checkpoint
from .config import SelectorConfig, TrainConfig

GENERIC_DIR = Path(__file__).resolve().parent.parent / "pretrained" / "generic"
GENERIC_TRAINING = TrainConfig(seed=0)
GENERIC_SELECTOR = SelectorConfig()


def load_generic() -> Checkpoint:
    """The shipped selector-only checkpoint.

    Raises:
        CheckpointError: the package was installed without it (rebuild with ``make pretrained``).
    """
    return load_checkpoint(GENERIC_DIR)
