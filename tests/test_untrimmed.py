"""The untrimmed-video builder: deterministic per seed, the action where segments.json says, filler
pools kept apart between splits and from the labelled clips."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from smartframes.data.dataset import DatasetError
from smartframes.data.segments import inside_segments, read_segments
from smartframes.data.untrimmed import UntrimmedConfig, build_untrimmed, plan_video
from smartframes.io.video import iter_frames, write_video

CFG = UntrimmedConfig(width=64, height=48, fps=10, max_seconds=20, piece_seconds=(0.5, 1.0))


def test_plan_is_deterministic_per_seed_and_covers_the_video():
    filler, counts = ["a", "b", "c"], {"a": 30, "b": 7, "c": 12}
    plan = plan_video("v_X_g01_c01", 25, filler, counts, CFG)
    assert plan == plan_video("v_X_g01_c01", 25, filler, counts, CFG)
    assert plan != plan_video("v_X_g01_c01", 25, filler, counts, UntrimmedConfig(**{**CFG.__dict__, "seed": 1}))
    assert plan["frames"] == 100 and plan["action"][1] - plan["action"][0] == 25  # a quarter
    assert sum(count for _, _, count in plan["pieces"]) == 75
    assert all(0 <= first and first + count <= counts[src] for src, first, count in plan["pieces"])
    longest = plan_video("long", 190, filler, counts, CFG)  # 19 s of 20 at most: the clip fills more
    assert longest["frames"] == 200 and longest["action"][1] - longest["action"][0] == 190


def _clips(root, name, colour, count, frames=15):
    paths = []
    for k in range(count):
        clip = np.full((frames, 48, 64, 3), colour, np.uint8)
        clip[:, 10:20, 10 + k: 20 + k] = 255 - np.array(colour, np.uint8)
        path = root / name / f"v_{name}_g{k + 1:02d}_c01.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, clip, fps=10)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrimmed-in")
    actions = _clips(root, "Red", (200, 20, 20), 3)
    fills = {split: _clips(root, f"Filler{split}", colour, 2, frames=25)
             for split, colour in (("train", (20, 20, 200)), ("val", (20, 200, 20)), ("test", (120, 120, 120)))}
    labels = root / "labels.csv"
    with labels.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split"])
        for path, split in zip(actions, ("train", "val", "test")):
            w.writerow([path, "Red", split])
    filler = root / "filler.csv"
    with filler.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "split"])
        for split, paths in fills.items():
            w.writerows([p, split] for p in paths)
    return root, labels, filler


def test_build_writes_the_action_where_segments_say_and_the_same_bytes_twice(tmp_path, inputs):
    _, labels, filler = inputs
    a, b = tmp_path / "a", tmp_path / "b"
    summary = build_untrimmed(labels, filler, a, CFG, progress=False)
    build_untrimmed(labels, filler, b, CFG, progress=False)
    assert summary["videos"] == 3 and summary["action_share"] == pytest.approx(0.25)
    assert (a / "segments.json").read_text() == (b / "segments.json").read_text()
    for f in sorted((a / "videos").rglob("*.mp4")):
        assert f.read_bytes() == (b / f.relative_to(a)).read_bytes()
    database = json.loads((a / "segments.json").read_text())["database"]
    segments = read_segments(a / "segments.json")
    for name, video in database.items():
        assert {"training": "Filler" + "train", "validation": "Fillerval", "testing": "Fillertest"}[video["subset"]] in video["filler"][0]
        times, red = [], []
        for _, t, (img,) in iter_frames(a / video["path"]):
            times.append(t)
            red.append(img[..., 0].mean() > 150 and img[..., 2].mean() < 100)
        inside = inside_segments(times, segments[name.removeprefix("v_")])
        assert len(times) == video["frame_count"] == 60
        assert inside.tolist() == red  # the red clip's frames, and only them, inside the segment
    rows = list(csv.DictReader((a / "labels.csv").open()))
    assert [r["split"] for r in rows] == ["train", "val", "test"]


def test_filler_shared_between_splits_or_with_the_clips_is_refused(tmp_path, inputs):
    root, labels, filler = inputs
    text = filler.read_text().splitlines()
    twice = tmp_path / "twice.csv"
    twice.write_text("\n".join(text + [text[1].rsplit(",", 1)[0] + ",test"]) + "\n")
    with pytest.raises(DatasetError, match="is filler of both train and test"):
        build_untrimmed(labels, twice, tmp_path / "o", CFG, progress=False)
    clip = next(csv.DictReader(labels.open()))["path"]
    same = tmp_path / "same.csv"
    same.write_text(filler.read_text() + f"{clip},test\n")
    with pytest.raises(DatasetError, match="both a labelled clip and filler"):
        build_untrimmed(labels, same, tmp_path / "o", CFG, progress=False)
    none = tmp_path / "none.csv"
    none.write_text("path,split\n" + "".join(f"{p},train\n" for p in sorted((root / "Fillertrain").glob("*.mp4"))))
    with pytest.raises(DatasetError, match="no filler for the (val|test) split"):
        build_untrimmed(labels, none, tmp_path / "o", CFG, progress=False)
