"""Evaluation against the paper's baselines: accuracy, GFLOPs, time and selection precision.

Every method picks frames among a test video's candidates; the prediction average-pools the
expensive classifier's per-frame probabilities over the picked frames (the paper's protocol).

- ``smart``: top-n by s = delta * gamma; ``sfs``: by delta; ``gs``: by gamma;
- ``uniform``: n evenly spaced candidates; ``random``: n at random (mean and std over 10 seeds);
- ``all``: every candidate; ``oracle``: the n frames where the classifier is most confident of
  the true class (an upper bound no selector can pass).

Accuracy is hit@1: a video with several labels (ActivityNet, FCVID) is right when the top class is
any of them. mAP is the mean over classes of the average precision of the videos' pooled scores.

Cost per video, from ``torch.utils.flop_counter.FlopCounterMode`` on the real modules at the
store's resolutions: the selector methods pay the light backbone on every candidate, the selector
networks, and the expensive backbone + head on the n chosen frames; ``uniform``/``random`` pay only
the expensive part for n frames; ``all`` and ``oracle`` pay it for every candidate.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from .backbones import BACKBONES, load_backbone
from .checkpoint import Checkpoint, load_checkpoint
from .errors import SmartframesError
from .candidates import candidate_indices
from .features import FeatureSpec, precision
from .selector import inference_partners, top_n
from .store import FeatureStore
from .train import load_frame_probabilities, load_videos, score_videos, video_prediction

METHODS = ("smart", "sfs", "gs", "uniform", "random", "all", "oracle")
SELECTOR_METHODS = ("smart", "sfs", "gs")
RANDOM_SEEDS = 10


# -- choosing frames (pure functions) --------------------------------------------------------


def uniform_frames(T: int, n: int) -> list[int]:
    """n evenly spaced positions among T candidates (segment centres); all of them if n >= T."""
    return candidate_indices(T, 1, n).tolist()


def random_frames(T: int, n: int, rng: np.random.Generator) -> list[int]:
    """n distinct random positions among T candidates, in time order; all if n >= T."""
    return list(range(T)) if n >= T else sorted(rng.choice(T, size=n, replace=False).tolist())


def choose(method: str, n: int | None, T: int, *, score=None, delta=None, gamma=None, probs=None, label=None,
           rng=None) -> list[int]:
    """Positions (among T candidates) that ``method`` picks with budget ``n`` (None for ``all``)."""
    if method == "all" or n is None:
        return list(range(T))
    if method == "smart":
        return top_n(score, n)
    if method == "sfs":
        return top_n(delta, n)
    if method == "gs":
        return top_n(gamma, n)
    if method == "uniform":
        return uniform_frames(T, n)
    if method == "random":
        return random_frames(T, n, rng)
    if method == "oracle":
        return top_n(probs[:, label], n)
    raise ValueError(f"unknown method {method!r}")


# -- cost ------------------------------------------------------------------------------------


def count_flops(module, *inputs) -> int:
    """FLOPs of one forward pass, counted by torch's FlopCounterMode (a multiply-add counts 2).

    oneDNN is off meanwhile: the counter cannot see inside its fused LSTM kernel, but does see
    the step-by-step matrix products of the LSTM torch runs without it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # switching oneDNN prints a note about Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter, \
                torch.inference_mode():
            module(*inputs)
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class CostModel:
    """Per-frame and per-video costs of the pipeline's parts, in GFLOPs and milliseconds."""

    light_gflops: float  # light backbone, one frame
    expensive_gflops: float  # expensive backbone + head, one frame
    light_ms: float
    expensive_ms: float
    selector_gflops: dict  # T -> selector networks on a T-candidate video
    selector_ms: dict

    def gflops(self, method: str, T: int, n_used: int) -> float:
        if method in SELECTOR_METHODS:
            return self.light_gflops * T + self.selector_gflops[T] + self.expensive_gflops * n_used
        return self.expensive_gflops * (T if method in ("all", "oracle") else n_used)

    def ms(self, method: str, T: int, n_used: int) -> float:
        if method in SELECTOR_METHODS:
            return self.light_ms * T + self.selector_ms[T] + self.expensive_ms * n_used
        return self.expensive_ms * (T if method in ("all", "oracle") else n_used)


def _time_ms(fn, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        begin = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - begin) * 1e3)
    return best


def build_cost_model(ckpt: Checkpoint, lengths: set[int], timing_batch: int = 16,
                     external_gflops: float | None = None) -> CostModel:
    """Count FLOPs of the real modules at the store's resolutions and time them on this machine.
    ``external_gflops``: the expensive model is the user's, of this many GFLOPs per frame (and of
    unknown time, counted as 0 ms)."""
    spec: FeatureSpec = ckpt.spec
    cfg = ckpt.selector.cfg
    light = load_backbone(spec.light_backbone)
    # the ImageNet head of the light backbone only serves the GloVe words
    light_pass = light if cfg.use_glove else light.forward_features
    lr = spec.light_resolution
    x_light = torch.zeros(1, 3, lr, lr).contiguous(memory_format=torch.channels_last)
    light_flops = count_flops(light_pass, x_light)
    batch_l = x_light.expand(timing_batch, -1, -1, -1).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), precision(spec.light_precision, "cpu"):
        light_ms = _time_ms(lambda: light_pass(batch_l)) / timing_batch
    if external_gflops is not None:
        exp_flops, exp_ms = external_gflops * 1e9, 0.0
    else:
        expensive, head, er = load_backbone(spec.expensive_backbone), ckpt.head, spec.expensive_resolution
        x_exp = torch.zeros(1, 3, er, er).contiguous(memory_format=torch.channels_last)
        exp_flops = count_flops(lambda x: head(expensive.forward_features(x)), x_exp)
        batch_e = x_exp.expand(timing_batch, -1, -1, -1).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), precision(spec.expensive_precision, "cpu"):
            exp_ms = _time_ms(lambda: head(expensive.forward_features(batch_e))) / timing_batch
    selector = ckpt.selector.eval()

    def scoring(x, mask, partners):  # the networks the score needs: SFS, GS or both
        x = selector.prepare(x, mask)
        return (selector.sfs(x) if cfg.use_sfs else None), (selector.gs(x, mask, partners) if cfg.use_gs else None)

    sel_flops, sel_ms = {}, {}
    for T in sorted(lengths):
        x = torch.zeros(1, T, spec.light_dim)
        mask = torch.ones(1, T, dtype=torch.bool)
        partners = inference_partners(torch.tensor([T]), T)
        sel_flops[T] = count_flops(scoring, x, mask, partners) / 1e9
        with torch.inference_mode(), precision(spec.light_precision, "cpu"):
            sel_ms[T] = _time_ms(lambda: scoring(x, mask, partners))
    return CostModel(light_flops / 1e9, exp_flops / 1e9, light_ms, exp_ms, sel_flops, sel_ms)


# -- metrics ---------------------------------------------------------------------------------


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the step precision-recall curve of one class (as scikit-learn computes it):
    each distinct score is one threshold, so videos with equal scores enter together and their
    order does not matter. Without ties: the mean, over the positive videos, of the precision
    among the videos scored at least as high."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    s, hits = np.asarray(scores, np.float64)[order], np.asarray(positive, bool)[order]
    if not hits.any():
        return float("nan")
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last video of each distinct score
    true_pos = np.cumsum(hits)[last]
    precision = true_pos / (last + 1)
    recall_gain = np.diff(np.r_[0, true_pos]) / hits.sum()
    return float(np.sum(recall_gain * precision))


def hit_at_1(prediction: np.ndarray, labels: list[int]) -> bool:
    """Whether the top class of a video's scores (C,) is one of its labels (ActivityNet's hit@1)."""
    return int(np.argmax(prediction)) in labels


def mean_average_precision(predictions: np.ndarray, labels: list[list[int]]) -> float:
    """mAP of video-level class scores ``(V, C)`` against each video's labels (one or several):
    the mean of :func:`average_precision` over the classes that have a positive video."""
    positive = np.zeros(predictions.shape, bool)
    for v, classes in enumerate(labels):
        positive[v, classes] = True
    aps = [average_precision(predictions[:, c], positive[:, c]) for c in range(predictions.shape[1]) if positive[:, c].any()]
    return float(np.mean(aps)) if aps else float("nan")


# -- ground truth ----------------------------------------------------------------------------


def find_ground_truth(paths: list[str]) -> dict | None:
    """Useful-frame masks of a benchmark written by ``smartframes synth``, found beside the videos
    (``<root>/ground_truth.json`` for ``<root>/videos/<class>/<file>``); None for other data."""
    from .synth import load_ground_truth

    roots = {Path(p).parents[2] for p in paths if len(Path(p).parents) > 2}
    truth = {}
    for root in roots:
        if (root / "ground_truth.json").is_file():
            truth.update(load_ground_truth(root))
    return truth if truth and all(p in truth for p in paths) else None


# -- the evaluation --------------------------------------------------------------------------


def evaluate(store_dir, selector_dir, budgets=(4, 8, 16), *, split: str = "test", ckpt: Checkpoint | None = None,
             probs_dir=None, expensive_gflops: float | None = None, log=print) -> dict:
    """Score every method at every budget on a store's split.

    Args:
        probs_dir: per-frame class probabilities (or logits) of your own expensive model, one
            ``.npy`` per video (see :func:`smartframes.train.load_frame_probabilities`), used instead
            of the checkpoint's Lite2 head for every method.
        expensive_gflops: with ``probs_dir``, your model's GFLOPs per frame, for the cost columns
            (without it, the expensive part of every cost is left out).

    Returns:
        ``{"dataset", "split", "videos", "classes", "budgets", "results": [{"method", "budget",
        "accuracy", "accuracy_std", "map", "gflops_per_video", "ms_per_video",
        "selection_precision", "videos_below_budget"}], "cost": {...}}``; ``budget`` is None for ``all``.
    """
    with FeatureStore.open(store_dir) as store:
        ckpt = ckpt or load_checkpoint(selector_dir, expect_spec=store.spec)
        classes = ckpt.classes
        unknown = sorted({r.label for r in store.records(status="done", split=split)} - set(classes))
        if unknown:
            raise SmartframesError(f"{store_dir}: {split} labels unknown to the selector: {', '.join(unknown[:5])}")
        videos = load_videos(store, split, classes, need_expensive=probs_dir is None)
    if not videos:
        raise SmartframesError(f"{store_dir}: no finished videos in the {split} split")
    for v in videos:
        if probs_dir is not None:
            v.probs = load_frame_probabilities(probs_dir, v, len(classes))
        else:
            v.probs = ckpt.head.probabilities(v.emb)
    scores = score_videos(ckpt.selector, videos, precision_name=ckpt.spec.light_precision)
    truth = find_ground_truth([v.path for v in videos])
    lengths = {len(v.x) for v in videos}
    external = None if probs_dir is None else (expensive_gflops or 0.0)
    cost = build_cost_model(ckpt, lengths, external_gflops=external)
    results = []
    for method in METHODS:
        for n in ([None] if method == "all" else budgets):
            runs = RANDOM_SEEDS if method == "random" else 1
            accs, maps, precisions, gflops, ms = [], [], [], [], []
            below = sum(1 for v in videos if n is not None and len(v.x) < n)
            for run in range(runs):
                rng = np.random.default_rng(run)
                right, prec, predictions = [], [], []
                for v, (score, delta, gamma) in zip(videos, scores):
                    T = len(v.x)
                    picked = choose(method, n, T, score=score, delta=delta, gamma=gamma, probs=v.probs,
                                    label=v.label, rng=rng)
                    predictions.append(video_prediction(v.probs, picked))
                    right.append(hit_at_1(predictions[-1], v.labels or [v.label]))
                    if truth is not None:
                        useful = truth[v.path]["useful"]
                        prec.append(float(np.mean(useful[v.indices[picked]])))
                    if run == 0:
                        gflops.append(cost.gflops(method, T, len(picked)))
                        ms.append(cost.ms(method, T, len(picked)))
                accs.append(float(np.mean(right)))
                maps.append(mean_average_precision(np.stack(predictions), [v.labels or [v.label] for v in videos]))
                if prec:
                    precisions.append(float(np.mean(prec)))
            results.append({
                "method": method, "budget": n, "accuracy": float(np.mean(accs)),
                "accuracy_std": float(np.std(accs)) if runs > 1 else None, "map": float(np.mean(maps)),
                "gflops_per_video": float(np.mean(gflops)), "ms_per_video": float(np.mean(ms)),
                "selection_precision": float(np.mean(precisions)) if precisions else None,
                "videos_below_budget": below,
            })
    return {
        "dataset": str(Path(store_dir).resolve()), "split": split, "videos": len(videos), "classes": classes,
        "budgets": list(budgets), "results": results,
        "expensive": "checkpoint head" if probs_dir is None else f"per-frame probabilities from {probs_dir}",
        "cost": {"light_gflops_per_frame": cost.light_gflops, "expensive_gflops_per_frame": cost.expensive_gflops,
                 "light_ms_per_frame": cost.light_ms, "expensive_ms_per_frame": cost.expensive_ms,
                 "selector_gflops": {str(k): v for k, v in cost.selector_gflops.items()},
                 "selector_ms": {str(k): v for k, v in cost.selector_ms.items()},
                 "mean_candidates": float(np.mean([len(v.x) for v in videos]))},
    }


def format_table(report: dict) -> str:
    """The results in the layout of the paper's Table 2: accuracy (%) and GFLOPs by #frames."""
    budgets = report["budgets"]
    rows = {(r["method"], r["budget"]): r for r in report["results"]}
    width = 11
    head = f"{'Method':<10}" + "".join(f"{n:>{width}}" for n in budgets) + "  |" + "".join(f"{n:>{width}}" for n in budgets)
    lines = [f"{report['videos']} {report['split']} videos; accuracy (%) | GFLOPs per video; #F = frames",
             f"{'':<10}{'Accuracy':^{width * len(budgets)}}  |{'GFLOPs':^{width * len(budgets)}}",
             head.replace("Method", "#F    ", 1), "-" * len(head)]
    for method in METHODS:
        if method == "all":
            r = rows[("all", None)]
            acc = f"{100 * r['accuracy']:.1f}"
            lines.append(f"{'All frames':<10}" + "".join(f"{acc:>{width}}" for _ in budgets) + "  |"
                         + "".join(f"{r['gflops_per_video']:>{width}.1f}" for _ in budgets))
            continue
        accs = []
        for n in budgets:
            r = rows[(method, n)]
            a = f"{100 * r['accuracy']:.1f}"
            if r["accuracy_std"]:
                a += f"±{100 * r['accuracy_std']:.1f}"
            accs.append(a)
        label = {"smart": "SMART", "sfs": "SFS only", "gs": "GS only"}.get(method, method.capitalize())
        lines.append(f"{label:<10}" + "".join(f"{a:>{width}}" for a in accs) + "  |"
                     + "".join(f"{rows[(method, n)]['gflops_per_video']:>{width}.1f}" for n in budgets))
    below = {n: rows[("smart", n)]["videos_below_budget"] for n in budgets}
    if any(below.values()):
        lines.append("videos with fewer candidates than n (all their frames used, every method): "
                     + ", ".join(f"n={n}: {b}" for n, b in below.items() if b))
    lines.append("mAP (%): " + "; ".join(
        f"{m} " + "/".join(f"{100 * rows[(m, n)]['map']:.1f}" for n in budgets) for m in ("smart", "uniform", "random"))
        + f"; all {100 * rows[('all', None)]['map']:.1f}")
    if report.get("expensive", "checkpoint head") != "checkpoint head":
        lines.append(f"expensive classifier: {report['expensive']}; its cost per frame: "
                     f"{report['cost']['expensive_gflops_per_frame']:g} GFLOPs (--expensive-gflops), time not counted")
    if rows[("smart", budgets[0])]["selection_precision"] is not None:
        lines.append("selection precision (fraction of chosen frames that are useful): "
                     + "; ".join(f"{m} " + "/".join(f"{rows[(m, n)]['selection_precision']:.2f}" for n in budgets)
                                 for m in ("smart", "uniform", "random", "oracle")))
    return "\n".join(lines)


def write_json(report: dict, path) -> None:
    Path(path).write_text(json.dumps(report, indent=2))


ABLATION = [  # (section, row, selector switches, training overrides): paper Table 1, then our departure
    ("Input features", "VF", {"use_glove": False, "use_sfs": False, "pairs": False}, {}),
    ("Input features", "VF + GloVe", {"use_sfs": False, "pairs": False}, {}),
    ("Selector", "SFS only", {"use_gs": False, "pairs": False}, {}),
    ("Selector", "GS only", {"use_sfs": False, "pairs": False}, {}),
    ("Selector", "SFS + GS", {"pairs": False}, {}),
    ("", "SMART 2-frame input", {}, {}),
    ("Global selector as printed (Eq. 5 on omega_t, trained by Eq. 7 alone)", "SMART 2-frame input",
     {"gamma_from_frame": False}, {"gamma_target": 0.0}),
    ("Global selector as printed (Eq. 5 on omega_t, trained by Eq. 7 alone)", "GS only",
     {"gamma_from_frame": False, "use_sfs": False}, {"gamma_target": 0.0}),
]


def ablation(store_dir, budget: int, train_cfg=None, *, default: Checkpoint | None = None, split: str = "test",
             probs_dir=None, expensive_gflops: float | None = None, progress: bool = False, log=print) -> dict:
    """Train and evaluate each variant of paper Table 1 at one budget, and the global selector as
    the paper prints it beside ours. ``default``: an already trained selector, used for the row of
    its switches instead of training that variant again (with the default switches: the SMART
    row). ``split``, ``probs_dir`` and ``expensive_gflops`` are passed to :func:`evaluate`.

    Returns:
        ``{"budget", "baselines": [{"row", "accuracy", "gflops_per_video"}], "rows": [{"section",
        "row", "accuracy", "gflops_per_video", "selection_precision"}]}``.
    """
    from dataclasses import fields, replace

    from .selector import SelectorConfig
    from .train import TrainConfig, train_selector

    train_cfg = train_cfg or TrainConfig()
    trained: dict[tuple, Checkpoint] = {}
    if default is not None:  # reused for the row it was trained as: same switches, same training settings
        cfg, plain = default.selector.cfg, SelectorConfig()
        switches = {f.name: getattr(cfg, f.name) for f in fields(SelectorConfig)
                    if f.name not in ("in_dim", "num_classes") and getattr(cfg, f.name) != getattr(plain, f.name)}
        for _, _, row_switches, overrides in ABLATION:
            if row_switches == switches and default.meta.get("training") == asdict(replace(train_cfg, **overrides)):
                trained[(tuple(sorted(switches.items())), tuple(sorted(overrides.items())))] = default
    rows, baselines = [], None
    for section, name, switches, overrides in ABLATION:
        key = (tuple(sorted(switches.items())), tuple(sorted(overrides.items())))
        if key not in trained:
            log(f"ablation: training {name}" + (f" ({section})" if overrides else ""))
            trained[key], _ = train_selector(store_dir, None, replace(train_cfg, **overrides),
                                             SelectorConfig(**switches), progress=progress, log=lambda m: None)
        report = evaluate(store_dir, None, (budget,), ckpt=trained[key], split=split, probs_dir=probs_dir,
                          expensive_gflops=expensive_gflops, log=log)
        result = {(r["method"], r["budget"]): r for r in report["results"]}
        smart = result[("smart", budget)]
        rows.append({"section": section, "row": name, "accuracy": smart["accuracy"],
                     "gflops_per_video": smart["gflops_per_video"], "selection_precision": smart["selection_precision"]})
        if baselines is None:
            baselines = [{"row": label, "accuracy": result[key]["accuracy"], "gflops_per_video": result[key]["gflops_per_video"]}
                         for label, key in (("Random", ("random", budget)), ("Uniform", ("uniform", budget)),
                                            ("All frames", ("all", None)))]
    return {"budget": budget, "baselines": baselines, "rows": rows}


def format_ablation(table: dict) -> str:
    """The ablation in the layout of the paper's Table 1."""
    lines = [f"Ablation at n = {table['budget']} frames", f"{'Method':<24}{'Acc':>8}{'G':>8}", "-" * 40, "Baselines"]
    lines += [f"  {b['row']:<22}{100 * b['accuracy']:>8.1f}{b['gflops_per_video']:>8.2f}" for b in table["baselines"]]
    section = None
    for r in table["rows"]:
        if r["section"] != section:
            section = r["section"]
            lines.append(section or "SMART")
        lines.append(f"  {r['row']:<22}{100 * r['accuracy']:>8.1f}{r['gflops_per_video']:>8.2f}")
    return "\n".join(lines)
