"""Real UCF101 and Kinetics clips through extract -> train -> select -> every export format."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from smartframes.cli import main
from smartframes.video import read_frames

from .conftest import REAL_CLIPS, SMALL_SPEC_ARGS

CLIPS = [  # (file in real-clips/misc, label, split)
    ("abseiling_k400.mp4", "abseiling", "train"), ("flipping_a_pancake.mkv", "flipping pancake", "train"),
    ("mmaction2_demo_armwrestling.mp4", "arm wrestling", "train"), ("v_BaseballPitch_g01_c01.avi", "BaseballPitch", "train"),
    ("v_Basketball_g01_c01.avi", "Basketball", "train"), ("stgcn_skateboarding.mp4", "skateboarding", "train"),
    ("v_ApplyEyeMakeup_g01_c01.avi", "ApplyEyeMakeup", "val"), ("stgcn_ta_chi.mp4", "tai chi", "val"),
    ("stgcn_clean_and_jerk.mp4", "clean and jerk", "test"), ("paddlevideo_example.avi", "Archery", "test"),
]
N = 3


@pytest.fixture(scope="module")
def selections(tmp_path_factory):
    if not (REAL_CLIPS / "labels.csv").is_file():
        pytest.skip("../shared/data/real-clips is not present (a fresh clone)")
    real_clips = REAL_CLIPS
    root = tmp_path_factory.mktemp("export")
    labels = root / "labels.csv"
    with open(labels, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split"])
        for name, label, split in CLIPS:
            w.writerow([str(real_clips / "misc" / name), label, split])
    assert main(["extract", str(labels), "--store", str(root / "store"), "--quiet", *SMALL_SPEC_ARGS[:4],
                 "--max-candidates", "8"]) == 0
    assert main(["train", "--store", str(root / "store"), "--out", str(root / "ckpt"), "--epochs", "2", "--quiet"]) == 0
    outputs = {"json": root / "sel.json", "csv": root / "sel.csv", "mmaction": root / "ann.json", "frames": root / "frames"}
    for fmt, out in outputs.items():
        assert main(["select", "--dataset", str(labels), "--selector", str(root / "ckpt"), "-n", str(N),
                     "--export", fmt, "--out", str(out)]) == 0
    return root, outputs, {str(real_clips / "misc" / name): label for name, label, _ in CLIPS}


def test_json_export(selections):
    _, outputs, labels = selections
    rows = json.loads(outputs["json"].read_text())
    assert {r["path"] for r in rows} == set(labels)
    for r in rows:
        assert len(r["indices"]) == N and r["indices"] == sorted(r["indices"]) and len(r["times"]) == N
        assert r["label"] == labels[r["path"]] and r["predicted"] and 0 <= r["probability"] <= 1


def test_csv_export(selections):
    _, outputs, labels = selections
    with open(outputs["csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == N * len(labels) and set(rows[0]) == {"path", "rank", "frame", "time", "score", "label", "predicted"}
    assert all(r["label"] == labels[r["path"]] for r in rows)


def test_mmaction_export(selections):
    _, outputs, labels = selections
    entries = json.loads(outputs["mmaction"].read_text())
    classes = (outputs["mmaction"].parent / "ann.classes.txt").read_text().splitlines()
    assert classes == sorted(set(labels.values()))
    for e in entries:
        assert classes[e["label"]] == labels[e["filename"]]
        assert len(e["frame_inds"]) == N == e["clip_len"] and e["num_clips"] == 1
        assert max(e["frame_inds"]) < e["total_frames"]


def test_frames_export(selections):
    _, outputs, labels = selections
    lines = [json.loads(line) for line in (outputs["frames"] / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == N * len(labels)
    for line in lines[:: N * 3]:
        image = np.asarray(Image.open(outputs["frames"] / line["image"]))
        original = read_frames(line["video"], indices=[line["frame"]])[0]
        assert image.shape == original.shape
        assert np.abs(image.astype(int) - original).mean() < 8  # JPEG at quality 95
