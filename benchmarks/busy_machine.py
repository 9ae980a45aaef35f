"""Extraction on a busy machine: ``smartframes extract`` alone, beside a CPU-bound busy loop, and
beside a second ``extract`` of the same store, under each backbone runtime. Prints the frames/s of
all the extraction together (frames stored over wall time) and each scenario over "alone".

    python benchmarks/busy_machine.py --labels LABELS.csv --work busy-run [--runtimes openvino,torch]
        [--max-candidates 64] [--repeats 3]

Each run starts from an empty store; the busy loop is one Python process spinning on one core.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from smartframes.features.store import FeatureStore

BUSY_LOOP = "while True: pass"


def extract_command(labels: Path, store: Path, runtime: str, max_candidates: int) -> list[str]:
    return [sys.executable, "-m", "smartframes", "extract", str(labels), "--store", str(store), "--quiet",
            "--runtime", runtime, "--max-candidates", str(max_candidates)]


def run(scenario: str, labels: Path, store: Path, runtime: str, max_candidates: int) -> float:
    """Frames/s of the whole extraction of ``labels`` into an empty ``store`` under ``scenario``."""
    shutil.rmtree(store, ignore_errors=True)
    command = extract_command(labels, store, runtime, max_candidates)
    beside = []
    if scenario == "busy loop":
        beside.append(subprocess.Popen([sys.executable, "-c", BUSY_LOOP]))
        time.sleep(0.5)
    began = time.perf_counter()
    workers = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)]
    if scenario == "second extract":
        workers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for w in workers:
        _, err = w.communicate()
        if w.returncode != 0:
            raise SystemExit(f"extract failed ({w.returncode}): {err.decode().strip()[-500:]}")
    wall = time.perf_counter() - began
    for b in beside:
        b.kill()
        b.wait()
    with FeatureStore.open(store) as s:
        frames = sum(len(s.load(r.id)["indices"]) for r in s.records(status="done"))
    return frames / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, required=True, help="a labels.csv (path,label[,split])")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--runtimes", default="openvino,torch")
    parser.add_argument("--max-candidates", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    scenarios = ("alone", "busy loop", "second extract")
    print(f"frames/s of all extraction together, median (range) of {args.repeats} runs; ratio to alone")
    for runtime in args.runtimes.split(","):
        figures = {s: [] for s in scenarios}
        for _ in range(args.repeats):  # interleaved, so that a drift of the machine's speed hits every scenario
            for s in scenarios:
                figures[s].append(run(s, args.labels, args.work / "store", runtime, args.max_candidates))
        alone = statistics.median(figures["alone"])
        for s, f in figures.items():
            print(f"  {runtime:<9} {s:<15} {statistics.median(f):6.1f} ({min(f):.1f}-{max(f):.1f})  "
                  f"{statistics.median(f) / alone:.2f}x", flush=True)


if __name__ == "__main__":
    main()
