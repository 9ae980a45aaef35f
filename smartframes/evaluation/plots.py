"""Pictures: contact sheets of selected frames and the paper's figures, written as PNG.

Figures are drawn on ``matplotlib.figure.Figure`` objects, never through pyplot: nothing here
switches the backend of the caller's process or keeps figures alive in pyplot's registry.
"""

from __future__ import annotations

import os

import numpy as np

from ..io.files import atomic_write


def _figure(**kwargs):
    """A new matplotlib figure; matplotlib is imported on first use, so that importing smartframes
    (every CLI call does) does not pay for it."""
    from matplotlib.figure import Figure as MatplotlibFigure

    return MatplotlibFigure(**kwargs)


def contact_sheet(selection, frames: np.ndarray, out: str | os.PathLike, columns: int = 4, segments=None) -> None:
    """Write a PNG: the selected frames with their times and scores, over the score curve (or,
    for a training-free method, over where the chosen frames lie among the candidates).

    Args:
        selection: a :class:`smartframes.selection.serving.Selection`.
        frames: uint8 (n, H, W, 3), the selected frames in ``selection.indices`` order.
        out: PNG path.
        segments: where the action happens (:class:`smartframes.data.segments.Segment` list): shaded
            under the curve, and each frame titled "in action" or "outside".
    """
    from ..data.segments import inside_segments

    inside = inside_segments(selection.times, segments) if segments else None
    n = len(frames)
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    fig = _figure(figsize=(3 * columns, 3.0 * rows + 2.2))
    grid = fig.add_gridspec(rows + 1, columns, height_ratios=[3.0] * rows + [2.0])
    pos = {int(c): k for k, c in enumerate(selection.candidates)}
    for k, (img, idx, t) in enumerate(zip(frames, selection.indices, selection.times)):
        ax = fig.add_subplot(grid[k // columns, k % columns])
        ax.imshow(img)
        scored = f"\nscore {selection.score[pos[idx]]:.3f}" if selection.score is not None else ""
        where = "" if inside is None else ("\nin action" if inside[k] else "\noutside the action")
        ax.set_title(f"frame {idx}  {t:.2f} s{scored}{where}", fontsize=9,
                     color="black" if inside is None or inside[k] else "tab:red")
        ax.axis("off")
    ax = fig.add_subplot(grid[rows, :])
    if selection.score is not None:
        ax.plot(selection.candidate_times, selection.score, color="tab:orange", label="score = delta x gamma")
        ax.plot(selection.candidate_times, selection.delta, color="tab:blue", alpha=0.5, lw=1, label="delta (SFS)")
        ax.plot(selection.candidate_times, selection.gamma, color="tab:green", alpha=0.5, lw=1, label="gamma (GS)")
        ax.scatter(selection.times, [selection.score[pos[i]] for i in selection.indices], color="tab:red", zorder=3,
                   label="selected")
    else:  # a training-free method: where the chosen frames lie among the candidates
        ax.vlines(selection.candidate_times, 0, 0.5, color="tab:gray", lw=0.8, label="candidates")
        ax.vlines(selection.times, 0, 1, color="tab:red", lw=2, label="selected")
        ax.set_yticks([])
    for j, seg in enumerate(segments or []):
        ax.axvspan(seg.start, seg.end, color="tab:green", alpha=0.15, label="action (annotated)" if j == 0 else None)
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=8, loc="upper right")
    name = os.path.basename(selection.path)
    if inside is not None:
        name += f" ({int(inside.sum())} of {n} in the action)"
    chose = f"{selection.method} chose {n} of {len(selection.candidates)} frames"
    said = f"; {selection.label} ({selection.probability:.2f}) from them" if selection.label is not None else ""
    fig.suptitle(f"{name}: {chose}{said}", fontsize=11)
    fig.tight_layout()
    _save(fig, out, dpi=80)


def accuracy_vs_frames(report, out: str | os.PathLike) -> None:
    """Paper Fig. 3a: accuracy against the number of frames for SMART, uniform and random, with the
    all-frames accuracy as a line. ``report`` is an :class:`smartframes.evaluation.evaluate.Evaluation`."""
    rows = {(r.method, r.budget): r for r in report.results}
    budgets = report.budgets
    fig = _figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    for method, colour, z in (("smart", "tab:orange", 3), ("uniform", "tab:blue", 2), ("random", "tab:red", 2)):
        acc = np.array([100 * rows[(method, n)].accuracy for n in budgets])
        ax.plot(budgets, acc, "o-", color=colour, label=method if method != "smart" else "SMART", zorder=z)
        if method == "random":
            std = np.array([100 * (rows[(method, n)].accuracy_std or 0) for n in budgets])
            ax.fill_between(budgets, np.clip(acc - std, 0, 100), np.clip(acc + std, 0, 100), color=colour, alpha=0.15)
    ax.axhline(100 * rows[("all", None)].accuracy, color="gray", ls="--", label="all frames")
    ax.set_xlabel("number of frames n")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(budgets)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, out, dpi=90)


def _resample(values: np.ndarray, points: int = 50) -> np.ndarray:
    """A score curve over normalised time [0, 1], linearly interpolated to ``points`` samples."""
    if len(values) == 1:
        return np.full(points, float(values[0]))
    return np.interp(np.linspace(0, 1, points), np.linspace(0, 1, len(values)), values)


def score_curves_by_class(curves: dict[str, list[np.ndarray]], out: str | os.PathLike, title: str) -> None:
    """Paper Fig. 3b / Fig. 4: mean score over normalised time, one line per entry of ``curves``
    (e.g. per class, or SFS vs GS for one class), each a list of per-video score arrays."""
    fig = _figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    for name, videos in curves.items():
        ax.plot(np.linspace(0, 1, 50), np.mean([_resample(v) for v in videos], axis=0), label=f"{name} ({len(videos)})")
    ax.set_xlabel("normalised time")
    ax.set_ylabel("mean score")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, out, dpi=90)


def selection_strip(selected: np.ndarray, rejected: np.ndarray, out: str | os.PathLike, title: str,
                    timeline=None) -> None:
    """Paper Figs. 5-6: a row of frames not selected (top) over a row of frames selected (bottom).

    ``timeline``: ``(candidate_times, selected_times, rejected_times, segments)`` draws a time axis
    under the strips with the annotated action (:class:`smartframes.data.segments.Segment` list)
    shaded and where the frames of each row lie."""
    n = max(len(selected), len(rejected), 1)
    fig = _figure(figsize=(1.8 * n, 4.0 + (1.0 if timeline is not None else 0.0)))
    if timeline is not None:
        grid = fig.add_gridspec(3, n, height_ratios=[2.0, 2.0, 1.0])
        axes = np.array([[fig.add_subplot(grid[r, k]) for k in range(n)] for r in range(2)])
        ax = fig.add_subplot(grid[2, :])
        candidate_times, chosen, rest, segments = timeline
        for j, seg in enumerate(segments or []):
            ax.axvspan(seg.start, seg.end, color="tab:green", alpha=0.2, label="action" if j == 0 else None)
        ax.vlines(candidate_times, 0, 0.3, color="tab:gray", lw=0.6)
        ax.vlines(rest, 0, 0.7, color="tab:blue", lw=2, label="not selected")
        ax.vlines(chosen, 0, 1, color="tab:red", lw=2, label="selected")
        ax.set_yticks([])
        ax.set_xlabel("time (s)", fontsize=8)
        ax.legend(fontsize=7, loc="upper right", ncol=3)
    else:
        axes = fig.subplots(2, n, squeeze=False)
    for row, (frames, name) in enumerate(((rejected, "not selected"), (selected, "selected"))):
        for k in range(n):
            ax = axes[row, k]
            ax.axis("off")
            if k < len(frames):
                ax.imshow(frames[k])
        axes[row, 0].set_title(name, fontsize=9, loc="left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, out, dpi=80)


def _save(fig, out, dpi: int) -> None:
    """Write a figure atomically, in the format its file name says."""
    with atomic_write(out) as tmp:
        fig.savefig(tmp, dpi=dpi, format=os.path.splitext(str(out))[1][1:] or "png")
