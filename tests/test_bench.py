"""``smartframes bench`` on a tiny clip: every figure measured, the table and JSON written."""

from __future__ import annotations

import json

import pytest

from smartframes.cli.main import main
from smartframes.features.extractor import FeatureExtractor

FRAMES, N = 24, 4
STAGES = ("decode_native", "decode_scaled", "light_features", "expensive_features")


@pytest.fixture
def frames_through(monkeypatch):
    """The number of frames of each call of the light and of the expensive backbone."""
    seen = {"light": [], "expensive": []}
    for kind in seen:
        original = getattr(FeatureExtractor, f"{kind}_features")

        def counting(self, images, original=original, kind=kind):
            seen[kind].append(len(images))
            return original(self, images)

        monkeypatch.setattr(FeatureExtractor, f"{kind}_features", counting)
    return seen


def test_bench_reports_every_stage_and_the_ratios(tmp_path, capsys, frames_through):
    out = tmp_path / "bench.json"
    assert main(["bench", "--size", "64x48", "--frames", str(FRAMES), "--repeats", "1", "-n", str(N),
                 "--batch-size", "32", "--light-resolution", "32", "--expensive-resolution", "32",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert set(result) == {"config", "machine", *STAGES, "selector", "per_video", "ratios"}
    for key in STAGES:
        assert result[key]["frames"] == FRAMES and result[key]["best_fps"] >= result[key]["median_fps"]
    assert result["decode_scaled"]["sizes"] == [36, 36]  # floor(32 / 0.875) for both backbones
    assert result["selector"]["candidates"] == 300 and result["selector"]["best_ms"] <= result["selector"]["median_ms"]
    assert set(result["per_video"]) == {"all", "uniform", "smart"}
    per = {k: v["median_s"] for k, v in result["per_video"].items()}
    assert all(v["best_s"] <= v["median_s"] for v in result["per_video"].values())
    assert result["ratios"]["all_over_smart"] == pytest.approx(per["all"] / per["smart"])
    assert result["ratios"]["smart_over_uniform"] == pytest.approx(per["smart"] / per["uniform"])
    assert set(frames_through["light"]) == {FRAMES}
    # the expensive stage and "all" pass the whole clip, "uniform" and SMART n frames, equally often
    expensive = frames_through["expensive"]
    assert set(expensive) == {FRAMES, N} and expensive.count(FRAMES) == expensive.count(N)
    assert f"all / SMART = {result['ratios']['all_over_smart']:.2f}x faster" in table
    assert f"SMART / uniform = {result['ratios']['smart_over_uniform']:.2f}x the time" in table
    assert "selector on 300 candidates" in table and f"one video of {FRAMES} frames, n = {N}:" in table
