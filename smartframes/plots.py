"""Pictures: contact sheets of selected frames (matplotlib, written as PNG)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def contact_sheet(selection, frames: np.ndarray, out: str | os.PathLike, columns: int = 4) -> None:
    """Write a PNG: the selected frames with their times and scores, over the score curve.

    Args:
        selection: a :class:`smartframes.serving.Selection`.
        frames: uint8 (n, H, W, 3), the selected frames in ``selection.indices`` order.
        out: PNG path.
    """
    n = len(frames)
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    fig = plt.figure(figsize=(3 * columns, 3.0 * rows + 2.2))
    grid = fig.add_gridspec(rows + 1, columns, height_ratios=[3.0] * rows + [2.0])
    pos = {int(c): k for k, c in enumerate(selection.candidates)}
    for k, (img, idx, t) in enumerate(zip(frames, selection.indices, selection.times)):
        ax = fig.add_subplot(grid[k // columns, k % columns])
        ax.imshow(img)
        ax.set_title(f"frame {idx}  {t:.2f} s\nscore {selection.score[pos[idx]]:.3f}", fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(grid[rows, :])
    ax.plot(selection.candidate_times, selection.score, color="tab:orange", label="score = delta x gamma")
    ax.plot(selection.candidate_times, selection.delta, color="tab:blue", alpha=0.5, lw=1, label="delta (SFS)")
    ax.plot(selection.candidate_times, selection.gamma, color="tab:green", alpha=0.5, lw=1, label="gamma (GS)")
    ax.scatter(selection.times, [selection.score[pos[i]] for i in selection.indices], color="tab:red", zorder=3, label="selected")
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=8, loc="upper right")
    name = os.path.basename(selection.path)
    fig.suptitle(f"{name}: {selection.label} ({selection.probability:.2f}) from {n} frames", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
