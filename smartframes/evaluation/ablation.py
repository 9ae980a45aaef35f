"""The ablation of the paper's Table 1: each variant of the selector trained and evaluated at one
budget, and the global selector as the paper prints it beside ours."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..features.store import FeatureStore
from ..selection.checkpoint import Checkpoint
from ..selection.config import SelectorConfig, TrainConfig
from ..selection.train import train_selector
from .evaluate import evaluate

AS_PRINTED = "Global selector as printed (Eq. 5 on omega_t, trained by Eq. 7 alone)"
WITHOUT_EVIDENCE = ("", "without frame evidence", {"use_evidence": False}, False)
"""Run only where the store has temporal annotations: elsewhere training leaves the frame evidence
out anyway (:func:`~smartframes.selection.train.train_selector`), and the row would repeat ours."""
VARIANTS = [  # (section, row, selector switches, global selector as printed): paper Table 1, then our departures
    ("Input features", "VF", {"use_glove": False, "use_sfs": False, "pairs": False, "use_evidence": False}, False),
    ("Input features", "VF + GloVe", {"use_sfs": False, "pairs": False, "use_evidence": False}, False),
    ("Selector", "SFS only", {"use_gs": False, "pairs": False, "use_evidence": False}, False),
    ("Selector", "GS only", {"use_sfs": False, "pairs": False, "use_evidence": False}, False),
    ("Selector", "SFS + GS", {"pairs": False, "use_evidence": False}, False),
    ("", "SMART 2-frame input", {}, False),
    WITHOUT_EVIDENCE,
    (AS_PRINTED, "SMART 2-frame input", {"use_evidence": False}, True),
    (AS_PRINTED, "GS only", {"use_sfs": False, "use_evidence": False}, True),
]


@dataclass(frozen=True)
class AblationRow:
    section: str  # "" for a baseline
    row: str
    accuracy: float
    gflops_per_video: float
    selection_precision: float | None = None


@dataclass
class Ablation:
    """The Table 1 layout: the baselines (random, uniform, all frames), then one row per variant."""

    budget: int
    baselines: list[AblationRow]
    rows: list[AblationRow]

    def to_dict(self) -> dict:
        return {"budget": self.budget,
                "baselines": [{"row": b.row, "accuracy": b.accuracy, "gflops_per_video": b.gflops_per_video}
                              for b in self.baselines],
                "rows": [asdict(r) for r in self.rows]}

    @classmethod
    def from_dict(cls, d: dict) -> "Ablation":
        """An ablation read back from :meth:`to_dict`'s JSON."""
        return cls(d["budget"], [AblationRow("", **b) for b in d["baselines"]],
                   [AblationRow(**r) for r in d["rows"]])


def variant_configs(switches: dict, printed: bool, train_cfg: TrainConfig) -> tuple[SelectorConfig, TrainConfig]:
    """The selector and training settings of one ablation row."""
    selector = SelectorConfig(**switches)
    return (selector.as_printed(), train_cfg.as_printed()) if printed else (selector, train_cfg)


def _trained_as(ckpt: Checkpoint, annotated: bool) -> tuple[SelectorConfig, dict]:
    """A checkpoint's selector settings as asked for (its data-given widths reset; without
    annotations, the frame evidence that training left out as asked) and training settings."""
    plain = SelectorConfig()
    evidence = ckpt.selector.cfg.use_evidence if annotated else plain.use_evidence
    return (replace(ckpt.selector.cfg, in_dim=plain.in_dim, num_classes=plain.num_classes, use_evidence=evidence),
            ckpt.meta.get("training"))


def ablation(store_dir, budget: int, train_cfg: TrainConfig | None = None, *, default: Checkpoint | None = None,
             split: str = "test", probs_dir=None, expensive_gflops: float | None = None, progress: bool = False,
             log=print) -> Ablation:
    """Train and evaluate each variant of paper Table 1 at one budget, and the global selector as
    the paper prints it beside ours.

    Args:
        default: an already trained selector, used for the row it was trained as (same switches and
            training settings) instead of training that variant again.
        split, probs_dir, expensive_gflops: passed to :func:`evaluate`.
        progress: progress bars while training.
        log: where the one-line "training ..." messages go.
    """
    train_cfg = train_cfg or TrainConfig()
    trained: dict[tuple[SelectorConfig, TrainConfig], Checkpoint] = {}
    rows, baselines = [], None
    with FeatureStore.open(store_dir) as store:
        annotated = store.count_annotated() > 0
    variants = [v for v in VARIANTS if annotated or v is not WITHOUT_EVIDENCE]
    for section, name, switches, printed in variants:
        key = variant_configs(switches, printed, train_cfg)
        if key not in trained and default is not None and _trained_as(default, annotated) == (key[0], asdict(key[1])):
            trained[key] = default
        if key not in trained:
            log(f"ablation: training {name}" + (f" ({section})" if printed else ""))
            trained[key], _ = train_selector(store_dir, None, key[1], key[0], progress=progress, log=lambda m: None)
        report = evaluate(store_dir, None, (budget,), ckpt=trained[key], split=split, probs_dir=probs_dir,
                          expensive_gflops=expensive_gflops)
        smart = report.result("smart", budget)
        rows.append(AblationRow(section, name, smart.accuracy, smart.gflops_per_video, smart.selection_precision))
        if baselines is None:
            baselines = [AblationRow("", label, r.accuracy, r.gflops_per_video)
                         for label, r in (("Random", report.result("random", budget)),
                                          ("Uniform", report.result("uniform", budget)),
                                          ("All frames", report.result("all")))]
    return Ablation(budget, baselines, rows)


def format_ablation(table: Ablation) -> str:
    """The ablation in the layout of the paper's Table 1."""
    lines = [f"Ablation at n = {table.budget} frames", f"{'Method':<24}{'Acc':>8}{'G':>8}", "-" * 40, "Baselines"]
    lines += [f"  {b.row:<22}{100 * b.accuracy:>8.1f}{b.gflops_per_video:>8.2f}" for b in table.baselines]
    section = None
    for r in table.rows:
        if r.section != section:
            section = r.section
            lines.append(section or "SMART")
        lines.append(f"  {r.row:<22}{100 * r.accuracy:>8.1f}{r.gflops_per_video:>8.2f}")
    return "\n".join(lines)
