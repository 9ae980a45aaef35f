"""What a selector is and how it is trained, torch-free: the dataclass configurations stored in
every checkpoint (:class:`SelectorConfig`, :class:`HeadConfig`, :class:`TrainConfig`), readable
and checkable without importing the networks (the command line declares its options from them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import SmartframesError


EVIDENCE_SCORES = ("class", "energy")  # readings of the frame evidence (SelectorConfig.evidence_score)


@dataclass(frozen=True)
class SelectorConfig:
    """Dimensions and switches of a SMART selector (stored in its checkpoint)."""

    in_dim: int = 1330  # D: light feature width (visual + GloVe)
    num_classes: int = 10  # C
    sfs_hidden: int = 256
    embed_dim: int = 128  # E: per-frame embedding inside the global selector
    lstm_hidden: int = 128  # H
    classifier_hidden: int = 128
    pairs: bool = True  # Z_i = [X_i : X_r]; False gives the single-frame input ablation
    use_sfs: bool = True  # score uses delta (single-frame selector)
    use_gs: bool = True  # score uses gamma (global selector)
    use_glove: bool = True  # False drops the last 50 (GloVe) columns: the "VF only" ablation
    glove_dim: int = 50
    gamma_from_frame: bool = True  # Eq. 5 on frame t's beta_t Z_t; False: on omega_t, as printed
    pick: str = "top"  # scores -> n frames: "top" (the n best) or "segments" (the best of each of n segments)
    dropout: float = 0.0  # on the single-frame selector's hidden layer and the global selector's embedding, in training
    # score also weighs each frame by the frame evidence of the light classifier of the classes; training
    # turns it off where no annotation keeps the action apart from the rest (--annotations ignore, or none)
    use_evidence: bool = True
    # what the evidence reads from that classifier: "class", its largest class probability (the only
    # reading before 0.5.3), or "energy", how strongly the frame shows any of the classes (sigmoid of
    # the log-sum-exp of its logits); training chooses (TrainConfig.evidence_score)
    evidence_score: str = "class"
    # s = delta * gamma * e ** evidence_power: how far the score leans on the frame evidence (training
    # chooses it on val, train.EVIDENCE_POWERS; 1 in checkpoints written before it existed)
    evidence_power: float = 1.0

    def __post_init__(self):
        if not (self.use_sfs or self.use_gs):
            raise SmartframesError("a selector needs delta or gamma: --sfs-only and --gs-only exclude each other")
        if self.pick not in ("top", "segments"):
            raise SmartframesError(f"pick must be 'top' or 'segments', got {self.pick!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise SmartframesError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.evidence_power > 0:
            raise SmartframesError(f"evidence_power must be > 0, got {self.evidence_power}")
        if self.evidence_score not in EVIDENCE_SCORES:
            raise SmartframesError(f"evidence_score must be one of {', '.join(EVIDENCE_SCORES)}, got {self.evidence_score!r}")

    def as_printed(self) -> "SelectorConfig":
        """This selector with the global selector as the paper prints it: Eq. 5 on the running sum
        omega_t (train it with :meth:`TrainConfig.as_printed`, by Eq. 7 alone)."""
        return replace(self, gamma_from_frame=False)


@dataclass(frozen=True)
class HeadConfig:
    """Dimensions and training of the expensive classifier's head, and how its per-frame
    probabilities become a video's (stored in its checkpoint)."""

    in_dim: int = 1280
    num_classes: int = 10
    hidden: int = 0  # 0: linear head; otherwise one hidden ReLU layer of this width
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    # a video's prediction from n frames: the mean over the ceil(n / pooling) of them with the largest
    # class probability; 1 is the mean over all n (the paper's); training chooses it on val (train.POOLINGS)
    pooling: int = 1

    def __post_init__(self):
        if self.pooling < 1:
            raise SmartframesError(f"pooling must be >= 1, got {self.pooling}")


DEFAULT_LR = {"adam": 1e-3, "sgd": 1e-4}
"""The learning rate ``lr=None`` means for each optimizer (sgd's is the paper's)."""
TARGETS = ("probability", "rank")
"""What delta and gamma regress onto per frame (train.TARGET_TRANSFORMS computes them)."""
ANNOTATIONS = ("auto", "ignore", "head", "target")
"""How training uses temporal annotations where the store has them: ``head`` trains the expensive head
(and the heads that make the oracle targets) on the class inside the action and on an even spread
over the classes outside it (:data:`~smartframes.selection.head.BACKGROUND`); ``target`` does that
and also puts every frame inside the action above every frame outside it in the selector's target;
``ignore`` uses neither (every frame of a video labelled with its class); ``auto`` is ``target``
where the footage outside the annotated actions of val does not name the class, ``ignore`` where it
does (:func:`smartframes.selection.train.choose_annotations`): frames outside an annotated action may
be filler to ignore (long videos) or context that names the class (the court around a basketball
shot)."""
LOSSES = ("mse", "listnet")
"""How delta and gamma learn the targets: mean squared error per frame, or ListNet ranking within the video."""


@dataclass(frozen=True)
class TrainConfig:
    """How the selector is trained (stored in the checkpoint)."""

    epochs: int = 60
    batch_size: int = 16
    optimizer: str = "adam"  # "adam" or "sgd" (the paper's: momentum 0.9, lr 1e-4)
    lr: float | None = None  # None: the optimizer's default, 1e-3 for adam and 1e-4 for sgd (the paper's)
    momentum: float = 0.9
    lr_step: int = 25  # divide the learning rate by 10 every lr_step epochs (paper)
    theta2_penalty: float = 1e-3  # epsilon of Eq. 7
    gamma_target: float = 1.0  # weight of gamma's MSE to the oracle targets; 0 trains GS by Eq. 7 alone
    # what delta and gamma regress onto per frame: the oracle p(true class | frame)'s "rank" within the
    # video (chosen on ucf101-9's val: rank correlation with the oracle 0.14-0.18 against -0.01-0.03
    # for the "probability" itself; README, "Results on real UCF101")
    target: str = "rank"
    smooth: int = 1  # average the oracle targets over this many neighbouring candidates first (1: as they are)
    loss: str = "mse"  # how delta and gamma learn the targets: "mse" per frame, or "listnet" ranking within the video
    weight_decay: float = 0.0
    # which epoch to keep: "best" by validation accuracy at val_budget (which makes val figures of
    # the kept selector optimistic), or "last", which leaves val an unbiased estimate
    keep: str = "best"
    val_budget: int = 4  # n used for picking the epoch by validation accuracy
    folds: int = 5  # cross-fitting folds for the oracle targets
    annotations: str = "auto"  # how temporal annotations are used where the store has them (ANNOTATIONS)
    evidence_c: float = 0.01  # inverse L2 strength of the frame-evidence classifier (scikit-learn's C)
    # the frame evidence's reading (EVIDENCE_SCORES), or "auto": the one whose picks fall inside the
    # annotated actions of val most often ("class" on a tie, or without annotated val videos)
    evidence_score: str = "auto"
    seed: int = 0

    def __post_init__(self):
        if self.optimizer not in DEFAULT_LR:
            raise SmartframesError(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(DEFAULT_LR)}")
        if self.lr is None:
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])
        if self.target not in TARGETS:
            raise SmartframesError(f"unknown target {self.target!r}; choose from {', '.join(TARGETS)}")
        if self.keep not in ("best", "last"):
            raise SmartframesError(f"keep must be 'best' or 'last', got {self.keep!r}")
        if self.annotations not in ANNOTATIONS:
            raise SmartframesError(f"unknown annotations use {self.annotations!r}; choose from {', '.join(ANNOTATIONS)}")
        if self.loss not in LOSSES:
            raise SmartframesError(f"unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        if not self.evidence_c > 0:
            raise SmartframesError(f"evidence_c must be > 0, got {self.evidence_c}")
        if self.evidence_score not in ("auto", *EVIDENCE_SCORES):
            raise SmartframesError(f"evidence_score must be one of auto, {', '.join(EVIDENCE_SCORES)}, got {self.evidence_score!r}")
        for name in ("epochs", "batch_size", "val_budget", "folds", "smooth"):
            if getattr(self, name) < 1:
                raise SmartframesError(f"{name} must be >= 1, got {getattr(self, name)}")

    def as_printed(self) -> "TrainConfig":
        """These settings with the global selector trained as the paper prints it: by Eq. 7 alone,
        gamma not regressed onto the oracle (pair with :meth:`SelectorConfig.as_printed`)."""
        return replace(self, gamma_target=0.0)
