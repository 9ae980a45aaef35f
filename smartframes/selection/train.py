"""Training: the expensive head (with cross-fitted oracle targets), then SFS and GS together.

The epoch kept is the one with the best validation accuracy of the whole pipeline: select the
top-n frames by s = delta * gamma (times the frame evidence e, fitted first, where annotations keep
the action apart from the rest), average the head's probabilities over them, compare with the label.
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..version import __version__
from ..errors import SmartframesError
from ..features.store import FeatureStore
from ..data.segments import inside_segments
from .checkpoint import Checkpoint, save_checkpoint
from .config import EVIDENCE_SCORES, HeadConfig, SelectorConfig, TrainConfig
from .head import cross_fit_oracle, frame_labels, train_head
from .methods import pick
from .networks import SmartSelector, pair_partners
from .recogniser import frame_probabilities
from .scoring import VideoData, collate, load_frame_probabilities, load_videos, score_videos, video_prediction

def within_video_rank(p: np.ndarray) -> np.ndarray:
    """A video's per-frame oracle probabilities (T,) as ranks scaled to [0, 1] (ties share their
    mean rank): what selection needs is the order of a video's frames, not how easy the video is."""
    from scipy.stats import rankdata  # here, not at the top: scipy.stats alone takes a second to import

    if len(p) < 2:
        return np.ones_like(p, dtype=np.float32)
    return ((rankdata(p) - 1) / (len(p) - 1)).astype(np.float32)


TARGET_TRANSFORMS = {"probability": lambda p: p, "rank": within_video_rank}  # keys: config.TARGETS


def choose_annotations(train_emb: list[np.ndarray], train_labels: list[int], inside: list[np.ndarray | None],
                       val_emb: list[np.ndarray], val_labels: list[int], val_inside: list[np.ndarray | None],
                       head_cfg: HeadConfig, seed: int = 0) -> tuple[str, dict[str, float]]:
    """``"target"`` or ``"ignore"`` for :attr:`TrainConfig.annotations` ``"auto"``: does the footage
    outside an annotated action name the video's class (context: ``"ignore"``) or not (filler:
    ``"target"``)? A head trained on every training frame, labelled with its video's class, reads
    the frames of the annotated val videos (``val_inside``: per val video a bool mask, or None):
    ``"target"`` where it names the class outside the action less than half as often as inside.
    Frames, not videos, decide: on a few dozen val videos a count of videos right turns on one of
    them. Without annotated val videos, the head on the actions (``inside``) and the head on every
    frame are compared by the val videos each gets right, every frame pooled (ties go to
    ``"target"``). Returns the choice and the figures it was made on."""
    x = np.concatenate(train_emb)

    def head_on(masks):
        y = np.concatenate([frame_labels(label, m, len(e)) for label, m, e in zip(train_labels, masks, train_emb)])
        return train_head(x, y, head_cfg, seed)

    every = head_on([None] * len(train_emb))
    if any(m is not None for m in val_inside):
        right_in, right_out = [], []
        for e, label, m in zip(val_emb, val_labels, val_inside):
            if m is not None:
                right = every.probabilities(e).argmax(1) == label
                right_in.append(right[m])
                right_out.append(right[~m])
        named = {"inside": float(np.concatenate(right_in).mean()), "outside": float(np.concatenate(right_out).mean())}
        return ("target" if named["outside"] < 0.5 * named["inside"] else "ignore"), named
    accuracy = {name: float(np.mean([head.probabilities(e).mean(0).argmax() == label for e, label in zip(val_emb, val_labels)]))
                for name, head in (("target", head_on(inside)), ("ignore", every))}
    return ("target" if accuracy["target"] >= accuracy["ignore"] else "ignore"), accuracy


def _inside(video: VideoData, classes: list[str]) -> np.ndarray | None:
    """Bool (T,): the video's candidates inside its action; None where it has no annotated action."""
    if not video.segments:
        return None
    m = inside_segments(video.times, video.segments, classes[video.label])
    return m if m.any() else None


def annotated_target(p: np.ndarray, inside: np.ndarray, target: str) -> np.ndarray:
    """The selector's target (T,) for a video whose action frames are ``inside`` (bool (T,)): the
    oracle ``p`` ordered within the action and within the rest, the action first (``rank``), or
    ``p`` outside the action set to 0 (``probability``)."""
    if target == "rank":
        return within_video_rank(p + 2.0 * inside)  # p <= 1: every inside frame outranks every outside one
    return (p * inside).astype(np.float32)


LISTNET_TEMPERATURE = 0.1
"""How sharply the ListNet loss's target distribution over a video's frames follows the targets
(in [0, 1]): at 0.1 the best frame of a video weighs e^10 times the worst."""


def smooth_in_time(p: np.ndarray, window: int) -> np.ndarray:
    """A video's per-frame targets (T,) averaged over ``window`` neighbouring candidates (edges
    use the frames they have): one frame's oracle probability is noisy, its neighbourhood is what
    the light features can see."""
    if window <= 1 or len(p) < 2:
        return p
    kernel = np.ones(window)
    return (np.convolve(p, kernel, "same") / np.convolve(np.ones_like(p), kernel, "same")).astype(p.dtype)


def listnet_loss(score: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """ListNet (top-one) ranking loss within each video: cross-entropy between the softmax of the
    targets / :data:`LISTNET_TEMPERATURE` and the softmax of the score's logits over the video's
    real frames. score, target in [0, 1], mask: (B, T) -> scalar."""
    logits = torch.logit(score.clamp(1e-6, 1 - 1e-6)).masked_fill(~mask, float("-inf"))  # (B, T)
    want = torch.softmax((target / LISTNET_TEMPERATURE).masked_fill(~mask, float("-inf")), dim=1)  # (B, T)
    return -(want * torch.log_softmax(logits, dim=1).masked_fill(~mask, 0.0)).sum(1).mean()


@torch.no_grad()
def fit_evidence(selector: SmartSelector, x: np.ndarray, labels: np.ndarray, c: float = 0.01) -> None:
    """Fit the selector's frame-evidence classifier (multinomial logistic regression, L2 with inverse
    strength ``c``) to light features x (N, D) of frames showing the classes ``labels`` (N,),
    standardised as the selector standardises them; classes without frames get no probability.
    Every bias is then shifted by one amount (class probabilities unchanged) so that the median of
    those frames' log-sum-exp of logits is 0: their ``energy`` evidence is 0.5 there."""
    z = selector.prepare(torch.from_numpy(x)[None], torch.ones(1, len(x), dtype=torch.bool))[0].numpy()  # (N, D)
    C = selector.cfg.num_classes
    weight, bias = np.zeros((C, z.shape[1]), np.float32), np.full(C, -30.0, np.float32)
    present = np.unique(labels)
    if len(present) < 2:  # nothing to tell apart: an even evidence over the classes there are
        bias[present] = 0.0
    else:
        from sklearn.exceptions import ConvergenceWarning  # 1.3 s to import: only where evidence is fitted
        from sklearn.linear_model import LogisticRegression

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(C=c, max_iter=1000).fit(z, labels)
        coef, intercept = clf.coef_, clf.intercept_
        if len(present) == 2:  # one row for two classes, split evenly: softmax([-(w.z + b) / 2, (w.z + b) / 2])
            # is its sigmoid, and neither logit is pinned at 0 (the energy reads both; L2 balances C > 2 rows alike)
            coef, intercept = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
        weight[clf.classes_], bias[clf.classes_] = coef, intercept
    logits = z @ weight.T + bias  # (N, C)
    bias -= np.median(np.logaddexp.reduce(logits, axis=1)).astype(np.float32)
    selector.evidence.weight.copy_(torch.from_numpy(weight))
    selector.evidence.bias.copy_(torch.from_numpy(bias))


def validation_figures(selector: SmartSelector, videos: list[VideoData], n: int,
                       precision_name: str = "float32") -> tuple[float, float]:
    """(accuracy, selector loss) on held-out videos.

    Accuracy: predict from the top-n frames by selector score, pooling the head's probabilities.
    Loss: mean squared error of delta and gamma against the head's p(true class | frame), which
    breaks ties between epochs of equal accuracy (a few dozen validation videos give coarse steps).
    """
    scores = score_videos(selector, videos, precision_name=precision_name)
    right, loss = [], []
    for v, (s, delta, gamma) in zip(videos, scores):
        right.append(int(video_prediction(v.probs, pick(s, n, selector.cfg.pick)).argmax() == v.label))
        target = v.probs[:, v.label]
        loss.append(float(np.mean((delta - target) ** 2) + np.mean((gamma - target) ** 2)))
    return (float(np.mean(right)), float(np.mean(loss))) if right else (0.0, float("inf"))


EVIDENCE_POWERS = (1.0, 0.5, 2.0, 4.0, 8.0)
"""Exponents k of the frame evidence in s = delta * gamma * e ** k that training tries on val (1, the
score before k existed, first: it is kept unless another is strictly better). A larger k trusts the
evidence more against delta and gamma, which, trained against one kind of filler, rate footage
unlike it about as high as the action (docs/results.md, "Results on untrimmed footage")."""


def choose_evidence_power(selector: SmartSelector, videos: list[VideoData], budgets: tuple[int, ...],
                          precision_name: str = "float32") -> dict[float, float]:
    """Set the selector's ``evidence_power`` to the :data:`EVIDENCE_POWERS` value whose mean
    accuracy over ``budgets`` on ``videos`` (val) is highest; returns that accuracy for each value."""
    accuracy = {}
    for k in EVIDENCE_POWERS:
        selector.cfg = replace(selector.cfg, evidence_power=k)
        accuracy[k] = float(np.mean([validation_figures(selector, videos, n, precision_name)[0] for n in budgets]))
    selector.cfg = replace(selector.cfg, evidence_power=first_best(EVIDENCE_POWERS, accuracy))
    return accuracy


def choose_evidence_score(selector: SmartSelector, videos: list[VideoData], inside: list[np.ndarray | None],
                          budgets: tuple[int, ...], precision_name: str = "float32") -> dict[str, float]:
    """Set the selector's ``evidence_score`` to the :data:`~.config.EVIDENCE_SCORES` reading whose
    picks fall inside the annotated actions most often: the share of the top-n frames inside
    (``inside``, per video a bool mask over its candidates or None), over ``budgets`` and the
    annotated ``videos`` (val). The first reading is kept unless another is strictly better.
    Precision, not accuracy, decides: it is what the evidence is for, and it counts frames, where a
    few dozen val videos give accuracy steps of several points. Returns each reading's precision."""
    precision = {}
    for reading in EVIDENCE_SCORES:
        selector.cfg = replace(selector.cfg, evidence_score=reading)
        scores = score_videos(selector, videos, precision_name=precision_name)
        precision[reading] = float(np.mean([m[pick(s, n, selector.cfg.pick)].mean() for n in budgets
                                            for (s, _, _), m in zip(scores, inside) if m is not None]))
    selector.cfg = replace(selector.cfg, evidence_score=first_best(EVIDENCE_SCORES, precision))
    return precision


def first_best(values: tuple, accuracy: dict) -> object:
    """The first of ``values`` unless a later one has a strictly higher ``accuracy``: what a
    setting chosen on val keeps on a tie."""
    best = values[0]
    for value in values[1:]:
        if accuracy[value] > accuracy[best]:
            best = value
    return best


POOLINGS = (1, 2, 4, 8)
"""Values of :attr:`HeadConfig.pooling` that training tries on val (1, the mean over the n frames,
first: it is kept unless another is strictly better). On long videos, where most chosen frames may
be footage of something else, the surest frames carry the prediction (docs/results.md, "Results on
untrimmed footage"); on trimmed clips every frame shows the action and the mean keeps them all."""


def choose_pooling(videos: list[VideoData], scores: list[tuple[np.ndarray, ...]], budgets: tuple[int, ...],
                   rule: str = "top") -> tuple[int, dict[int, float]]:
    """The :data:`POOLINGS` value whose mean val accuracy over ``budgets`` is highest, SMART choosing
    the frames by ``scores`` (per video: score, delta, gamma) and each video's ``probs`` (T, C) the
    recogniser's; returns it and the accuracy of each value."""
    accuracy = {}
    for pooling in POOLINGS:
        right = [video_prediction(v.probs, pick(s[0], n, rule), pooling).argmax() == v.label
                 for n in budgets for v, s in zip(videos, scores)]
        accuracy[pooling] = float(np.mean(right)) if right else 0.0
    return first_best(POOLINGS, accuracy), accuracy


def _optimizer(cfg: TrainConfig, params):
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def train_selector(
    store_dir,
    out=None,
    cfg: TrainConfig = TrainConfig(),
    selector_cfg: SelectorConfig | None = None,
    head_cfg: HeadConfig | None = None,
    *,
    oracle_dir=None,
    classes: list[str] | None = None,
    recogniser=None,
    progress: bool = True,
    log=print,
) -> tuple[Checkpoint, dict]:
    """Train head, SFS and GS on a store's train split; keep the best epoch on val.

    Args:
        store_dir: a feature store with expensive features and train/val videos, or several stores
            whose features differ in their candidate frames at most (trained on as one set).
        out: checkpoint directory to write (None: don't write).
        cfg: optimisation settings.
        selector_cfg: network switches and sizes (``in_dim``/``num_classes`` are filled in).
        head_cfg: expensive head settings (``in_dim``/``num_classes`` are filled in).
        oracle_dir: take the oracle targets from per-frame class probabilities computed by your
            own model instead of the cross-fitted head (see :func:`load_frame_probabilities`).
        classes: train on the videos of these classes only (default: every class in the store).
        recogniser: your own model (a :class:`~smartframes.selection.recogniser.Recogniser`):
            the oracle targets come from its probabilities on the decoded candidate frames
            instead of the cross-fitted head (it must know every class trained on).
        progress: progress bar over epochs.
        log: where one-line messages go.

    Returns:
        The checkpoint (also written to ``out``) and a history dict.
    """
    began = time.perf_counter()
    torch.manual_seed(cfg.seed)
    store_dirs = [store_dir] if isinstance(store_dir, (str, Path)) else list(store_dir)
    named = ", ".join(map(str, store_dirs))
    spec, present, stores = None, set(), []
    try:
        for where in store_dirs:
            stores.append(FeatureStore.open(where))
            finished, unfinished = stores[-1].freeze()
            if unfinished:
                log(f"{where}: still being extracted: training on the {finished} videos finished now "
                    f"({unfinished} not yet)")
            differ = [] if spec is None else spec.feature_diff(stores[-1].spec)
            if differ:
                raise SmartframesError(f"{where}: its features are not those of {store_dirs[0]} ({'; '.join(differ)}): "
                                       "stores trained on together may differ in their candidate frames only")
            spec = spec or stores[-1].spec
            present |= {r.label for r in stores[-1].records(status="done") if r.label is not None}
        if classes is not None and set(classes) - present:
            raise SmartframesError(f"{named}: no finished videos of {', '.join(sorted(set(classes) - present)[:5])}")
        classes = sorted(present if classes is None else set(classes))
        train, val = ([v for store in stores for v in load_videos(store, split, classes, keep=set(classes))]
                      for split in ("train", "val"))
    finally:
        for store in stores:
            store.close()
    if len(classes) < 2:
        raise SmartframesError(f"{named}: need at least 2 classes with finished videos, found {len(classes)}")
    if not train or not val:
        raise SmartframesError(f"{named}: need finished videos in both train and val splits "
                               f"(train {len(train)}, val {len(val)})")
    C = len(classes)
    head_cfg = HeadConfig(**{**asdict(head_cfg or HeadConfig()), "in_dim": spec.expensive_dim, "num_classes": C})
    selector_cfg = SelectorConfig(**{**asdict(selector_cfg or SelectorConfig()), "in_dim": spec.light_dim, "num_classes": C})

    # expensive head on every training frame (inside the action, where annotated); cross-fitted oracle
    # targets for the training videos
    inside = {v.id: _inside(v, classes) for v in train}
    val_inside = [_inside(v, classes) for v in val]
    inside = {k: m for k, m in inside.items() if m is not None}
    choice = ""
    if inside and cfg.annotations == "auto":
        chosen, figures = choose_annotations([v.emb for v in train], [v.label for v in train],
                                             [inside.get(v.id) for v in train], [v.emb for v in val],
                                             [v.label for v in val], val_inside, head_cfg,
                                             cfg.seed)
        if "outside" in figures:
            choice = (f"; --annotations auto chose {chosen} (frames of the annotated val videos a head on every "
                      f"frame names right: inside the action {figures['inside']:.3f}, outside {figures['outside']:.3f})")
        else:
            choice = (f"; --annotations auto chose {chosen} (no annotated val video; val videos right, all frames "
                      f"pooled: target {figures['target']:.3f}, ignore {figures['ignore']:.3f})")
        cfg = replace(cfg, annotations=chosen)
    annotated = inside if cfg.annotations != "ignore" else {}
    frames = [annotated.get(v.id, np.ones(len(v.emb), bool)) for v in train]
    head = train_head(np.concatenate([v.emb for v in train]),
                      np.concatenate([frame_labels(v.label, f, len(v.emb)) for v, f in zip(train, frames)]), head_cfg, cfg.seed)
    if oracle_dir is not None and recogniser is not None:
        raise SmartframesError("give oracle targets from per-frame files or from a recogniser, not both")
    if oracle_dir is not None:
        for v in train:
            v.target = load_frame_probabilities(oracle_dir, v, len(classes))[:, v.label]
    elif recogniser is not None:
        for v in tqdm(train, desc="recognise", unit="video", disable=not progress, dynamic_ncols=True):
            v.target = frame_probabilities(recogniser, v.path, v.indices, classes, seek=v.seek)[:, v.label]
    else:
        targets = cross_fit_oracle([v.emb for v in train], [v.label for v in train], head_cfg, cfg.folds, cfg.seed,
                                   frames=frames)
        for v, t in zip(train, targets):
            v.target = t
    for v in train:
        p = smooth_in_time(v.target, cfg.smooth)
        v.target = annotated_target(p, annotated[v.id], cfg.target) if cfg.annotations == "target" and v.id in annotated \
            else TARGET_TRANSFORMS[cfg.target](p)
    for v in train + val:
        v.probs = head.probabilities(v.emb)
    val_frame_acc = float(np.mean(np.concatenate([v.probs.argmax(1) == v.label for v in val])))
    log(f"expensive head: {len(train)} train videos"
        + (f" ({len(annotated)} annotated: head on their action, even outside it{', target ranks the action first' if cfg.annotations == 'target' else ''})" if annotated else "")
        + f", val frame accuracy {val_frame_acc:.3f}" + choice)

    # the frame evidence needs frames known to show no class (annotated videos, their outside kept
    # apart): fitted to every frame, it would learn the background as evidence of the classes
    if selector_cfg.use_evidence and not annotated:
        selector_cfg = replace(selector_cfg, use_evidence=False)
    if cfg.evidence_score != "auto":
        selector_cfg = replace(selector_cfg, evidence_score=cfg.evidence_score)
    selector = SmartSelector(selector_cfg)
    selector.set_input_statistics(torch.from_numpy(np.concatenate([v.x for v in train])))
    if selector.evidence is not None:  # on the frames inside the annotated actions, all of an unannotated video
        fit_evidence(selector, np.concatenate([v.x[f] for v, f in zip(train, frames)]),
                     np.concatenate([np.full(int(f.sum()), v.label) for v, f in zip(train, frames)]), cfg.evidence_c)
    opt = _optimizer(cfg, [p for p in selector.parameters() if p.requires_grad])
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.lr_step, gamma=0.1)
    gen = torch.Generator().manual_seed(cfg.seed)
    best, best_state, best_epoch, history = (-1.0, 0.0), None, 0, []
    bar = tqdm(range(cfg.epochs), desc="train", unit="epoch", disable=not progress, dynamic_ncols=True)
    for epoch in bar:
        selector.train()
        totals = np.zeros(4)  # gs_ce, sfs_mse, gamma_mse, batches
        for batch in torch.randperm(len(train), generator=gen).split(cfg.batch_size):
            x, mask, lengths, labels, target = collate([train[i] for i in batch], with_targets=True)
            partners = pair_partners(lengths, x.shape[1], gen)
            _, delta, gs = selector(x, mask, partners)
            ce = F.cross_entropy(gs.logits, labels)  # Eq. 7
            if cfg.loss == "listnet":
                sfs, gmse = listnet_loss(delta, target, mask), listnet_loss(gs.gamma, target, mask)
            else:
                sfs = ((delta - target) ** 2 * mask).sum() / mask.sum()
                gmse = ((gs.gamma - target) ** 2 * mask).sum() / mask.sum()
            loss = ce + cfg.theta2_penalty * selector.gs.regulariser() + sfs + cfg.gamma_target * gmse
            opt.zero_grad()
            loss.backward()
            opt.step()
            totals += np.array([ce.item(), sfs.item(), gmse.item(), 1.0])
        sched.step()
        acc, val_loss = validation_figures(selector, val, cfg.val_budget, spec.light_precision)
        history.append({"epoch": epoch + 1, "gs_ce": totals[0] / totals[3], "sfs_mse": totals[1] / totals[3],
                        "gamma_mse": totals[2] / totals[3], "val_accuracy": acc, "val_loss": val_loss})
        if (acc, -val_loss) > best or (cfg.keep == "last" and epoch == cfg.epochs - 1):
            best, best_state, best_epoch = (acc, -val_loss), copy.deepcopy(selector.state_dict()), epoch + 1
        bar.set_postfix(ce=f"{totals[0] / totals[3]:.3f}", mse=f"{totals[1] / totals[3]:.4f}", val=f"{acc:.3f}",
                        best=f"{best[0]:.3f}")
    bar.close()
    selector.load_state_dict(best_state)
    powers, readings = None, None
    if selector.evidence is not None:
        budgets = tuple(sorted({1, 2, cfg.val_budget}))
        if cfg.evidence_score == "auto" and any(m is not None for m in val_inside):
            readings = choose_evidence_score(selector, val, val_inside, budgets, spec.light_precision)
        powers = choose_evidence_power(selector, val, budgets, spec.light_precision)
    pooling_budgets = tuple(sorted({2, cfg.val_budget, 2 * cfg.val_budget, 4 * cfg.val_budget}))
    pooling, poolings = choose_pooling(val, score_videos(selector, val, precision_name=spec.light_precision),
                                       pooling_budgets, selector.cfg.pick)
    head.cfg = replace(head.cfg, pooling=pooling)
    meta = {
        "training": asdict(cfg),
        "versions": {"smartframes": __version__, "torch": torch.__version__},
        "validation": {"accuracy": best[0], "loss": -best[1], "budget": cfg.val_budget, "epoch": best_epoch,
                       "head_frame_accuracy": val_frame_acc,
                       **({"evidence_power": {str(k): a for k, a in powers.items()}} if powers else {}),
                       **({"evidence_score": readings} if readings else {}),
                       "pooling": {str(r): a for r, a in poolings.items()}},
        "train_videos": len(train),
        "val_videos": len(val),
        "seconds": time.perf_counter() - began,
    }
    ckpt = Checkpoint(selector.eval(), head, spec, classes, meta)
    if out is not None:
        save_checkpoint(out, ckpt)
    log(f"selector: best val accuracy {best[0]:.3f} at epoch {best_epoch} (n={cfg.val_budget}), "
        + (f"frame evidence on, reading {selector.cfg.evidence_score}"
           + (f" (val selection precision at n = {', '.join(map(str, budgets))}: "
              + ", ".join(f"{k}: {a:.3f}" for k, a in readings.items()) + ")" if readings else "")
           + f", power {selector.cfg.evidence_power:g} (val accuracy at n = {', '.join(map(str, budgets))}: "
           + ", ".join(f"{k:g}: {a:.3f}" for k, a in powers.items()) + ")" if powers else "frame evidence off")
        + f", pooling {pooling} (the prediction from the surest 1/pooling of the frames; val accuracy at n = "
        + ", ".join(map(str, pooling_budgets)) + ": " + ", ".join(f"{r}: {a:.3f}" for r, a in poolings.items())
        + f"), {meta['seconds']:.1f} s")
    return ckpt, {"history": history, **meta}
