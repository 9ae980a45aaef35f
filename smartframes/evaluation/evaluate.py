"""Evaluation against the paper's baselines: accuracy, mAP, GFLOPs, time and selection precision.

Every method (:mod:`smartframes.selection.methods`) picks frames among a test video's candidates;
the prediction average-pools the expensive classifier's per-frame probabilities over the picked
frames (the paper's protocol).

- ``smart``: top-n by s = delta * gamma * e (e: the frame evidence); ``sfs``: by delta; ``gs``: by gamma;
- ``uniform``: n evenly spaced candidates; ``random``: n at random (mean and std over 10 seeds);
- ``all``: every candidate; ``oracle``: the n frames where the classifier is most confident of
  the true class (an upper bound no selector can pass).

Accuracy is hit@1: a video with several labels (ActivityNet, FCVID) is right when the top class is
any of them. mAP is the mean over classes of the average precision of the videos' pooled scores.
Costs come from :mod:`.cost`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.synth import find_ground_truth
from ..errors import SmartframesError
from ..features.store import FeatureStore
from ..io.files import write_atomically
from ..selection.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from ..selection.methods import METHODS, choose
from ..selection.recogniser import frame_probabilities, is_recogniser
from ..data.segments import Segment, inside_segments, mask_segments, segment_recall, selection_precision
from ..selection.scoring import VideoData, load_frame_probabilities, load_videos, score_videos, video_prediction
from ..spec import FeatureSpec
from .cost import CostModel, build_cost_model
from .metrics import hit_at_1, mean_average_precision, paired_difference

RANDOM_SEEDS = 10


@dataclass(frozen=True)
class MethodResult:
    """One method at one budget on one split (``budget`` None for ``all``)."""

    method: str
    budget: int | None
    accuracy: float
    accuracy_std: float | None  # over the random seeds; None for deterministic methods
    map: float
    gflops_per_video: float
    ms_per_video: float
    selection_precision: float | None  # share of chosen frames inside a segment of the video's class (annotated videos)
    videos_below_budget: int  # videos with fewer candidates than the budget (all their frames used)
    segment_recall: float | None = None  # share of the annotated segments hit by at least one chosen frame
    correct: tuple[int, ...] | None = None  # per video, in the split's order: 1 right, 0 wrong (None for random)


@dataclass
class Evaluation:
    """What :func:`evaluate` measured, and the scores it computed on the way (``scored``: per
    video, its :class:`VideoData` and its (score, delta, gamma) arrays, for figures)."""

    dataset: str
    split: str
    classes: list[str]
    budgets: list[int]
    results: list[MethodResult]
    expensive: str  # "checkpoint head" or where the per-frame probabilities came from
    cost: CostModel
    mean_candidates: float
    scored: list[tuple[VideoData, tuple[np.ndarray, np.ndarray, np.ndarray]]] = field(default_factory=list, repr=False)
    skipped: list[str] = field(default_factory=list)  # methods left out: the store lacks their frame statistics
    annotated: int = 0  # videos with temporal annotations (or a benchmark's ground truth): what precision counts
    action_only: float | None = None  # accuracy of the recogniser pooled over every candidate inside the action (annotated videos)
    unfinished: int = 0  # videos of the store still to be extracted when it was read

    @property
    def videos(self) -> int:
        return len(self.scored)

    def result(self, method: str, budget: int | None = None) -> MethodResult:
        """The row of ``method`` at ``budget`` (None for ``all``)."""
        for r in self.results:
            if r.method == method and r.budget == (None if method == "all" else budget):
                return r
        raise KeyError(f"no result for {method} at n = {budget}")

    def to_dict(self) -> dict:
        """JSON-ready: the figures, without the per-video scores."""
        return {"dataset": self.dataset, "split": self.split, "videos": self.videos, "classes": self.classes,
                "budgets": self.budgets, "results": [asdict(r) for r in self.results], "expensive": self.expensive,
                "cost": {**self.cost.to_dict(), "mean_candidates": self.mean_candidates}, "skipped": self.skipped,
                "annotated": self.annotated, "action_only": self.action_only, "unfinished": self.unfinished}


def with_recogniser(selector: Checkpoint, recogniser, store_spec: FeatureSpec) -> Checkpoint:
    """One checkpoint made of ``selector``'s selector and ``recogniser``'s head, classes and
    feature spec (``recogniser``: a checkpoint directory or a loaded one, trained on a store of
    ``store_spec``).

    Raises:
        CheckpointError: the recogniser was trained on other features than the store's, or the
            selector reads other light features.
    """
    if not isinstance(recogniser, Checkpoint):
        recogniser = load_checkpoint(recogniser, expect_spec=store_spec)
    elif recogniser.spec != store_spec:
        raise CheckpointError(f"the recogniser was trained on other features ({'; '.join(recogniser.spec.diff(store_spec))})")
    different = selector.spec.light_diff(store_spec)
    if different:
        raise CheckpointError(f"the selector reads other light features than this store's ({'; '.join(different)}); "
                              "extract with its light settings")
    return Checkpoint(selector.selector, recogniser.head, recogniser.spec, recogniser.classes,
                      {"selector": selector.meta, "recogniser": recogniser.meta})


def evaluate(store_dir, selector_dir=None, budgets=(4, 8, 16), *, split: str = "test", ckpt: Checkpoint | None = None,
             probs_dir=None, expensive_gflops: float | None = None, recogniser=None,
             classes: list[str] | None = None, progress: bool = False) -> Evaluation:
    """Score every method at every budget on a store's split.

    Args:
        store_dir: a feature store made by :func:`smartframes.extract_dataset`.
        selector_dir: a checkpoint directory trained on this store's features (or give ``ckpt``).
        budgets: the frame budgets n.
        split: which of the store's splits.
        ckpt: an already loaded checkpoint, instead of ``selector_dir``.
        recogniser: the expensive classifier, when it is not the selector's own: a checkpoint
            (directory or loaded) trained on this store, whose head and classes are used, or your
            own model (a :class:`~smartframes.selection.recogniser.Recogniser`, run on every
            candidate frame, decoded at the video's size; its ``gflops_per_frame`` goes into the
            costs). The frame scores come from the selector, which may have been trained on other
            classes or other data (its light features must match this store's).
        progress: a progress bar while your own recogniser runs.
        classes: evaluate only the videos of these classes (default: every video of the split;
            each must be of a class the recogniser knows).
        probs_dir: per-frame class probabilities (or logits) of your own expensive model, one
            ``.npy`` per video (see :func:`smartframes.selection.scoring.load_frame_probabilities`), used instead
            of the checkpoint's Lite2 head for every method.
        expensive_gflops: with ``probs_dir``, your model's GFLOPs per frame, for the cost columns
            (without it, the expensive part of every cost is left out).

    Returns:
        An :class:`Evaluation`: one :class:`MethodResult` per method and budget, the cost model,
        and the per-video scores it computed.
    """
    with FeatureStore.open(store_dir) as store:
        unfinished = store.freeze()[1]
        if ckpt is None and selector_dir is None:
            raise SmartframesError("evaluate needs a selector: a checkpoint directory or a loaded checkpoint")
        own = is_recogniser(recogniser)  # the user's model, run on the decoded frames
        if recogniser is None:
            ckpt = ckpt or load_checkpoint(selector_dir, expect_spec=store.spec)
        elif own:
            ckpt = ckpt or load_checkpoint(selector_dir)
            if ckpt.spec.light_diff(store.spec):
                raise CheckpointError(f"the selector reads other light features than this store's "
                                      f"({'; '.join(ckpt.spec.light_diff(store.spec))})")
        else:
            ckpt = with_recogniser(ckpt or load_checkpoint(selector_dir), recogniser, store.spec)
        if ckpt.head is None and probs_dir is None and not own:
            raise SmartframesError("this selector checkpoint has no recogniser: give one trained on this store "
                                   "(--recogniser) or per-frame probabilities (--probs-dir)")
        names = list(recogniser.classes) if own else ckpt.classes
        wanted = set(classes) if classes is not None else None
        unknown = sorted({r.label for r in store.records(status="done", split=split)
                          if wanted is None or r.label in wanted} - set(names))
        if unknown:
            raise SmartframesError(f"{store_dir}: {split} labels unknown to the recogniser: {', '.join(unknown[:5])}")
        videos = load_videos(store, split, names, need_expensive=probs_dir is None and not own, keep=wanted)
        classes = names
    if not videos:
        raise SmartframesError(f"{store_dir}: no finished videos in the {split} split")
    for v in tqdm(videos, desc="recognise", unit="video", disable=not (own and progress), dynamic_ncols=True):
        if probs_dir is not None:
            v.probs = load_frame_probabilities(probs_dir, v, len(classes))
        elif own:
            v.probs = frame_probabilities(recogniser, v.path, v.indices, classes, seek=v.seek)
        else:
            v.probs = ckpt.head.probabilities(v.emb)
    scores = score_videos(ckpt.selector, videos, precision_name=ckpt.spec.light_precision)
    segments = video_segments(videos)
    lengths = {len(v.x) for v in videos}
    external = (expensive_gflops or 0.0) if probs_dir is not None else \
        (getattr(recogniser, "gflops_per_frame", None) or 0.0) if own else None
    cost = build_cost_model(ckpt, lengths, external_gflops=external)
    results, rule = [], ckpt.selector.cfg.pick
    # the checkpoint head's own way of pooling frames, for every method alike; the mean for other models
    pooling = ckpt.head.cfg.pooling if ckpt.head is not None and probs_dir is None and not own else 1
    visual_dim = ckpt.spec.visual_dim
    missing = [m for m, name in (("quality", "quality"), ("confidence", "confidence"))
               if any(getattr(v, name) is None for v in videos)]
    for method in METHODS:
        if method in missing:
            continue
        for n in ([None] if method == "all" else budgets):
            runs = RANDOM_SEEDS if method == "random" else 1
            accs, maps, precisions, recalls, gflops, ms = [], [], [], [], [], []
            below = sum(1 for v in videos if n is not None and len(v.x) < n)
            for run in range(runs):
                rng = np.random.default_rng(run)
                right, prec, rec, predictions = [], [], [], []
                for v, (score, delta, gamma) in zip(videos, scores):
                    T = len(v.x)
                    picked = choose(method, n, T, score=score, delta=delta, gamma=gamma, probs=v.probs, rule=rule,
                                    label=v.label, rng=rng, light=v.x[:, :visual_dim], quality=v.quality,
                                    confidence=v.confidence)
                    predictions.append(video_prediction(v.probs, picked, pooling))
                    right.append(hit_at_1(predictions[-1], v.all_labels))
                    if segments[v.id] is not None:
                        picked_times, name = v.times[picked], classes[v.label]
                        prec.append(selection_precision(picked_times, segments[v.id], name))
                        rec.append(segment_recall(picked_times, segments[v.id], name))
                    if run == 0:
                        gflops.append(cost.gflops(method, T, len(picked)))
                        ms.append(cost.ms(method, T, len(picked)))
                accs.append(float(np.mean(right)))
                maps.append(mean_average_precision(np.stack(predictions), [v.all_labels for v in videos]))
                if prec:
                    precisions.append(float(np.nanmean(prec)))
                    recalls.append(float(np.nanmean(rec)) if not np.isnan(rec).all() else float("nan"))
            results.append(MethodResult(
                method, n, float(np.mean(accs)), float(np.std(accs)) if runs > 1 else None, float(np.mean(maps)),
                float(np.mean(gflops)), float(np.mean(ms)), float(np.mean(precisions)) if precisions else None, below,
                float(np.mean(recalls)) if recalls else None, None if runs > 1 else tuple(int(r) for r in right)))
    action = [hit_at_1(video_prediction(v.probs, np.flatnonzero(inside), pooling), v.all_labels) for v in videos
              if segments[v.id] is not None and (inside := inside_segments(v.times, segments[v.id], classes[v.label])).any()]
    return Evaluation(
        str(Path(store_dir).resolve()), split, classes, list(budgets), results,
        f"per-frame probabilities from {probs_dir}" if probs_dir is not None
        else f"your recogniser ({type(recogniser).__name__})" if own else "checkpoint head",
        cost, float(np.mean([len(v.x) for v in videos])), list(zip(videos, scores)), missing,
        sum(s is not None for s in segments.values()), float(np.mean(action)) if action else None, unfinished)


def video_segments(videos: list[VideoData]) -> dict[str, list[Segment] | None]:
    """Each video's segments (by id): its temporal annotations from the store; for a generated
    benchmark without them, the runs of its useful frames (``ground_truth.json``) as segments, so
    that both are scored by the same functions."""
    out = {v.id: v.segments for v in videos}
    if all(s is None for s in out.values()):
        truth = find_ground_truth([v.path for v in videos])
        if truth is not None:
            for v in videos:
                step = float(np.median(np.diff(v.times))) if len(v.times) > 1 else 1.0
                out[v.id] = mask_segments(v.times, truth[v.path]["useful"][v.indices], float(v.times[-1]) + step)
    return out


def format_paired(runs: dict[tuple[str, int | None], list[MethodResult]], budgets, method: str = "smart",
                  baseline: str = "uniform") -> str:
    """One line: ``method`` minus ``baseline`` in accuracy points at each budget, paired by run (e.g.
    training seed: ``runs[(method, n)]`` lists one result per run, in the same order for both) and
    by video, with a 95 % bootstrap interval over the videos and the worst run."""
    cells = []
    for n in budgets:
        a, b = runs[(method, n)], runs[(baseline, n)]
        mean, low, high = paired_difference(np.array([r.correct for r in a]), np.array([r.correct for r in b]))
        worst = min(x.accuracy - y.accuracy for x, y in zip(a, b))
        cells.append(f"n={n} {100 * mean:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] (worst run {100 * worst:+.1f})")
    return (f"{method} - {baseline}, accuracy points paired by run and video over {len(runs[(method, budgets[0])])} runs: "
            "mean [95 % bootstrap interval over videos] (worst run)\n  " + "\n  ".join(cells))


def format_table(report: Evaluation) -> str:
    """The results in the layout of the paper's Table 2: accuracy (%) and GFLOPs by #frames."""
    budgets = report.budgets
    rows = {(r.method, r.budget): r for r in report.results}
    width = 11
    head = f"{'Method':<10}" + "".join(f"{n:>{width}}" for n in budgets) + "  |" + "".join(f"{n:>{width}}" for n in budgets)
    still = f" (store still being extracted: {report.unfinished} videos not finished, left out)" if report.unfinished else ""
    lines = [f"{report.videos} {report.split} videos{still}; accuracy (%) | GFLOPs per video; #F = frames",
             f"{'':<10}{'Accuracy':^{width * len(budgets)}}  |{'GFLOPs':^{width * len(budgets)}}",
             head.replace("Method", "#F    ", 1), "-" * len(head)]
    for method in METHODS:
        if method in report.skipped:
            continue
        if method == "all":
            r = rows[("all", None)]
            acc = f"{100 * r.accuracy:.1f}"
            lines.append(f"{'All frames':<10}" + "".join(f"{acc:>{width}}" for _ in budgets) + "  |"
                         + "".join(f"{r.gflops_per_video:>{width}.1f}" for _ in budgets))
            continue
        accs = []
        for n in budgets:
            r = rows[(method, n)]
            a = f"{100 * r.accuracy:.1f}"
            if r.accuracy_std:
                a += f"±{100 * r.accuracy_std:.1f}"
            accs.append(a)
        label = {"smart": "SMART", "sfs": "SFS only", "gs": "GS only", "kcenter": "k-center", "maxvolume": "MaxVolume",
                 "mgsampler": "MGSampler"}.get(method, method.capitalize())
        lines.append(f"{label:<10}" + "".join(f"{a:>{width}}" for a in accs) + "  |"
                     + "".join(f"{rows[(method, n)].gflops_per_video:>{width}.1f}" for n in budgets))
    if report.skipped:
        lines.append(f"left out: {', '.join(report.skipped)} (this store has no frame statistics; extract into a new "
                     "store with this version to add them)")
    below = {n: rows[("smart", n)].videos_below_budget for n in budgets}
    if any(below.values()):
        lines.append("videos with fewer candidates than n (all their frames used, every method): "
                     + ", ".join(f"n={n}: {b}" for n, b in below.items() if b))
    lines.append("mAP (%): " + "; ".join(
        f"{m} " + "/".join(f"{100 * rows[(m, n)].map:.1f}" for n in budgets) for m in ("smart", "uniform", "random"))
        + f"; all {100 * rows[('all', None)].map:.1f}")
    if report.expensive != "checkpoint head":
        lines.append(f"expensive classifier: {report.expensive}; its cost per frame: "
                     f"{report.cost.expensive_gflops:g} GFLOPs (--expensive-gflops), time not counted")
    if rows[("smart", budgets[0])].selection_precision is not None:
        if report.action_only is not None:
            lines.append(f"action only (every candidate inside the action pooled, the ceiling of selection): "
                         f"{100 * report.action_only:.1f} %")
        lines.append(f"{report.annotated} videos annotated; selection precision (share of chosen frames inside the action) "
                     "| segment recall (share of action segments hit), by n:")
        for m in METHODS:
            if m in report.skipped or m == "all":
                continue
            lines.append(f"  {m:<10} " + " ".join(f"{rows[(m, n)].selection_precision:.2f}" for n in budgets) + "  | "
                         + " ".join(f"{rows[(m, n)].segment_recall:.2f}" for n in budgets))
    return "\n".join(lines)


def write_json(report: dict, path) -> None:
    """Write an evaluation (``Evaluation.to_dict()``, with whatever was added to it) as JSON."""
    write_atomically(path, json.dumps(report, indent=2))
