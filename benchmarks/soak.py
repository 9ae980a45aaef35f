"""A long `smartframes extract`: many short generated clips with hostile files mixed in, watched
from outside while it runs. Prints the resident memory (peak over the first and the last hundred
videos finished), the open file descriptors and child processes over the run, the throughput per
hundred videos, what became of every file, and what was left behind once it ended.

    python benchmarks/soak.py [--videos 1000] [--hostile 0.1] [--work soak-run] [--json soak.json]

The clips are 12 frames of 80x64 (a moving square on grey, one class per colour); a tenth of the
files (by default) are hostile: cut short, zeroed in the middle, random bytes, or empty. The spec
is small (48 px, 4 candidates a video) so that the run measures the pipeline's bookkeeping, not the
backbones. tests/reliability/test_soak.py runs this script and checks its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from smartframes.features.store import FeatureStore
from smartframes.io.video import write_video

COLOURS = {"red": (200, 30, 30), "blue": (30, 30, 200), "green": (30, 200, 30), "yellow": (200, 200, 30)}
HOSTILE_KINDS = ("cut short", "zeroed middle", "random bytes", "empty")
SPEC_ARGS = ("--light-resolution", "48", "--expensive-resolution", "48", "--max-candidates", "4")
WINDOW = 100


def write_videos(root: Path, count: int, hostile_share: float, seed: int = 0) -> dict[str, str]:
    """``count`` clips under ``root/<colour>/``; returns path -> "good" or the kind of damage."""
    rng = np.random.default_rng(seed)
    hostile = set(rng.choice(count, size=int(round(count * hostile_share)), replace=False).tolist())
    kinds: dict[str, str] = {}
    names = list(COLOURS)
    hostile_written = 0
    for k in range(count):
        colour = names[k % len(names)]
        path = root / colour / f"{k:05d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        clip = np.full((12, 64, 80, 3), 90, np.uint8)
        for t in range(12):
            x = int(rng.integers(0, 56))
            clip[t, 20:44, x : x + 24] = COLOURS[colour]
        write_video(path, clip, fps=12)
        kind = "good"
        if k in hostile:
            kind = HOSTILE_KINDS[hostile_written % len(HOSTILE_KINDS)]  # each kind in turn
            hostile_written += 1
            data = bytearray(path.read_bytes())
            if kind == "cut short":
                data = data[: len(data) * 2 // 5]
            elif kind == "zeroed middle":
                data[len(data) // 3 : 2 * len(data) // 3] = bytes(2 * len(data) // 3 - len(data) // 3)
            elif kind == "random bytes":
                data = bytearray(rng.integers(0, 256, size=len(data), dtype=np.uint8).tobytes())
            else:
                data = bytearray()
            path.write_bytes(bytes(data))
        kinds[str(path.resolve())] = kind
    return kinds


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _left_behind(seen: set[int]) -> list[int]:
    """Of the processes ``seen`` in the extract's tree, those still running (the extract and its
    decoding children name smartframes in their command lines; a reused pid would not)."""
    pids = []
    for pid in seen:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                named = b"smartframes" in fh.read()
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if named and state not in ("Z", "X"):
            pids.append(pid)
    return pids


def soak(work: Path, videos: int, hostile_share: float, every: float = 0.1) -> dict:
    """Write the clips, run ``smartframes extract`` over them and watch it; returns the figures."""
    shutil.rmtree(work, ignore_errors=True)
    kinds = write_videos(work / "videos", videos, hostile_share)
    store = work / "store"
    command = [sys.executable, "-m", "smartframes", "extract", str(work / "videos"), "--store", str(store),
               "--quiet", "--allow-partial", *SPEC_ARGS]
    samples = []  # (seconds, videos finished, main RSS MB, RSS of the whole tree MB, fds, children)
    began = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    features = store / "features"
    seen: set[int] = set()
    while proc.poll() is None:
        tree = _tree(proc.pid)
        seen.update(tree)
        done = sum(1 for _ in features.glob("[!.]*.safetensors")) if features.is_dir() else 0
        samples.append((time.perf_counter() - began, done, _rss_mb(proc.pid), sum(_rss_mb(p) for p in tree),
                        _fds(proc.pid), len(tree) - 1))
        time.sleep(every)
    seconds = time.perf_counter() - began
    stderr = proc.stderr.read()
    time.sleep(0.5)
    left = _left_behind(seen)
    with FeatureStore.open(store) as fs:
        done = {r.path for r in fs.records(status="done")}
        failed = {r.path: r.error for r in fs.records(status="failed")}
    outcome: dict[str, dict[str, int]] = {}
    for path, kind in kinds.items():
        end = "done" if path in done else "failed" if path in failed else "missing"
        outcome.setdefault(kind, {}).setdefault(end, 0)
        outcome[kind][end] += 1
    finished = max((s[1] for s in samples), default=0)

    def window(lo: int, hi: int) -> list[tuple]:
        return [s for s in samples if lo <= s[1] < hi]

    first, last = window(1, 1 + WINDOW), window(finished - WINDOW, finished + 1)
    reached = {}  # videos finished -> first time seen
    for t, n, *_ in samples:
        reached.setdefault(n // WINDOW, t)
    marks = sorted(reached.items())
    rates = [WINDOW / (t2 - t1) for (k1, t1), (k2, t2) in zip(marks, marks[1:]) if k2 == k1 + 1 and k1 >= 1]
    return {
        "videos": videos, "hostile": sum(1 for k in kinds.values() if k != "good"), "seconds": round(seconds, 1),
        "exit status": proc.returncode, "stderr": stderr.strip().splitlines()[-3:],
        "outcome": outcome,
        "peak RSS MB, first hundred": round(max((s[2] for s in first), default=0), 1),
        "peak RSS MB, last hundred": round(max((s[2] for s in last), default=0), 1),
        "peak RSS MB with the decoder, first hundred": round(max((s[3] for s in first), default=0), 1),
        "peak RSS MB with the decoder, last hundred": round(max((s[3] for s in last), default=0), 1),
        "open fds, first hundred (min-max)": [min((s[4] for s in first), default=0), max((s[4] for s in first), default=0)],
        "open fds, last hundred (min-max)": [min((s[4] for s in last), default=0), max((s[4] for s in last), default=0)],
        "most child processes at once, once the first video was done": max((s[5] for s in samples if s[1] >= 1),
                                                                            default=0),
        "videos/s per hundred (after the first)": [round(r, 1) for r in rates],
        "processes left behind": len(left),
        "samples": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--hostile", type=float, default=0.1, help="share of hostile files (default 0.1)")
    parser.add_argument("--work", default="soak-run", help="folder for the clips and the store (emptied first)")
    parser.add_argument("--json", default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    figures = soak(Path(args.work), args.videos, args.hostile)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    rates = figures["videos/s per hundred (after the first)"]
    if rates:
        print(f"{'videos/s, median (min-max)':<{width}}  {statistics.median(rates):.1f} ({min(rates):.1f}-{max(rates):.1f})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
