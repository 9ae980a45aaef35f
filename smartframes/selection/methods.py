"""Ways to choose n frames among a video's T candidates: pure functions over per-frame data.

Every function returns positions among the candidates (0..T-1), distinct and in time order, and
all T positions when n >= T. :data:`METHODS` lists the methods :func:`choose` knows, in the order
evaluation tables show them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..candidates import candidate_indices

Method = Literal["smart", "sfs", "gs", "kcenter", "maxvolume", "mgsampler", "quality", "confidence", "scenes",
                 "uniform", "random", "all", "oracle"]
METHODS: tuple[Method, ...] = ("smart", "sfs", "gs", "kcenter", "maxvolume", "mgsampler", "quality", "confidence",
                               "scenes", "uniform", "random", "all", "oracle")
SELECTOR_METHODS: tuple[Method, ...] = ("smart", "sfs", "gs")  # those that need a trained selector's scores
TRAINING_FREE: tuple[Method, ...] = ("kcenter", "maxvolume", "mgsampler", "quality", "confidence", "scenes")
"""Methods that need no training: they read the light features and the frame statistics the store
keeps (:class:`smartframes.features.store.VideoFeatures`)."""
SERVING_METHODS: tuple[Method, ...] = SELECTOR_METHODS + TRAINING_FREE + ("uniform",)
"""What ``select`` can choose frames with (random, all and oracle are evaluation baselines)."""
INPUTS: dict[Method, str | None] = {
    "smart": "score", "sfs": "score", "gs": "score", "kcenter": "light", "maxvolume": "light", "mgsampler": "light",
    "scenes": "light", "quality": "quality", "confidence": "confidence", "uniform": None, "random": None,
    "all": None, "oracle": "probs"}
"""What each method reads per candidate (the argument of :func:`choose`; ``score``: the selector's
scores): serving computes that and nothing else."""
DEFAULT_METHOD: Method = "uniform"
"""The method ``select`` uses without a checkpoint (README, "Selection without training")."""


def _settled(T: int, n: int) -> list[int] | None:
    """Every position when the budget covers the video, none for a budget of 0; None when there
    is a choice to make."""
    if n >= T:
        return list(range(T))
    return [] if n <= 0 else None


def top_n(scores: np.ndarray, n: int) -> list[int]:
    """Positions of the ``n`` highest scores, in time order.

    Ties go to the earlier frame; ``n`` at least the number of frames returns every frame.
    """
    s = np.asarray(scores, np.float64).ravel()
    if (settled := _settled(len(s), n)) is not None:
        return settled
    best = np.argsort(-s, kind="stable")[:n]  # stable: equal scores keep time order
    return sorted(best.tolist())


def segment_top(scores: np.ndarray, n: int) -> list[int]:
    """The highest-scoring position inside each of ``n`` equal segments of the video, in time
    order: the budget spread over the whole video (ties go to the earlier frame; all positions if
    ``n`` >= T)."""
    s = np.asarray(scores, np.float64).ravel()
    T = len(s)
    if (settled := _settled(T, n)) is not None:
        return settled
    edges = (np.arange(n + 1) * T) // n  # n < T: every segment holds at least one frame
    return [int(a + np.argmax(s[a:b])) for a, b in zip(edges[:-1], edges[1:])]


def quantile_frames(scores: np.ndarray, n: int, exponent: float) -> list[int]:
    """The frames at the n quantile midpoints (k + 1/2) / n of the cumulative distribution of
    ``scores ** exponent`` over time: exponent 0 spreads the budget evenly (:func:`uniform_frames`),
    a large one gathers it where the scores peak, and ``inf`` is :func:`top_n`. Where two quantiles
    fall on one frame, the best-scoring frames not yet chosen fill the budget."""
    s = np.asarray(scores, np.float64).ravel()
    T = len(s)
    if (settled := _settled(T, n)) is not None:
        return settled
    if exponent == 0:
        return uniform_frames(T, n)
    if np.isinf(exponent) or not s.max() > 0:
        return top_n(s, n)
    weight = np.maximum(s / s.max(), 1e-12) ** exponent  # (T,), max 1: no overflow at large exponents
    cdf = np.cumsum(weight) / weight.sum()
    at = np.searchsorted(cdf, (np.arange(n) + 0.5) / n).clip(0, T - 1)
    chosen = list(dict.fromkeys(at.tolist()))
    for i in np.argsort(-s, kind="stable"):
        if len(chosen) == n:
            break
        if i not in chosen:
            chosen.append(int(i))
    return sorted(chosen)


PICKS = {"top": top_n, "segments": segment_top}
"""How a selector's scores become n frames: the n best anywhere, or the best of each segment."""


def pick(scores: np.ndarray, n: int, rule: str = "top") -> list[int]:
    """Positions chosen from per-frame ``scores`` (T,) by ``rule``, a key of :data:`PICKS`."""
    return PICKS[rule](scores, n)


def uniform_frames(T: int, n: int) -> list[int]:
    """n evenly spaced positions among T candidates (segment centres); all of them if n >= T."""
    return candidate_indices(T, 1, n).tolist()


def random_frames(T: int, n: int, rng: np.random.Generator) -> list[int]:
    """n distinct random positions among T candidates, in time order; all if n >= T."""
    return list(range(T)) if n >= T else sorted(rng.choice(T, size=n, replace=False).tolist())


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def kcenter_frames(light: np.ndarray, n: int) -> list[int]:
    """Greedy k-center (farthest-point) selection on the light embeddings (T, D), cosine geometry:
    start from the frame nearest the video's mean embedding, then repeatedly add the frame farthest
    from every frame chosen so far. Covers the video's distinct appearances, one frame each."""
    x = _unit_rows(light)
    T = len(x)
    if (settled := _settled(T, n)) is not None:
        return settled
    chosen = [int(np.argmax(x @ x.mean(0)))]
    far = 1.0 - x @ x[chosen[0]]  # (T,) cosine distance to the nearest chosen frame
    for _ in range(n - 1):
        far[chosen] = -np.inf
        nxt = int(np.argmax(far))  # ties: the earlier frame
        chosen.append(nxt)
        far = np.minimum(far, 1.0 - x @ x[nxt])
    return sorted(chosen)


def maxvolume_frames(light: np.ndarray, n: int, weights: np.ndarray | None = None) -> list[int]:
    """Greedy maximum-volume (DPP MAP) selection: the n frames whose unit light embeddings (T, D)
    span the largest volume, i.e. the greedy maximiser of log det L_S with the kernel
    L = diag(q) X X^T diag(q), by incremental Cholesky (each step adds the frame with the largest
    residual norm after projecting out the chosen ones). ``weights`` q (T,) > 0, per-frame quality,
    trade diversity against quality; None weighs every frame alike."""
    x = _unit_rows(light)
    T = len(x)
    if (settled := _settled(T, n)) is not None:
        return settled
    if weights is not None:
        x = x * np.asarray(weights, np.float64).reshape(-1, 1)
    residual = (x * x).sum(1)  # (T,) squared norm left after projecting out the chosen frames
    basis = np.zeros((n, T))  # Cholesky rows: basis[k, i] = <x_i, e_k>
    chosen: list[int] = []
    for k in range(n):
        r = residual.copy()
        r[chosen] = -np.inf
        j = int(np.argmax(r))
        chosen.append(j)
        if residual[j] > 1e-12:
            basis[k] = (x @ x[j] - basis[:k, j] @ basis[:k]) / np.sqrt(residual[j])
            residual = np.maximum(residual - basis[k] ** 2, 0.0)
    return sorted(chosen)


def _distinct_nearest(wanted: np.ndarray, T: int) -> list[int]:
    """Integer positions nearest to each of the increasing real positions ``wanted``, made
    distinct (a taken position moves to the closest free one), in time order."""
    taken: set[int] = set()
    for w in wanted:
        order = np.argsort(np.abs(np.arange(T) - w), kind="stable")
        taken.add(int(next(i for i in order if int(i) not in taken)))
    return sorted(taken)


def frame_change(light: np.ndarray) -> np.ndarray:
    """Change between consecutive candidates: the cosine distance of their light embeddings,
    (T, D) -> (T - 1,), in [0, 2]."""
    x = _unit_rows(light)
    return np.clip(1.0 - (x[1:] * x[:-1]).sum(1), 0.0, 2.0)


def mgsampler_frames(light: np.ndarray, n: int) -> list[int]:
    """Motion-guided sampling (MGSampler, Zhi et al., ICCV 2021) at test time: the frame-to-frame
    change (here the light-feature distance, :func:`frame_change`, for the paper's image
    difference), square-rooted as in the paper, is accumulated and normalised to [0, 1], and the
    frame where the cumulative change crosses the middle of each of n equal intervals is chosen,
    so the budget follows motion. A still video (no change) falls back to uniform."""
    T = len(light)
    if (settled := _settled(T, n)) is not None:
        return settled
    change = np.sqrt(frame_change(light))
    if change.sum() <= 1e-12:
        return uniform_frames(T, n)
    cumulative = np.concatenate([[0.0], np.cumsum(change) / change.sum()])  # (T,): frame t's share of motion so far
    levels = (np.arange(n) + 0.5) / n
    wanted = np.array([np.argmin(np.abs(cumulative - level)) for level in levels], np.float64)
    return _distinct_nearest(wanted, T)


QUALITY_COLUMNS = ("brightness", "contrast", "sharpness", "change")
"""The per-frame statistics the store keeps (``quality`` (T, 4)): mean luma in [0, 1], its std,
the variance of the Laplacian of luma (focus), and the L1 distance of the luma histogram to the
previous candidate's (0 for the first)."""
DARK, BRIGHT = 0.08, 0.92  # mean luma outside this range: too dark or overexposed to show anything
BLUR_FRACTION = 0.3  # sharper than this fraction of the video's median Laplacian variance, or blurred
FLASH_JUMP = 0.25  # a frame brighter than both neighbours by this much is a flash
DUPLICATE_CHANGE = 0.02  # histogram change below this from the last kept frame: a near-duplicate


def usable_frames(quality: np.ndarray) -> np.ndarray:
    """Which frames pass the quality filter, from the statistics (T, 4) of :data:`QUALITY_COLUMNS`:
    not dark, not overexposed, not blurred relative to the rest of the video, not a flash, and not
    a near-duplicate of the previous frame kept. Returns a bool mask (T,)."""
    q = np.asarray(quality, np.float64)
    brightness, _, sharpness, change = q.T
    T = len(q)
    ok = (brightness > DARK) & (brightness < BRIGHT) & (sharpness >= BLUR_FRACTION * np.median(sharpness))
    if T >= 3:
        neighbours = np.maximum(brightness[:-2], brightness[2:])  # (T-2,): the brighter neighbour of each inner frame
        ok[1:-1] &= ~(brightness[1:-1] - neighbours > FLASH_JUMP)
    since_kept, first = 0.0, True
    for t in range(T):
        since_kept += change[t] if t else 0.0
        if not ok[t]:
            continue
        if not first and since_kept < DUPLICATE_CHANGE:
            ok[t] = False
            continue
        first, since_kept = False, 0.0
    return ok


def quality_frames(quality: np.ndarray, n: int) -> list[int]:
    """Drop the frames :func:`usable_frames` rejects, then spread the budget uniformly over the
    rest; when fewer than n are left, the sharpest rejected frames make up the number."""
    T = len(quality)
    if (settled := _settled(T, n)) is not None:
        return settled
    kept = np.flatnonzero(usable_frames(quality))
    if len(kept) < n:
        rejected = np.setdiff1d(np.arange(T), kept)
        sharpest = rejected[np.argsort(-np.asarray(quality, np.float64)[rejected, 2], kind="stable")]
        kept = np.sort(np.concatenate([kept, sharpest[: n - len(kept)]]))
    return sorted(int(kept[i]) for i in uniform_frames(len(kept), n))


def confidence_frames(confidence: np.ndarray, n: int) -> list[int]:
    """The n frames on which the light model is most sure of its ImageNet class (highest maximum
    probability; ``confidence`` (T, 2) holds [max probability, entropy]), in time order."""
    return top_n(np.asarray(confidence)[:, 0], n)


SCENE_CUT = 4.0  # a cut: change above this multiple of the video's median change ...
SCENE_MIN_CHANGE = 0.1  # ... and above this cosine distance


def scene_bounds(light: np.ndarray) -> list[tuple[int, int]]:
    """Shots as [start, end) candidate ranges, cut where the light features jump
    (:func:`frame_change` above :data:`SCENE_CUT` times its median and above
    :data:`SCENE_MIN_CHANGE`)."""
    T = len(light)
    if T < 2:
        return [(0, T)]
    change = frame_change(light)
    cuts = np.flatnonzero((change > SCENE_CUT * np.median(change)) & (change > SCENE_MIN_CHANGE)) + 1
    edges = [0, *cuts.tolist(), T]
    return list(zip(edges[:-1], edges[1:]))


def scenes_frames(light: np.ndarray, n: int) -> list[int]:
    """Shot boundaries from jumps in the light features (:func:`scene_bounds`), the budget spread
    across shots: every shot one frame while the budget lasts (longest shots first), the rest in
    proportion to shot length, evenly spaced inside each shot."""
    T = len(light)
    if (settled := _settled(T, n)) is not None:
        return settled
    shots = scene_bounds(light)
    lengths = np.array([b - a for a, b in shots])
    share = np.zeros(len(shots), np.int64)
    by_length = np.argsort(-lengths, kind="stable")
    share[by_length[:n]] = 1
    for _ in range(n - int(share.sum())):  # the rest by largest remaining length per frame
        room = np.where(share < lengths, lengths / (share + 1), -np.inf)
        share[int(np.argmax(room))] += 1
    picked: list[int] = []
    for (a, b), k in zip(shots, share):
        picked += [a + i for i in uniform_frames(b - a, int(k))] if k else []
    return sorted(picked)


def choose(method: Method, n: int | None, T: int, *, score=None, delta=None, gamma=None, probs=None,
           label: int | None = None, rng: np.random.Generator | None = None, rule: str = "top",
           light=None, quality=None, confidence=None) -> list[int]:
    """Positions (among T candidates) that ``method`` picks with budget ``n`` (None for ``all``).

    Args:
        score, delta, gamma: the selector's per-frame scores (T,), for smart, sfs and gs, turned
            into frames by ``rule`` (the selector's :data:`PICKS` rule).
        light: the light visual embeddings (T, D), for kcenter, maxvolume, mgsampler and scenes.
        quality: the frame statistics (T, 4) of :data:`QUALITY_COLUMNS`, for quality.
        confidence: the light model's ImageNet [max probability, entropy] (T, 2), for confidence.
        probs, label: the expensive classifier's per-frame probabilities (T, C) and the true class,
            for oracle.
        rng: for random.
    """
    if method == "all" or n is None:
        return list(range(T))
    if method == "smart":
        return pick(score, n, rule)
    if method == "sfs":
        return pick(delta, n, rule)
    if method == "gs":
        return pick(gamma, n, rule)
    if method == "uniform":
        return uniform_frames(T, n)
    if method == "random":
        return random_frames(T, n, rng)
    if method == "oracle":
        return top_n(probs[:, label], n)
    if method == "kcenter":
        return kcenter_frames(light, n)
    if method == "maxvolume":
        return maxvolume_frames(light, n)
    if method == "mgsampler":
        return mgsampler_frames(light, n)
    if method == "scenes":
        return scenes_frames(light, n)
    if method == "quality":
        return quality_frames(quality, n)
    if method == "confidence":
        return confidence_frames(confidence, n)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
