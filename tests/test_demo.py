"""The demo end to end on a tiny benchmark: every artefact written, a second run reuses them."""

from __future__ import annotations

import json

from smartframes.demo import run_demo
from smartframes.synth import SynthConfig

TINY = SynthConfig(classes=4, per_class=8, frames=10, size=64)


def test_demo_writes_everything_and_reuses_it(tmp_path, capsys):
    first = run_demo(tmp_path, progress=False, benchmark=TINY)
    assert first["extract"].done == 32 and first["extract"].failed == 0
    for name in ("selected.png", "results.json", "report.html", "selector/config.json", "selector/model.safetensors"):
        assert (tmp_path / name).is_file(), name
    assert {"accuracy_vs_frames.png", "score_by_class.png", "sfs_vs_gs.png"} <= {
        p.name for p in (tmp_path / "report_figures").glob("*.png")}
    results = json.loads((tmp_path / "results.json").read_text())
    methods = {r["method"] for r in results["results"]}
    assert methods == {"smart", "sfs", "gs", "uniform", "random", "all", "oracle"}
    assert all(r["selection_precision"] is not None for r in results["results"])  # ground truth found
    assert len(results["ablation"]["rows"]) == 8
    capsys.readouterr()

    second = run_demo(tmp_path, progress=False, benchmark=TINY)
    out = capsys.readouterr().out
    assert "benchmark: reusing" in out and "selector: reusing" in out and "ablation: reusing" in out
    assert second["extract"].done == 0 and second["extract"].skipped == 32
    assert _without_timings(second) == _without_timings(first)


def _without_timings(run: dict) -> list[dict]:
    """The results less the measured milliseconds, which differ from run to run."""
    return [{k: v for k, v in r.items() if k != "ms_per_video"} for r in run["report"]["results"]]
