"""``smartframes bench`` on a tiny clip: every figure measured, the table and JSON written."""

from __future__ import annotations

import json

from smartframes.cli import main


def test_bench_reports_every_stage_and_the_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--size", "64x48", "--frames", "24", "--repeats", "1", "-n", "4",
                 "--light-resolution", "32", "--expensive-resolution", "32", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    result = json.loads(out.read_text())
    for key in ("decode_native", "decode_scaled", "light_features", "expensive_features"):
        assert result[key]["frames"] == 24 and result[key]["median_fps"] > 0
    assert result["selector"]["candidates"] == 300 and result["selector"]["median_ms"] > 0
    assert set(result["per_video"]) == {"all", "uniform", "smart"}
    per = {k: v["median_s"] for k, v in result["per_video"].items()}
    assert result["ratios"]["all_over_smart"] == per["all"] / per["smart"]
    assert "all / SMART" in table and "selector on 300 candidates" in table
