"""The reliability suite keeps a tally across its tests and prints it at the end of the run:
hostile inputs tried, crashes, hangs, and lost or corrupted results (the last three must be 0)."""

from __future__ import annotations

from collections import Counter

import pytest

TALLY: Counter = Counter()
OUTCOMES: Counter = Counter()  # what hostile inputs ended in, e.g. "frames", "VideoError"


@pytest.fixture
def tally() -> Counter:
    return TALLY


@pytest.fixture
def outcomes() -> Counter:
    return OUTCOMES


def pytest_terminal_summary(terminalreporter):
    if not TALLY and not OUTCOMES:
        return
    tr = terminalreporter
    tr.section("reliability")
    tr.write_line(f"hostile inputs tried: {TALLY['hostile inputs']}")
    for outcome, n in sorted(OUTCOMES.items()):
        tr.write_line(f"  ended in {outcome}: {n}")
    tr.write_line(f"crashes: {TALLY['crashes']}")
    tr.write_line(f"hangs: {TALLY['hangs']}")
    tr.write_line(f"lost or corrupted results: {TALLY['lost or corrupted']}")
    tr.write_line(f"SIGKILLs survived: {TALLY['kills']}; concurrent writers: {TALLY['concurrent writers']}")
    tr.write_line(f"full disks survived: {TALLY['disk full']}; reads beside a running extract: "
                  f"{TALLY['readers beside a writer']}")
    if TALLY["soak videos"]:
        tr.write_line(f"soak: {TALLY['soak videos']} videos in one extract, peak RSS of the last hundred "
                      f"{TALLY['soak RSS growth MB']:+d} MB over the first; processes left behind: "
                      f"{TALLY['processes left behind']}")
