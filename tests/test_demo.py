"""The demo end to end on a tiny benchmark: every artefact written, a second run reuses them."""

from __future__ import annotations

import json

import pytest

from smartframes.scale.demo import run_demo
from smartframes.data.synth import SynthConfig
from smartframes.selection.methods import METHODS

TINY = SynthConfig(classes=4, per_class=8, frames=10, size=64)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One full demo run: its folder and what it returned."""
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(out, progress=False, benchmark=TINY)


def test_demo_writes_everything(demo):
    out, first = demo
    assert first["extract"].done == 32 and first["extract"].failed == 0
    for name in ("selected.png", "results.json", "report.html", "selector/config.json", "selector/model.safetensors"):
        assert (out / name).is_file(), name
    assert {"accuracy_vs_frames.png", "score_by_class.png", "sfs_vs_gs.png"} <= {
        p.name for p in (out / "report_figures").glob("*.png")}
    results = json.loads((out / "results.json").read_text())
    methods = {r["method"] for r in results["results"]}
    assert methods == set(METHODS)
    assert all(r["selection_precision"] is not None for r in results["results"])  # ground truth found
    assert len(results["ablation"]["rows"]) == 8


def test_a_second_run_reuses_everything(demo, capsys):
    out, first = demo
    second = run_demo(out, progress=False, benchmark=TINY)
    printed = capsys.readouterr().out
    assert "benchmark: reusing" in printed and "selector: reusing" in printed and "ablation: reusing" in printed
    assert second["extract"].done == 0 and second["extract"].skipped == 32
    assert _without_timings(second) == _without_timings(first)


def _without_timings(run: dict) -> list[dict]:
    """The results less the measured milliseconds, which differ from run to run."""
    return [{k: v for k, v in r.items() if k != "ms_per_video"} for r in run["report"].to_dict()["results"]]
