"""A 1,000-video soak (benchmarks/soak.py): short generated clips with a tenth hostile files, one
`smartframes extract` watched from outside. Memory stays flat, no file descriptor or child process
is left behind, every good video is extracted and every hostile one ends in a record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def test_a_thousand_videos_leave_memory_handles_and_processes_as_they_found_them(tmp_path, tally):
    out = tmp_path / "soak.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--videos", "1000", "--work", str(tmp_path / "work"),
                          "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    fig = json.loads(out.read_text())
    print(run.stdout)
    assert fig["exit status"] == 0
    outcome = fig["outcome"]
    assert outcome["good"] == {"done": 900}
    assert all(set(ends) <= {"done", "failed"} for ends in outcome.values()), outcome  # none lost
    assert sum(outcome[k].get("failed", 0) for k in outcome if k != "good") >= 90
    assert fig["processes left behind"] == 0
    assert fig["most child processes at once, once the first video was done"] <= 1
    assert max(fig["open fds, last hundred (min-max)"]) <= max(fig["open fds, first hundred (min-max)"]) + 2
    for what in ("peak RSS MB", "peak RSS MB with the decoder"):
        first, last = fig[f"{what}, first hundred"], fig[f"{what}, last hundred"]
        assert 0 < first and last <= first + 50, (what, first, last)
    tally["hostile inputs"] += fig["hostile"]
    tally["soak videos"] += fig["videos"]
    tally["soak RSS growth MB"] += round(fig["peak RSS MB, last hundred"] - fig["peak RSS MB, first hundred"])
    tally["processes left behind"] += fig["processes left behind"]
