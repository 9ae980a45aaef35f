"""Why a selector helps or does not, measured on an evaluated split: how good and how uneven the
recogniser's frames are, how well the selector's scores rank them, and how the picks spread.

If every frame of a video is equally good for the recogniser, no selector can help: the
within-video spread of p(true class | frame) and the oracle's lead over uniform say how much room
there is; the rank correlation of the scores with that probability says how much of it the
selector finds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..selection.methods import pick, uniform_frames
from .evaluate import Evaluation


@dataclass(frozen=True)
class Diagnosis:
    videos: int
    frame_accuracy: float  # the recogniser's accuracy on single candidate frames
    within_video_std: float  # mean over videos of the std of p(true class | frame)
    spearman: dict  # "delta", "gamma", "score" -> mean over videos of the rank correlation with p(true | frame)
    span: dict  # method -> mean fraction of the video between the first and last of its n picks
    span_budget: int
    oracle_lead: dict  # budget -> oracle accuracy minus uniform accuracy (points of the fraction)

    def to_dict(self) -> dict:
        return asdict(self)


def _mean_spearman(pairs) -> float:
    from scipy.stats import spearmanr  # here: scipy.stats alone takes a second to import

    values = []
    for a, b in pairs:
        if len(a) > 2 and np.ptp(a) > 0 and np.ptp(b) > 0:
            values.append(spearmanr(a, b).statistic)
    return float(np.mean(values)) if values else float("nan")


def _span(picked: list[int], T: int) -> float:
    return (picked[-1] - picked[0]) / (T - 1) if T > 1 and picked else 0.0


def diagnose(report: Evaluation, span_budget: int = 4, rule: str = "top") -> Diagnosis:
    """The diagnosis figures of an evaluation (its per-video probabilities and scores); ``rule``
    is how the selector turns scores into frames (its ``SelectorConfig.pick``)."""
    frames_right, stds, spans = [], [], {"smart": [], "uniform": []}
    score_pairs = {"delta": [], "gamma": [], "score": []}
    for v, (score, delta, gamma) in report.scored:
        p_true = v.probs[:, v.label]
        frames_right.append(v.probs.argmax(1) == v.label)
        stds.append(float(p_true.std()))
        for name, s in (("delta", delta), ("gamma", gamma), ("score", score)):
            score_pairs[name].append((s, p_true))
        T = len(score)
        spans["smart"].append(_span(pick(score, span_budget, rule), T))
        spans["uniform"].append(_span(uniform_frames(T, span_budget), T))
    lead = {n: report.result("oracle", n).accuracy - report.result("uniform", n).accuracy for n in report.budgets}
    return Diagnosis(
        report.videos, float(np.mean(np.concatenate(frames_right))), float(np.mean(stds)),
        {k: _mean_spearman(v) for k, v in score_pairs.items()}, {k: float(np.mean(v)) for k, v in spans.items()},
        span_budget, lead)


def format_diagnosis(d: Diagnosis) -> str:
    """The figures as lines of text."""
    return "\n".join([
        f"recogniser: {100 * d.frame_accuracy:.1f} % of single frames right; p(true class | frame) varies "
        f"within a video by {d.within_video_std:.3f} (mean std)",
        "rank correlation with p(true class | frame), mean over videos: "
        + ", ".join(f"{k} {v:.2f}" for k, v in d.spearman.items()),
        f"picks at n = {d.span_budget} span " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in d.span.items())
        + " of the video",
        "oracle lead over uniform (points): " + ", ".join(f"n={n}: {100 * v:+.1f}" for n, v in d.oracle_lead.items()),
    ])
