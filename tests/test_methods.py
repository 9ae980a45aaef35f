"""The frame-choosing functions: n distinct in-range positions in time order for every budget."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from smartframes.selection.methods import PICKS, pick, random_frames, segment_top, top_n, uniform_frames
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
