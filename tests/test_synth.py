"""The built-in benchmark: determinism, balance, ground truth, and the premise it rests on."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from smartframes.errors import SmartframesError
from smartframes.features.extractor import FeatureExtractor
from smartframes.spec import FeatureSpec
from smartframes.data.synth import CLASSES, SynthConfig, class_defs, load_ground_truth, synthesize
from smartframes.io.video import read_frames

TINY = dict(classes=4, per_class=3, frames=12, size=64)


def _rows(root: Path) -> list[dict]:
    with open(root / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    synthesize(root, SynthConfig(**TINY), workers=1, progress=False)
    return root


def test_same_seed_same_frames_and_labels(tiny, tmp_path):
    synthesize(tmp_path / "again", SynthConfig(**TINY), workers=2, progress=False)
    assert _rows(tiny) == _rows(tmp_path / "again")
    for row in _rows(tiny)[:4]:
        assert np.array_equal(read_frames(tiny / row["path"]), read_frames(tmp_path / "again" / row["path"]))
    synthesize(tmp_path / "other", SynthConfig(**TINY, seed=1), workers=1, progress=False)
    other = _rows(tmp_path / "other")
    assert [r["useful"] for r in other] != [r["useful"] for r in _rows(tiny)]
    assert not np.array_equal(read_frames(tiny / other[0]["path"]), read_frames(tmp_path / "other" / other[0]["path"]))


def test_classes_balanced_per_split():
    cfg = SynthConfig(classes=6, per_class=10, frames=8, size=32)
    from smartframes.data.synth import _plan

    counts = Counter((class_defs(6)[j["class"]].name, j["split"]) for j in _plan(cfg))
    for cls in class_defs(6):
        assert (counts[(cls.name, "train")], counts[(cls.name, "val")], counts[(cls.name, "test")]) == (5, 1, 4)


def test_labels_and_ground_truth_agree(tiny):
    truth = load_ground_truth(tiny)
    rows = _rows(tiny)
    assert len(rows) == 12 and {r["label"] for r in rows} == {c.name for c in CLASSES[:4]}
    for row in rows:
        t = truth[str((tiny / row["path"]).resolve())]
        assert len(t["events"]) == 12 and "".join("1" if u else "0" for u in t["useful"]) == row["useful"]
        start, end = t["window"]
        assert (int(row["window_start"]), int(row["window_end"])) == (start, end)
        assert all(e not in ("useful", "shared") for i, e in enumerate(t["events"]) if not start <= i < end)


def _blocks(frame: np.ndarray, n: int = 8) -> np.ndarray:
    """Block means (n, n, 3): insensitive to the one-pixel camera drift between idle frames."""
    h, w = frame.shape[:2]
    return frame[: h // n * n, : w // n * n].reshape(n, h // n, n, w // n, 3).mean((1, 3))


def _sharpness(frame: np.ndarray) -> float:
    return float(np.abs(np.diff(frame, axis=1)).mean())


def test_marked_distractor_differs_from_its_neighbours(tiny):
    truth = load_ground_truth(tiny)
    checked = Counter()
    for path, t in truth.items():
        frames = read_frames(path).astype(np.float32)
        events = t["events"]
        idle = [i for i, e in enumerate(events) if e == "idle"]
        idle_gap = max((np.abs(_blocks(frames[a]) - _blocks(frames[b])).mean() for a, b in zip(idle, idle[1:])), default=5.0)
        for i, e in enumerate(events):
            near = [j for j in (i - 1, i + 1) if 0 <= j < len(events) and events[j] == "idle"]
            if e in ("idle", "useful", "shared") or not near:
                continue
            if e == "blur":
                assert _sharpness(frames[i]) < 0.6 * min(_sharpness(frames[j]) for j in near), (path, i)
            elif e == "noise":
                assert _sharpness(frames[i]) > 1.5 * max(_sharpness(frames[j]) for j in near), (path, i)
            else:
                gap = min(np.abs(_blocks(frames[i]) - _blocks(frames[j])).mean() for j in near)
                assert gap > 2 * idle_gap and gap > 8, (path, i, e, gap, idle_gap)
            checked[e] += 1
    assert sum(checked.values()) >= 3, checked


def test_temporal_pairs_stay_whole():
    names = [c.name for c in class_defs(5)]
    assert names == ["cat", "espresso", "rocket", "motorcycle"]
    assert len(class_defs(6)) == 6


def test_bad_config():
    with pytest.raises(SmartframesError, match="--classes"):
        SynthConfig(classes=99)
    with pytest.raises(SmartframesError, match="--size"):
        SynthConfig(size=33)


@pytest.mark.slow
def test_premise_useful_frames_are_the_recognisable_ones(tmp_path):
    """A linear probe on Lite2 embeddings, trained on every frame with its video's label, is right
    on useful frames and near chance on idle and distractor frames."""
    root = tmp_path / "bench"
    synthesize(root, SynthConfig(per_class=6), progress=False)
    truth = load_ground_truth(root)
    ex = FeatureExtractor(FeatureSpec(light_resolution=112, expensive_resolution=112))
    rows = _rows(root)
    classes = sorted({r["label"] for r in rows})
    feats, labels, events, test = [], [], [], []
    for row in rows:
        frames = read_frames(root / row["path"], size=ex.spec.decode_sizes.expensive)
        emb = ex.expensive_features(frames)
        feats.append(emb)
        labels += [classes.index(row["label"])] * len(emb)
        events += truth[str((root / row["path"]).resolve())]["events"]
        test += [row["split"] == "test"] * len(emb)
    x, y = torch.tensor(np.concatenate(feats)), torch.tensor(labels)
    test, events = torch.tensor(test), np.array(events)
    mu, sd = x[~test].mean(0), x[~test].std(0) + 1e-6
    x = (x - mu) / sd
    torch.manual_seed(0)
    probe = torch.nn.Linear(x.shape[1], len(classes))
    opt = torch.optim.Adam(probe.parameters(), 1e-3, weight_decay=1e-4)
    for _ in range(300):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(probe(x[~test]), y[~test]).backward()
        opt.step()
    right = (probe(x).argmax(1) == y).numpy()
    useful = test.numpy() & (events == "useful")
    other = test.numpy() & ~np.isin(events, ["useful", "shared"])
    acc_useful, acc_other = right[useful].mean(), right[other].mean()
    print(f"probe accuracy: useful {acc_useful:.3f} ({useful.sum()} frames), "
          f"idle+distractor {acc_other:.3f} ({other.sum()} frames), chance {1 / len(classes):.3f}")
    assert acc_useful > 0.7 and acc_other < 0.25 and acc_useful > acc_other + 0.5
