"""Real UCF101 clips (../shared/data/ucf101-9) through extract -> train -> evaluate -> select: the
behaviour on real footage, not its accuracy (two classes, a few clips each)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from smartframes import FeatureStore, diagnose, evaluate, extract_dataset, load_selector, train_selector
from smartframes.selection.config import TrainConfig

pytestmark = pytest.mark.slow
CLASSES = ("Archery", "BabyCrawling")
GROUPS = {"test": ("g01",), "train": ("g08", "g09", "g10")}


@pytest.fixture(scope="module")
def pipeline(ucf101_9, tmp_path_factory):
    root = tmp_path_factory.mktemp("ucf")
    with open(ucf101_9 / "labels.csv", newline="") as fh:
        rows = [{**r, "path": str(ucf101_9 / r["path"])} for r in csv.DictReader(fh) if r["label"] in CLASSES
                and any(f"_{g}_" in r["path"] for g in GROUPS[r["split"]])]
    with open(root / "labels.csv", "w", newline="") as fh:  # the official train/test split, no val
        w = csv.writer(fh)
        w.writerow(["path", "label", "split"])
        w.writerows([r["path"], r["label"], r["split"]] for r in rows)
    from smartframes.spec import FeatureSpec

    spec = FeatureSpec(light_resolution=96, expensive_resolution=96, max_candidates=8)
    summary = extract_dataset(root / "labels.csv", root / "store", spec, progress=False)
    ckpt, _ = train_selector(root / "store", root / "ckpt", TrainConfig(epochs=3), progress=False, log=lambda m: None)
    return root, rows, summary, ckpt


def test_val_is_carved_from_train_by_group(pipeline):
    root, rows, summary, _ = pipeline
    assert summary.done == len(rows) == 16 and summary.failed == 0
    assert summary.splits == "train 8, val 4, test 4"
    with FeatureStore.open(root / "store") as store:
        by_split = {s: {r.path for r in store.records(split=s)} for s in ("train", "val", "test")}
    def groups(split):  # (class, actor group) of each video: v_<class>_g<NN>_c<MM>.avi
        return {tuple(p.rsplit("/", 1)[1].split("_")[1:3]) for p in by_split[split]}

    assert len(groups("val")) == 2 and not (groups("train") & groups("val"))  # one actor never on both sides


def test_evaluate_and_diagnose_on_real_clips(pipeline):
    root, _, _, ckpt = pipeline
    report = evaluate(root / "store", root / "ckpt", budgets=(1, 2))
    assert report.videos == 4 and {r.method for r in report.results} >= {"smart", "uniform", "oracle", "all"}
    assert report.result("oracle", 1).accuracy >= report.result("uniform", 1).accuracy
    d = diagnose(report)
    assert 0 <= d.frame_accuracy <= 1 and d.within_video_std >= 0 and set(d.spearman) == {"delta", "gamma", "score"}
    assert all(-1 <= v <= 1 for v in d.spearman.values()) and 0 <= d.span["smart"] <= 1


def test_select_on_a_real_test_clip(pipeline):
    root, rows, _, _ = pipeline
    clip = next(r for r in rows if r["split"] == "test")
    sel = load_selector(root / "ckpt", device="cpu").select(clip["path"], n=3)
    assert len(sel.indices) == 3 and sel.indices == sorted(set(sel.indices))
    assert set(sel.indices) <= set(sel.candidates.tolist()) and len(sel.candidates) == 8
    frames = sel.read_frames()
    assert frames.shape == (3, 240, 320, 3) and frames.dtype == np.uint8
    assert sel.label in CLASSES
