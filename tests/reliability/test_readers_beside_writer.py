"""Readers beside a writer: ``train``, ``evaluate`` and ``report`` on a store that ``extract`` is
still writing read a consistent snapshot of the videos finished when they start (and say how
many are left out), never a half-written file, and never stop the writer."""

from __future__ import annotations

import csv
import subprocess
import sys
import time

import pytest

from smartframes.evaluation.evaluate import evaluate, format_table
from smartframes.evaluation.report import build_report
from smartframes.features.store import FeatureStore
from smartframes.scale.extract import extract_dataset
from smartframes.selection.config import TrainConfig
from smartframes.selection.train import train_selector

pytestmark = pytest.mark.slow


def _labels(path, rows) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split"])
        w.writerows(rows)


def test_train_evaluate_and_report_beside_a_running_extract(tmp_path, write_class_folder, small_spec,
                                                           small_spec_args, tally):
    data = write_class_folder(tmp_path / "data", classes=("red", "blue"), per_class=40, frames=12)
    videos = sorted(data.glob("*/*.mp4"), key=lambda p: (int(p.stem), p.parent.name))  # classes interleaved
    splits = ["train", "train", "val", "test"]
    rows = [(str(p), p.parent.name, splits[k % 4]) for k, p in enumerate(videos)]
    _labels(tmp_path / "first.csv", rows[:16])
    _labels(tmp_path / "all.csv", rows)
    store = tmp_path / "store"
    extract_dataset(tmp_path / "first.csv", store, small_spec, progress=False)
    train_selector(store, tmp_path / "ckpt", TrainConfig(epochs=1), progress=False, log=lambda m: None)

    writer = subprocess.Popen([sys.executable, "-m", "smartframes", "extract", str(tmp_path / "all.csv"), "--store",
                               str(store), "--quiet", "--batch-size", "1", *small_spec_args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, said = [], []
    while writer.poll() is None:
        with FeatureStore.open(store) as s:
            finished, unfinished = s.freeze()
            test_done = {r.id for r in s.records(status="done", split="test")}
        if finished == len(rows):
            break
        if finished + unfinished < len(rows):  # the writer has not added the new videos yet
            time.sleep(0.05)
            continue
        report = evaluate(store, tmp_path / "ckpt", budgets=(1, 2))
        seen.append((finished, unfinished, report.videos, len(test_done)))
        assert report.videos >= len(test_done)  # what was finished when it looked, at least
        if report.unfinished:
            assert f"store still being extracted: {report.unfinished} videos not finished" in format_table(report)
        messages = []
        train_selector(store, tmp_path / "ckpt2", TrainConfig(epochs=1), progress=False, log=messages.append)
        said += [m for m in messages if "still being extracted" in m]
        build_report(store, tmp_path / "ckpt", tmp_path / "r.html", budgets=(1,), strip_frames=1, curve_classes=1)
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert "64 extracted, 0 failed, 16 already done" in out
    with FeatureStore.open(store) as s:
        assert s.count("done") == 80 and s.verify() == []
    mid_way = [x for x in seen if x[1] > 0]
    assert mid_way, f"the writer finished before a reader ran: {seen}"
    assert said and all("training on the" in m for m in said)
    assert all(a <= b for a, b in zip([x[0] for x in seen], [x[0] for x in seen[1:]]))
    tally["readers beside a writer"] += len(mid_way)
    print(f"reads while extract wrote (finished, unfinished, evaluated test videos): {seen}")
