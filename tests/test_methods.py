"""The frame-choosing functions: n distinct in-range positions in time order for every budget."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from smartframes.selection.methods import (
    METHODS, PICKS, TRAINING_FREE, choose, confidence_frames, kcenter_frames, maxvolume_frames, mgsampler_frames, pick,
    quality_frames, quantile_frames, random_frames, scene_bounds, scenes_frames, segment_top, top_n, uniform_frames, usable_frames,
)
from smartframes.selection.train import within_video_rank

scores = st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]) | st.floats(0, 1), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(scores, st.integers(1, 80), st.sampled_from(sorted(PICKS)))
def test_every_pick_rule_gives_distinct_positions_in_time_order(values, n, rule):
    chosen = pick(np.array(values), n, rule)
    T = len(values)
    assert chosen == sorted(set(chosen)) and all(0 <= i < T for i in chosen)
    assert len(chosen) == min(n, T)


@settings(max_examples=100, deadline=None)
@given(scores, st.integers(1, 60))
def test_segments_hold_one_pick_each_and_it_is_their_best(values, n):
    s = np.array(values)
    T = len(s)
    chosen = segment_top(s, n)
    if n >= T:
        assert chosen == list(range(T))
        return
    edges = (np.arange(n + 1) * T) // n
    for i, a, b in zip(chosen, edges[:-1], edges[1:]):
        assert a <= i < b and s[i] == s[a:b].max() and i == a + int(np.argmax(s[a:b]))


def test_segments_spread_where_top_n_clusters():
    s = np.r_[np.linspace(1.0, 0.9, 10), np.zeros(30)]  # all the best frames at the start
    assert top_n(s, 4) == [0, 1, 2, 3]
    assert segment_top(s, 4) == [0, 10, 20, 30]


@settings(max_examples=200, deadline=None)
@given(scores, st.integers(1, 80), st.sampled_from([0.0, 0.5, 1.0, 4.0, 50.0, float("inf")]))
def test_quantile_picks_are_distinct_in_time_order_and_span_uniform_to_top(values, n, exponent):
    s = np.array(values)
    chosen = quantile_frames(s, n, exponent)
    assert chosen == sorted(set(chosen)) and len(chosen) == min(n, len(s)) and all(0 <= i < len(s) for i in chosen)
    if exponent == 0:
        assert chosen == uniform_frames(len(s), n)
    if exponent == float("inf"):
        assert chosen == top_n(s, n)


def test_quantile_picks_follow_the_score_mass():
    s = np.r_[np.full(30, 0.1), np.full(10, 1.0), np.full(30, 0.1)]  # the scores peak in frames 30-39
    inside = lambda chosen: np.mean([30 <= i < 40 for i in chosen])  # noqa: E731
    assert inside(quantile_frames(s, 4, 0.0)) == 0.0  # uniform: evenly spaced, blind to the peak
    assert inside(quantile_frames(s, 4, 1.0)) == 0.5
    assert inside(quantile_frames(s, 4, 4.0)) == 1.0
    spread = quantile_frames(s, 4, 4.0)
    assert spread != top_n(s, 4) and max(spread) - min(spread) > 3  # spread over the peak, not its first frames


@pytest.mark.parametrize("T, n", [(1, 1), (5, 3), (10, 10), (7, 20), (64, 4)])
def test_uniform_and_random(T, n):
    for chosen in (uniform_frames(T, n), random_frames(T, n, np.random.default_rng(0))):
        assert chosen == sorted(set(chosen)) and len(chosen) == min(n, T) and all(0 <= i < T for i in chosen)


def test_rank_target_keeps_the_order_and_drops_the_level():
    p = np.array([0.90, 0.95, 0.91, 0.99])
    assert within_video_rank(p).tolist() == pytest.approx([0.0, 2 / 3, 1 / 3, 1.0])
    assert within_video_rank(p - 0.5).tolist() == within_video_rank(p).tolist()
    assert within_video_rank(np.array([0.3, 0.3])).tolist() == [0.5, 0.5]
    assert within_video_rank(np.array([0.4])).tolist() == [1.0]


def _video(T: int, seed: int, D: int = 16) -> dict:
    """Per-frame inputs of a T-candidate video: light embeddings, frame statistics, confidence."""
    rng = np.random.default_rng(seed)
    quality = np.c_[rng.uniform(0, 1, T), rng.uniform(0, 0.3, T), rng.uniform(0, 0.01, T), rng.uniform(0, 0.5, T)]
    quality[0, 3] = 0.0
    return {"light": np.abs(rng.normal(size=(T, D))), "quality": quality,
            "confidence": np.c_[rng.uniform(0, 1, T), rng.uniform(0, 6, T)]}


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 50), st.integers(1, 70), st.sampled_from(TRAINING_FREE), st.integers(0, 10_000),
       st.booleans())
def test_every_training_free_method_gives_n_distinct_positions_in_time_order(T, n, method, seed, repeated):
    video = _video(T, seed)
    if repeated:  # a still shot: every frame the same
        video = {k: np.repeat(a[:1], T, axis=0) for k, a in video.items()}
    chosen = choose(method, n, T, **video)
    assert chosen == sorted(set(chosen)) and all(0 <= i < T for i in chosen)
    assert len(chosen) == min(n, T)


def test_every_method_in_the_table_is_known_to_choose():
    video = _video(12, 0)
    probs = np.full((12, 3), 1 / 3)
    for method in METHODS:
        chosen = choose(method, 3, 12, score=np.arange(12.0), delta=np.arange(12.0), gamma=np.arange(12.0),
                        probs=probs, label=0, rng=np.random.default_rng(0), **video)
        assert len(chosen) == (12 if method == "all" else 3), method


def _three_scenes(per: int = 10) -> np.ndarray:
    """Light embeddings of three shots of ``per`` frames, each near its own direction."""
    rng = np.random.default_rng(0)
    axes = np.eye(8)[[0, 3, 6]]
    return np.concatenate([np.repeat(a[None], per, 0) + 0.01 * rng.random((per, 8)) for a in axes])


def test_diversity_methods_cover_every_scene():
    light = _three_scenes()
    for chosen in (kcenter_frames(light, 3), maxvolume_frames(light, 3)):
        assert sorted(i // 10 for i in chosen) == [0, 1, 2], chosen


def test_scene_bounds_find_the_cuts_and_spread_the_budget():
    light = _three_scenes()
    assert scene_bounds(light) == [(0, 10), (10, 20), (20, 30)]
    chosen = scenes_frames(light, 6)
    assert [sum(1 for i in chosen if a <= i < b) for a, b in scene_bounds(light)] == [2, 2, 2]
    assert scene_bounds(np.ones((5, 4))) == [(0, 5)]


def test_mgsampler_puts_the_budget_where_things_move():
    still = np.tile(np.eye(8)[0], (20, 1))
    moving = np.eye(8)[np.arange(20) % 8] + 0.1  # every frame differs from the next
    light = np.concatenate([still, moving])  # 20 still frames then 20 moving ones
    chosen = mgsampler_frames(light, 4)
    assert sum(i >= 20 for i in chosen) >= 3, chosen
    assert mgsampler_frames(still, 4) == uniform_frames(20, 4)


def test_quality_filter_drops_dark_blurred_flash_and_duplicate_frames():
    T = 10
    q = np.tile([0.5, 0.2, 0.01, 0.3], (T, 1))
    q[1, 0] = 0.02  # dark
    q[3, 2] = 0.0001  # blurred
    q[5, 0] = 0.95  # overexposed flash
    q[7, 3] = 0.001  # near-duplicate of frame 6
    ok = usable_frames(q)
    assert ok.tolist() == [True, False, True, False, True, False, True, False, True, True]
    assert set(quality_frames(q, 4)) <= set(np.flatnonzero(ok).tolist())
    assert len(quality_frames(np.tile([0.01, 0.0, 0.0, 0.0], (T, 1)), 3)) == 3  # all bad: still n frames


def test_confidence_takes_the_surest_frames():
    conf = np.c_[[0.1, 0.9, 0.2, 0.8, 0.3], np.zeros(5)]
    assert confidence_frames(conf, 2) == [1, 3]


def test_maxvolume_quality_weights_prefer_good_frames_among_equals():
    light = np.repeat(np.eye(4), 2, axis=0)  # four directions, two identical frames each
    weights = np.tile([0.5, 1.0], 4)  # the second of each pair is better
    assert maxvolume_frames(light, 4, weights) == [1, 3, 5, 7]
