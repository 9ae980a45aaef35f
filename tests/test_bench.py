"""``smartframes bench`` on tiny clips: every figure measured for both clips, every method end to end,
the ratios, the cold start, the table and JSON written."""

from __future__ import annotations

import json

import pytest

from smartframes.evaluation.bench import TIMED_METHODS, synthetic_frames
from smartframes.cli.main import main
from smartframes.features.extractor import FeatureExtractor
from smartframes.io.video import write_video

FRAMES, N, REAL_FRAMES = 24, 4, 30
STAGES = ("decode_native", "candidate_pass", "light_features")


@pytest.fixture
def frames_through(monkeypatch):
    """The number of frames of each call of the light and of the expensive backbone."""
    seen = {"light": [], "expensive": []}
    for kind in seen:
        original = getattr(FeatureExtractor, f"{kind}_tensors")

        def counting(self, images, original=original, kind=kind):
            seen[kind].append(len(images))
            return original(self, images)

        monkeypatch.setattr(FeatureExtractor, f"{kind}_tensors", counting)
    return seen


def test_bench_reports_every_stage_method_and_ratio_on_both_clips(tmp_path, capsys, frames_through):
    real = tmp_path / "real.mp4"
    write_video(real, synthetic_frames(REAL_FRAMES, 48, 32, seed=1), fps=10)
    out = tmp_path / "bench.json"
    assert main(["bench", "--size", "64x48", "--frames", str(FRAMES), "--repeats", "1", "-n", str(N),
                 "--batch-size", "32", "--light-resolution", "32", "--expensive-resolution", "32",
                 "--max-candidates", "16", "--video", str(real), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert set(result) == {"config", "machine", "model_load_s", "selector", "clips", "cold_start"}
    assert set(result["clips"]) == {"generated", "real"}
    assert result["selector"]["candidates"] == 300 and result["selector"]["best_ms"] <= result["selector"]["median_ms"]
    for name, frames in (("generated", FRAMES), ("real", REAL_FRAMES)):
        clip = result["clips"][name]
        assert clip["clip"]["frames"] == frames
        assert clip["decode_native"]["frames"] == frames and clip["candidate_pass"]["frames"] == 16
        assert clip["candidate_pass"]["size"] == 36  # floor(32 / 0.875)
        for key in STAGES:
            assert clip[key]["worst_fps"] <= clip[key]["median_fps"] <= clip[key]["best_fps"]
        assert clip["expensive_on_n"]["n"] == N
        assert set(clip["per_video"]) == {"all", *TIMED_METHODS}
        per = {k: v["median_s"] for k, v in clip["per_video"].items()}
        assert all(v["best_s"] <= v["median_s"] <= v["worst_s"] for v in clip["per_video"].values())
        assert clip["ratios"]["all_over_smart"] == pytest.approx(per["all"] / per["smart"])
        assert clip["ratios"]["smart_over_uniform"] == pytest.approx(per["smart"] / per["uniform"])
        assert clip["ratios"]["kcenter_over_uniform"] == pytest.approx(per["kcenter"] / per["uniform"])
        assert f"all / SMART = {clip['ratios']['all_over_smart']:.2f}x faster" in table
        runtimes = clip["runtimes"]  # every backbone runtime here, the default first, timed on the same frames
        assert list(runtimes) == result["config"]["runtimes"] and "torch" in runtimes
        first = runtimes[result["config"]["runtimes"][0]]
        assert first["light_speedup"] == first["expensive_speedup"] == 1.0
        for r in runtimes.values():
            assert r["light_features"]["frames"] == 16 and r["expensive_on_n"]["frames"] == N
            assert r["light_speedup"] == pytest.approx(r["light_features"]["median_fps"] / first["light_features"]["median_fps"])
    assert set(frames_through["light"]) <= {16}  # the candidates, one batch
    # the expensive classifier sees n frames from every method, every frame from "all"
    assert set(frames_through["expensive"]) == {N, FRAMES, REAL_FRAMES}
    cold = result["cold_start"]
    assert cold["clip"] == str(real)
    assert {"uniform, no checkpoint", "kcenter, no checkpoint", "smart + classifier, checkpoint"} < set(cold)
    assert all(v["median_s"] > 0 for k, v in cold.items() if k != "clip")
    assert "generated clip:" in table and "real clip: real.mp4" in table and "cold start" in table
    assert "over uniform: " in table and "selector on 300 candidates" in table
    assert "light features, runtime torch" in table


def test_bench_refuses_a_bad_video_before_timing(tmp_path, capsys):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    assert main(["bench", "--video", str(bad), "--no-cold-start"]) != 0
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err
