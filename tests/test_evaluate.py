"""Evaluation: FLOP counting, baselines, the table and the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from smartframes.cli.main import main
from smartframes.errors import SmartframesError
from smartframes.evaluation.cost import count_flops
from smartframes.evaluation.evaluate import evaluate, format_paired, format_table
from smartframes.selection.methods import METHODS, choose, random_frames, uniform_frames
from smartframes.selection.scoring import score_videos
from smartframes.selection.config import TrainConfig
from smartframes.selection.train import train_selector


def test_flop_counter_agrees_with_a_hand_count():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 5))
    hand = 2 * (3 * 3 * 3) * 4 * (8 * 8) + 2 * (4 * 8 * 8) * 5  # multiply-adds counted as 2 FLOPs
    assert count_flops(net, torch.zeros(1, 3, 8, 8)) == hand


def test_flop_counter_sees_inside_the_lstm():
    lstm = torch.nn.LSTM(4, 3, batch_first=True)
    steps = 5
    hand = steps * 2 * (4 * 3) * (4 + 3)  # per step: 4 gates of width 3 from input (4) and hidden (3)
    assert count_flops(lstm, torch.zeros(1, steps, 4)) == hand


def test_baseline_choices():
    assert uniform_frames(10, 2) == [2, 7] and uniform_frames(3, 5) == [0, 1, 2]
    picks = random_frames(10, 4, np.random.default_rng(0))
    assert len(set(picks)) == 4 and picks == sorted(picks)
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert choose("oracle", 2, 3, probs=probs, label=0) == [0, 2]
    assert choose("all", None, 3) == [0, 1, 2]


@pytest.fixture(scope="module")
def toy_eval(tmp_path_factory, make_toy_store):
    root = tmp_path_factory.mktemp("toy_eval")
    make_toy_store(root)
    train_selector(root / "store", root / "ckpt", TrainConfig(epochs=10), progress=False, log=lambda m: None)
    return root


def test_budget_at_least_candidates_equals_all(toy_eval):
    evaluation = evaluate(toy_eval / "store", toy_eval / "ckpt", budgets=(4, 20, 50))
    report = evaluation.to_dict()
    rows = {(r["method"], r["budget"]): r for r in report["results"]}
    everything = rows[("all", None)]["accuracy"]
    for method in METHODS:
        if method != "all":
            assert rows[(method, 20)]["accuracy"] == rows[(method, 50)]["accuracy"] == everything
            assert rows[(method, 50)]["videos_below_budget"] == report["videos"]
    assert rows[("smart", 4)]["accuracy"] > rows[("uniform", 4)]["accuracy"]
    assert rows[("smart", 4)]["gflops_per_video"] < rows[("all", None)]["gflops_per_video"]
    table = format_table(evaluation)
    assert "SMART" in table and "All frames" in table and "n=4" not in table
    for r in evaluation.results:  # one 0/1 per video behind every deterministic accuracy
        assert (r.correct is None) == (r.method == "random")
        assert r.correct is None or (len(r.correct) == report["videos"] and np.mean(r.correct) == pytest.approx(r.accuracy))
    runs = {(r.method, r.budget): [r, r] for r in evaluation.results}
    line = format_paired(runs, [4])
    gap = 100 * (rows[("smart", 4)]["accuracy"] - rows[("uniform", 4)]["accuracy"])
    assert f"n=4 {gap:+.1f} [" in line and f"(worst run {gap:+.1f})" in line


def test_cli_json_has_the_documented_fields(toy_eval, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["evaluate", "--store", str(toy_eval / "store"), "--selector", str(toy_eval / "ckpt"),
                 "--budgets", "2,4", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"dataset", "results"} <= set(report)
    for r in report["results"]:
        assert {"method", "budget", "accuracy", "gflops_per_video", "ms_per_video", "selection_precision"} <= set(r)
        assert (r["budget"] is None) == (r["method"] == "all")
        assert 0 <= r["accuracy"] <= 1 and r["gflops_per_video"] > 0 and r["ms_per_video"] > 0
        assert r["selection_precision"] is None  # made-up features: no ground truth
    assert len(report["results"]) == (len(METHODS) - 1) * 2 + 1 and report["skipped"] == []


def test_report_renders_in_headless_chromium(toy_eval, tmp_path):
    """Escaping of labels and paths: tests/reliability/test_untrusted_inputs.py."""
    import shutil
    import subprocess

    from smartframes.evaluation.report import build_report

    page = build_report(toy_eval / "store", toy_eval / "ckpt", tmp_path / "r.html", budgets=(2, 4)).read_text()
    assert page.count("data:image/png;base64,") >= 3 and "http" not in page.replace("http-equiv", "")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed; the page was checked as text only")
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1000,1400", (tmp_path / "r.html").as_uri()], capture_output=True, timeout=120)
    from skimage.io import imread

    pixels = imread(shot)[..., :3]
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.01  # text and figures, not a blank page


@pytest.mark.slow
def test_ablation_rows(toy_eval):
    from smartframes.evaluation.ablation import ablation, format_ablation

    trained = []
    ours, _ = train_selector(toy_eval / "store", None, TrainConfig(epochs=3), progress=False, log=lambda m: None)
    ablated = ablation(toy_eval / "store", 4, TrainConfig(epochs=3), default=ours, log=trained.append)
    table = ablated.to_dict()
    assert "ablation: training SMART 2-frame input" not in trained and "ablation: training SFS + GS" in trained
    assert [r["row"] for r in table["rows"]] == ["VF", "VF + GloVe", "SFS only", "GS only", "SFS + GS",
                                                 "SMART 2-frame input", "SMART 2-frame input", "GS only"]
    assert [b["row"] for b in table["baselines"]] == ["Random", "Uniform", "All frames"]
    rows = {(r["section"], r["row"]): r for r in table["rows"]}
    assert rows[("Input features", "VF + GloVe")]["accuracy"] == rows[("Selector", "GS only")]["accuracy"]  # same network
    cost = {key: r["gflops_per_video"] for key, r in rows.items()}
    both = cost[("Selector", "SFS + GS")]
    assert cost[("Selector", "SFS only")] < both and cost[("Selector", "GS only")] < both  # a variant pays what it runs
    assert cost[("Input features", "VF")] < cost[("Input features", "VF + GloVe")]  # no ImageNet head without GloVe
    assert len({r["section"] for r in table["rows"]}) == 4
    assert all(0 <= r["accuracy"] <= 1 and r["gflops_per_video"] > 0 for r in table["rows"])
    assert "Input features" in format_ablation(ablated) and "SMART 2-frame input" in format_ablation(ablated)


def test_average_precision_by_hand():
    from smartframes.evaluation.metrics import average_precision, mean_average_precision

    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0.1, 0.9], [1, 0]) == pytest.approx(0.5)
    predictions = np.array([[0.9, 0.5, 0.0], [0.2, 0.7, 0.1], [0.5, 0.1, 0.1]])
    # class 0: positives 0 and 2, ranked first -> AP 1; class 1: positives 1 and 2 (multi-label), ranked 1st and 3rd
    assert mean_average_precision(predictions, [[0], [1], [0, 1]]) == pytest.approx((1 + (1 + 2 / 3) / 2) / 2)


def test_average_precision_takes_tied_scores_together():
    from smartframes.evaluation.metrics import average_precision

    assert average_precision([1.0, 1.0], [1, 0]) == average_precision([1.0, 1.0], [0, 1]) == pytest.approx(0.5)
    # one threshold at 0.9 (2 videos, 1 positive), then 0.5 (4 videos, 2 positives)
    assert average_precision([0.9, 0.9, 0.5, 0.5], [0, 1, 1, 0]) == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_average_precision_does_not_depend_on_the_order_of_videos(rows, rnd):
    from smartframes.evaluation.metrics import average_precision

    scores, positive = [float(s) for s, _ in rows], [p for _, p in rows]
    shuffled = list(zip(scores, positive))
    rnd.shuffle(shuffled)
    a = average_precision(scores, positive)
    b = average_precision([s for s, _ in shuffled], [p for _, p in shuffled])
    assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b)


SCORE_VALUES = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])  # few values: many ties


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(SCORE_VALUES, st.booleans()), min_size=1, max_size=30).filter(lambda r: any(p for _, p in r)))
def test_average_precision_is_scikit_learns(rows):
    from sklearn.metrics import average_precision_score

    from smartframes.evaluation.metrics import average_precision

    scores, positive = [s for s, _ in rows], [p for _, p in rows]
    assert average_precision(scores, positive) == pytest.approx(average_precision_score(positive, scores), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 20).flatmap(lambda v: st.tuples(
    st.lists(st.lists(SCORE_VALUES, min_size=4, max_size=4), min_size=v, max_size=v),
    st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True), min_size=v, max_size=v))))
def test_mean_average_precision_is_scikit_learns_mean_over_classes(case):
    from sklearn.metrics import average_precision_score

    from smartframes.evaluation.metrics import mean_average_precision

    predictions, labels = np.array(case[0]), case[1]
    positive = np.zeros(predictions.shape, bool)
    for v, classes in enumerate(labels):
        positive[v, classes] = True
    present = [c for c in range(4) if positive[:, c].any()]
    want = np.mean([average_precision_score(positive[:, c], predictions[:, c]) for c in present])
    assert mean_average_precision(predictions, labels) == pytest.approx(want, abs=1e-12)


def test_accuracy_of_a_multi_label_video_is_hit_at_1():
    from smartframes.evaluation.metrics import hit_at_1

    assert hit_at_1(np.array([0.1, 0.7, 0.2]), [0, 1]) and not hit_at_1(np.array([0.1, 0.7, 0.2]), [0, 2])


def test_evaluation_scores_each_video_as_serving_does(toy_eval):
    from smartframes.selection.checkpoint import load_checkpoint
    from smartframes.features.store import FeatureStore
    from smartframes.selection.scoring import load_videos, score_videos

    ckpt = load_checkpoint(toy_eval / "ckpt")
    with FeatureStore.open(toy_eval / "store") as store:
        videos = load_videos(store, "test", ckpt.classes)
    videos[0].x = videos[0].x[:11]  # lengths differ within the batch
    batched = score_videos(ckpt.selector, videos, precision_name="float32")
    for v, (score, delta, gamma) in zip(videos, batched):
        x = torch.from_numpy(v.x)[None]  # (1, T, D), scored alone with serving's partners (seed 0)
        with torch.inference_mode():
            alone, alone_delta, out = ckpt.selector(x, torch.ones(1, len(v.x), dtype=torch.bool))
        for got, want in zip((score, delta, gamma), (alone, alone_delta, out.gamma)):
            np.testing.assert_allclose(got, want[0].numpy(), rtol=1e-5, atol=1e-6)


def test_evaluate_pools_every_method_as_the_checkpoints_head_says(toy_eval):
    from dataclasses import replace

    from smartframes.selection.checkpoint import load_checkpoint
    from smartframes.selection.head import pool_frames

    ckpt = load_checkpoint(toy_eval / "ckpt")
    assert ckpt.head.cfg.pooling in (1, 2, 4, 8)  # chosen on val in training
    results = {}
    for pooling in (1, 4):
        ckpt.head.cfg = replace(ckpt.head.cfg, pooling=pooling)
        report = evaluate(toy_eval / "store", None, (8,), ckpt=ckpt)
        expected = [int(pool_frames(v.probs, pooling).argmax() == v.label) for v, _ in report.scored]
        assert report.result("all").correct == tuple(expected)
        results[pooling] = report
    assert results[1].result("all").correct != results[4].result("all").correct or \
        results[1].result("uniform", 8).correct != results[4].result("uniform", 8).correct


def test_evaluate_with_probabilities_from_your_own_model(toy_eval, tmp_path):
    from smartframes.features.store import FeatureStore

    probs_dir = tmp_path / "probs"
    probs_dir.mkdir()
    with FeatureStore.open(toy_eval / "store") as store:
        classes = store.classes()
        for rec in store.records(split="test"):
            logits = np.zeros((20, len(classes)))
            logits[:, classes.index(rec.label)] = 2.0  # a model that is always right
            np.save(probs_dir / (Path(rec.path).stem + ".npy"), logits)
    evaluation = evaluate(toy_eval / "store", toy_eval / "ckpt", budgets=(2,), probs_dir=probs_dir, expensive_gflops=11.5)
    report = evaluation.to_dict()
    rows = {(r["method"], r["budget"]): r for r in report["results"]}
    assert all(r["accuracy"] == 1.0 and r["map"] == pytest.approx(1.0) for r in report["results"])
    assert rows[("all", None)]["gflops_per_video"] == pytest.approx(20 * 11.5)
    assert rows[("uniform", 2)]["gflops_per_video"] == pytest.approx(2 * 11.5)
    assert "--expensive-gflops" in format_table(evaluation)
    missing = sorted(probs_dir.iterdir())[0]
    missing.unlink()
    with pytest.raises(SmartframesError, match=rf"{missing.name}: per-frame probabilities missing for .*{missing.stem}"):
        evaluate(toy_eval / "store", toy_eval / "ckpt", budgets=(2,), probs_dir=probs_dir)


def test_store_without_frame_statistics_leaves_out_the_methods_that_read_them(tmp_path, make_toy_store):
    make_toy_store(tmp_path, per_class=12, stats=False)
    train_selector(tmp_path / "store", tmp_path / "ckpt", TrainConfig(epochs=2), progress=False, log=lambda m: None)
    report = evaluate(tmp_path / "store", tmp_path / "ckpt", budgets=(2,))
    assert report.skipped == ["quality", "confidence"]
    assert {r.method for r in report.results} == set(METHODS) - {"quality", "confidence"}
    assert "left out: quality, confidence" in format_table(report)


def test_selector_from_other_classes_against_this_stores_recogniser(tmp_path, make_toy_store, capsys):
    make_toy_store(tmp_path, classes=4, per_class=15)
    store = tmp_path / "store"
    seen, unseen = ["class0", "class1"], ["class2", "class3"]
    selector, _ = train_selector(store, tmp_path / "a", TrainConfig(epochs=4), classes=seen, progress=False,
                                 log=lambda m: None)
    recogniser, _ = train_selector(store, tmp_path / "b", TrainConfig(epochs=1), classes=unseen, progress=False,
                                   log=lambda m: None)
    assert selector.classes == seen and recogniser.classes == unseen
    report = evaluate(store, None, (2,), ckpt=selector, recogniser=recogniser, classes=unseen)
    assert report.classes == unseen and report.videos == 2 * 3  # the test clips of the two unseen classes
    own = evaluate(store, tmp_path / "b", (2,), classes=unseen)
    for method in ("uniform", "oracle", "kcenter"):  # the same recogniser: the same figures for frame-blind methods
        assert report.result(method, 2).accuracy == own.result(method, 2).accuracy
    video, (score, _, _) = report.scored[0]  # the frame scores are the selector's, not the recogniser's own
    alone = score_videos(selector.selector, [video], precision_name=selector.spec.light_precision)[0][0]
    # evaluate scored this video in a padded batch, here it is scored alone: the matrix kernels may
    # round differently for other batch shapes (seen: 0.696599 against 0.69659907), so equal within
    # float32 rounding, far below the gap between two selectors' scores
    np.testing.assert_allclose(score, alone, rtol=1e-5, atol=1e-6)
    other = score_videos(recogniser.selector, [video], precision_name=recogniser.spec.light_precision)[0][0]
    assert not np.allclose(score, other, rtol=1e-5, atol=1e-6)
    (tmp_path / "unseen.txt").write_text("class2\nclass3\n")
    assert main(["evaluate", "--store", str(store), "--selector", str(tmp_path / "a"), "--recogniser",
                 str(tmp_path / "b"), "--classes", str(tmp_path / "unseen.txt"), "--budgets", "2"]) == 0
    assert "6 test videos" in capsys.readouterr().out
    with pytest.raises(SmartframesError, match="unknown to the recogniser: class0"):
        evaluate(store, None, (2,), ckpt=selector, recogniser=recogniser)


def test_paired_difference_and_its_bootstrap_interval():
    from smartframes.evaluation.metrics import paired_difference

    a = np.array([[1, 1, 0, 1], [1, 0, 0, 1]])  # (runs, videos)
    b = np.array([[0, 1, 0, 0], [1, 0, 1, 0]])
    mean, low, high = paired_difference(a, b)
    assert mean == pytest.approx(np.mean(a - b)) and low <= mean <= high
    assert paired_difference(a, a) == (0.0, 0.0, 0.0)
    ones, zeros = np.ones((3, 50)), np.zeros((3, 50))
    assert paired_difference(ones, zeros) == (1.0, 1.0, 1.0)
    half = np.tile(np.r_[np.ones(25), np.zeros(25)], (3, 1))
    mean, low, high = paired_difference(half, zeros)
    assert mean == 0.5 and 0.3 < low < 0.5 < high < 0.7  # binomial spread of 50 videos: about +-0.14
    with pytest.raises(ValueError, match="videos"):
        paired_difference(np.zeros((2, 0)), np.zeros((2, 0)))
