"""Does a cheaper precision change what a user sees? Two runs of ``benchmarks/real_ucf101.py`` that
differ only in a precision (``--expensive-precision`` or ``--light-precision``), compared method by
method and budget by budget on the test split: the difference of the mean accuracy over the seeds,
in points and in test clips. The gate: no method at any budget moves by more than one clip.

    python benchmarks/real_ucf101.py --labels L --work W32 --seeds 0,1,2,3,4
    python benchmarks/real_ucf101.py --labels L --work W16 --seeds 0,1,2,3,4 --expensive-precision bfloat16
    python benchmarks/precision_gate.py W32 W16

Why this gate and not bit equality or the same top-n frames: a user sees accuracy over a test set,
and a feature that moves in the last bits can swap two frames of nearly equal score without changing
a single answer; one clip is the smallest change a user can observe on this set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from smartframes.features.store import FeatureStore


def load(work: Path, annotations: str) -> tuple[dict[str, list[float]], int]:
    """A run's test accuracies per ``method@n`` (one per seed) and its number of test videos."""
    path = work / f"results-{annotations}.json"
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: cannot read the run's results ({e})") from None
    videos = results.get("test_videos") or len(FeatureStore.open(work / "store").records(status="done", split="test"))
    return results["rows"], videos


def order(key: str) -> tuple[str, int]:
    """``method@n`` sorted by method, then budget (``all@None`` has none)."""
    method, _, n = key.partition("@")
    return method, 0 if n == "None" else int(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="work folder of the reference run (float32)")
    parser.add_argument("tried", type=Path, help="work folder of the run in the cheaper precision")
    parser.add_argument("--annotations", default="auto", help="which results file (the runs' --annotations)")
    args = parser.parse_args()
    ref, videos = load(args.reference, args.annotations)
    tried, videos_tried = load(args.tried, args.annotations)
    if videos != videos_tried:
        raise SystemExit(f"the runs tested different sets: {videos} and {videos_tried} test videos")
    clip = 100 / videos
    worst = 0.0
    print(f"{videos} test videos: one clip = {clip:.2f} points; mean accuracy over seeds, tried - reference")
    for key in sorted(set(ref) & set(tried), key=order):
        a, b = 100 * np.mean(ref[key]), 100 * np.mean(tried[key])
        worst = max(worst, abs(b - a))
        print(f"  {key:<14} {a:6.1f} -> {b:6.1f}  {b - a:+5.1f} points ({(b - a) / clip:+.1f} clips)"
              + ("  MOVED" if abs(b - a) > clip + 1e-9 else ""))
    verdict = "passes" if worst <= clip + 1e-9 else "fails"
    print(f"largest change {worst:.2f} points = {worst / clip:.2f} clips: the gate (<= 1 clip) {verdict}")


if __name__ == "__main__":
    main()
