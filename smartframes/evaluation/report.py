"""``smartframes report``: one self-contained HTML file with the evaluation table, the figures and
strips of selected frames, images embedded, every label and path escaped."""

from __future__ import annotations

import base64
import html
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..io.files import write_atomically
from ..io.video import VideoError, read_frames
from ..selection.methods import top_n
from . import plots
from .ablation import Ablation, format_ablation
from .evaluate import Evaluation, evaluate, format_table, video_segments


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def build_report(store_dir, selector_dir, out, budgets=(1, 2, 4, 8), report: Evaluation | None = None,
                 ablation: Ablation | None = None, strip_frames: int = 4, curve_classes: int = 5) -> Path:
    """Evaluate the test split (unless ``report`` is given), draw the paper's figures from the
    scores the evaluation computed and write ``out`` (HTML, every image embedded); the figures are
    also kept as PNG files in ``<out stem>_figures/``. ``ablation``: a Table 1 to show too.

    Returns:
        The path written.
    """
    report = report or evaluate(store_dir, selector_dir, budgets)
    by_class = defaultdict(list)
    for v, s in report.scored:
        by_class[report.classes[v.label]].append((v, s))
    shown = sorted(by_class)[:curve_classes]
    segments = video_segments([v for v, _ in report.scored])
    figures = []
    out = Path(out)
    figdir = out.parent / f"{out.stem}_figures"
    figdir.mkdir(parents=True, exist_ok=True)
    plots.accuracy_vs_frames(report, figdir / "accuracy_vs_frames.png")
    figures.append(("Accuracy against the number of frames (paper Fig. 3a)", figdir / "accuracy_vs_frames.png"))
    plots.score_curves_by_class({c: [s[0] for _, s in by_class[c]] for c in shown}, figdir / "score_by_class.png",
                                "mean SMART score over normalised time, per class")
    figures.append(("Mean importance score per class (paper Fig. 3b)", figdir / "score_by_class.png"))
    first = shown[0]
    plots.score_curves_by_class({"SFS (delta)": [s[1] for _, s in by_class[first]],
                                 "GS (gamma)": [s[2] for _, s in by_class[first]]},
                                figdir / "sfs_vs_gs.png", f"SFS vs GS scores, class {first}")
    figures.append((f"SFS vs GS score curves for {first} (paper Fig. 4)", figdir / "sfs_vs_gs.png"))
    for c in shown[:2]:
        v, (score, _, _) = next(((v, s) for v, s in by_class[c] if segments[v.id]), by_class[c][0])
        chosen = top_n(score, strip_frames)
        rest = [i for i in np.argsort(score, kind="stable")[: strip_frames] if i not in chosen]
        try:
            sel = read_frames(v.path, indices=v.indices[chosen].tolist(), size=96, seek=v.seek)
            rej = read_frames(v.path, indices=v.indices[sorted(rest)].tolist(), size=96, seek=v.seek)
        except VideoError:
            continue
        name = figdir / f"strip_{len(figures)}.png"
        timeline = (v.times, v.times[chosen], v.times[sorted(rest)], segments[v.id]) if segments[v.id] else None
        plots.selection_strip(sel, rej, name, f"{c}: {Path(v.path).name}", timeline)
        figures.append((f"Frames not selected (top) and selected (bottom), class {c} (paper Figs. 5-6)", name))
    body = "\n".join(f"<figure>{_img(p)}<figcaption>{html.escape(cap)}</figcaption></figure>" for cap, p in figures)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in (
            r.method, "all" if r.budget is None else r.budget, f"{100 * r.accuracy:.1f}",
            "" if r.accuracy_std is None else f"{100 * r.accuracy_std:.1f}", f"{r.gflops_per_video:.2f}",
            f"{r.ms_per_video:.1f}", "" if r.selection_precision is None else f"{r.selection_precision:.2f}",
            "" if r.segment_recall is None else f"{r.segment_recall:.2f}"))
        + "</tr>" for r in report.results)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>smartframes report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}figure{{display:inline-block;margin:1em}}
img{{max-width:100%}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}</style></head><body>
<h1>smartframes report</h1>
<p>Store: {html.escape(str(report.dataset))}<br>Selector: {html.escape(str(Path(selector_dir).resolve()))}<br>
{report.videos} {html.escape(report.split)} videos, classes: {html.escape(', '.join(report.classes))}</p>
<h2>Accuracy and cost (paper Table 2 layout)</h2>
<pre>{html.escape(format_table(report))}</pre>
<table><tr><th>method</th><th>n</th><th>accuracy %</th><th>std</th><th>GFLOPs/video</th><th>ms/video</th>
<th>selection precision</th><th>segment recall</th></tr>{rows}</table>
{"<h2>Ablation (paper Table 1 layout)</h2><pre>" + html.escape(format_ablation(ablation)) + "</pre>" if ablation else ""}
<h2>Figures</h2>
{body}
</body></html>
"""
    write_atomically(out, page)
    return out
