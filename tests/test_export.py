"""Real UCF101 and Kinetics clips through extract -> train -> select -> every export format; the
exports' layouts on small synthetic clips."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from smartframes.selection.checkpoint import load_checkpoint
from smartframes.cli.main import main
from smartframes.errors import SmartframesError
from smartframes.selection.export import export_selections
from smartframes.selection.serving import Selection
from smartframes.io.video import read_frames, write_video

CLIPS = [  # (file in real-clips/misc, label, split)
    ("abseiling_k400.mp4", "abseiling", "train"), ("flipping_a_pancake.mkv", "flipping pancake", "train"),
    ("mmaction2_demo_armwrestling.mp4", "arm wrestling", "train"), ("v_BaseballPitch_g01_c01.avi", "BaseballPitch", "train"),
    ("v_Basketball_g01_c01.avi", "Basketball", "train"), ("stgcn_skateboarding.mp4", "skateboarding", "train"),
    ("v_ApplyEyeMakeup_g01_c01.avi", "ApplyEyeMakeup", "val"), ("stgcn_ta_chi.mp4", "tai chi", "val"),
    ("stgcn_clean_and_jerk.mp4", "clean and jerk", "test"), ("paddlevideo_example.avi", "Archery", "test"),
]
N = 3


@pytest.fixture(scope="module")
def selections(tmp_path_factory, real_clips, small_spec_args):
    root = tmp_path_factory.mktemp("export")
    labels = root / "labels.csv"
    with open(labels, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split"])
        for name, label, split in CLIPS:
            w.writerow([str(real_clips / "misc" / name), label, split])
    assert main(["extract", str(labels), "--store", str(root / "store"), "--quiet", *small_spec_args[:4],
                 "--max-candidates", "8"]) == 0
    assert main(["train", "--store", str(root / "store"), "--out", str(root / "ckpt"), "--epochs", "2", "--quiet"]) == 0
    outputs = {"json": root / "sel.json", "csv": root / "sel.csv", "mmaction": root / "mmaction", "frames": root / "frames"}
    for fmt, out in outputs.items():
        assert main(["select", "--dataset", str(labels), "--selector", str(root / "ckpt"), "-n", str(N),
                     "--export", fmt, "--out", str(out)]) == 0
    batches = {"batch1": ["stgcn_ta_chi.mp4", "v_Basketball_g01_c01.avi"], "batch2": ["paddlevideo_example.avi"]}
    for batch, names in batches.items():
        outputs[batch] = root / batch  # plain videos, no dataset: label indices from the checkpoint
        assert main(["select", *(str(real_clips / "misc" / n) for n in names), "--selector", str(root / "ckpt"),
                     "-n", str(N), "--export", "mmaction", "--out", str(outputs[batch])]) == 0
    return root, outputs, {str(real_clips / "misc" / name): label for name, label, _ in CLIPS}


def _rawframe_dataset(ann_file: Path, img_prefix: Path) -> list[dict]:
    """``annotations.txt`` read as mmaction2's ``RawframeDataset`` reads it (``multi_class`` form)."""
    videos = []
    for line in ann_file.read_text().splitlines():
        parts = line.strip().split()
        videos.append({"frame_dir": str(img_prefix / parts[0]), "total_frames": int(parts[1]),
                       "label": [int(x) for x in parts[2:]]})
    return videos


def _sample_frames_test_mode(total_frames: int, num_clips: int, start_index: int = 1) -> list[int]:
    """mmaction2's ``SampleFrames(clip_len=1, frame_interval=1, num_clips, test_mode=True)`` frame indices."""
    avg_interval = (total_frames - 1 + 1) / float(num_clips)
    offsets = (np.arange(num_clips) * avg_interval + avg_interval / 2.0).astype(np.int32)
    return (offsets + start_index).tolist()


def _check_rawframes(out: Path, n: int) -> dict[str, list[dict]]:
    """Every image mmaction2 would read exists, each read once, and the manifest says which frame it
    is; returns the manifest lines per frame folder."""
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    by_folder: dict[str, list[dict]] = {}
    for line in manifest:
        by_folder.setdefault(str(Path(line["image"]).parent), []).append(line)
    videos = _rawframe_dataset(out / "annotations.txt", out / "rawframes")
    assert sum(v["total_frames"] for v in videos) == len(manifest)
    for v in videos:
        files = [Path(v["frame_dir"]) / "img_{:05}.jpg".format(k) for k in range(1, v["total_frames"] + 1)]
        assert all(f.is_file() for f in files) and len(files) == n
        assert sorted(_sample_frames_test_mode(v["total_frames"], n)) == list(range(1, n + 1))
        lines = by_folder[str(Path(v["frame_dir"]).relative_to(out))]
        assert [line["image"] for line in lines] == [str(f.relative_to(out)) for f in files]
        assert [line["frame"] for line in lines] == sorted(line["frame"] for line in lines)
        assert len({line["video"] for line in lines}) == 1
    return {Path(v["frame_dir"]).name: by_folder[str(Path(v["frame_dir"]).relative_to(out))] for v in videos}


@pytest.mark.slow
def test_json_export(selections):
    _, outputs, labels = selections
    rows = json.loads(outputs["json"].read_text())
    assert {r["path"] for r in rows} == set(labels)
    for r in rows:
        assert len(r["indices"]) == N and r["indices"] == sorted(r["indices"]) and len(r["times"]) == N
        assert r["label"] == labels[r["path"]] and r["predicted"] and 0 <= r["probability"] <= 1


@pytest.mark.slow
def test_csv_export(selections):
    _, outputs, labels = selections
    with open(outputs["csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == N * len(labels) and set(rows[0]) == {"path", "rank", "frame", "time", "score", "label", "predicted"}
    assert all(r["label"] == labels[r["path"]] for r in rows)
    for path in labels:
        mine = [r for r in rows if r["path"] == path]
        assert [int(r["frame"]) for r in mine] == sorted(int(r["frame"]) for r in mine)  # rows in time order
        by_rank = sorted(mine, key=lambda r: int(r["rank"]))
        assert [int(r["rank"]) for r in by_rank] == list(range(1, N + 1))
        assert [float(r["score"]) for r in by_rank] == sorted((float(r["score"]) for r in mine), reverse=True)


@pytest.mark.slow
def test_mmaction_export(selections):
    _, outputs, labels = selections
    out = outputs["mmaction"]
    classes = (out / "classes.txt").read_text().splitlines()
    assert classes == sorted(set(labels.values()))
    chosen = {r["path"]: r["indices"] for r in json.loads(outputs["json"].read_text())}
    frames = _check_rawframes(out, N)
    videos = _rawframe_dataset(out / "annotations.txt", out / "rawframes")
    assert len(videos) == len(labels) and all(" " not in Path(v["frame_dir"]).name for v in videos)
    for v in videos:
        lines = frames[Path(v["frame_dir"]).name]
        video = lines[0]["video"]
        assert [classes[k] for k in v["label"]] == [labels[video]]
        assert [line["frame"] for line in lines] == chosen[video]
    line = frames[Path(videos[0]["frame_dir"]).name][-1]
    image = np.asarray(Image.open(out / line["image"]))
    assert np.abs(image.astype(int) - read_frames(line["video"], indices=[line["frame"]])[0]).mean() < 8


@pytest.mark.slow
def test_mmaction_export_of_videos_numbers_classes_as_the_checkpoint(selections):
    root, outputs, _ = selections
    classes = load_checkpoint(root / "ckpt").classes
    for batch in ("batch1", "batch2"):
        assert (outputs[batch] / "classes.txt").read_text().splitlines() == classes
        manifest = [json.loads(line) for line in (outputs[batch] / "manifest.jsonl").read_text().splitlines()]
        predicted = {Path(line["image"]).parent.name: line["predicted"] for line in manifest}
        for v in _rawframe_dataset(outputs[batch] / "annotations.txt", outputs[batch] / "rawframes"):
            assert v["label"] == [classes.index(predicted[Path(v["frame_dir"]).name])]


@pytest.mark.slow
def test_mmaction_export_of_an_official_layout_uses_its_class_order(selections, tmp_path, index_frames, ucf101_tree):
    root, _, _ = selections
    clip = tmp_path / "clip.mp4"
    write_video(clip, index_frames(12), fps=12)
    ucf101_tree(tmp_path / "ucf", clip.read_bytes(), ("Hammering", "HammerThrow"))
    assert main(["select", "--format", "ucf101", "--root", str(tmp_path / "ucf"), "--subset", "test", "--selector",
                 str(root / "ckpt"), "-n", "2", "--export", "mmaction", "--out", str(tmp_path / "mm")]) == 0
    assert (tmp_path / "mm" / "classes.txt").read_text().splitlines() == ["Hammering", "HammerThrow"]
    videos = _rawframe_dataset(tmp_path / "mm" / "annotations.txt", tmp_path / "mm" / "rawframes")
    labels = {Path(v["frame_dir"]).name: v["label"] for v in videos}
    assert labels == {"v_Hammering_g01_c01": [0], "v_Hammering_g01_c02": [0],
                      "v_HammerThrow_g01_c01": [1], "v_HammerThrow_g01_c02": [1]}


@pytest.mark.slow
def test_frames_export(selections):
    _, outputs, labels = selections
    lines = [json.loads(line) for line in (outputs["frames"] / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == N * len(labels)
    for line in lines[:: N * 3]:
        image = np.asarray(Image.open(outputs["frames"] / line["image"]))
        original = read_frames(line["video"], indices=[line["frame"]])[0]
        assert image.shape == original.shape
        assert np.abs(image.astype(int) - original).mean() < 8  # JPEG at quality 95


# Layouts on synthetic clips (no model) ----------------------------------------------------------------


def _selection(path: Path, indices, label: str = "b", classes=("b", "a")) -> Selection:
    """What a selector with ``classes`` might choose in a 30-frame clip."""
    candidates = np.arange(30)
    return Selection(str(path), list(indices), [i / 25 for i in indices], candidates, candidates / 25,
                     np.ones(30), np.ones(30), np.linspace(0, 1, 30), label, 0.9, {c: 1 / len(classes) for c in classes})


@pytest.fixture
def clips(tmp_path, index_frames) -> list[Path]:
    """Three 30-frame clips whose frame i has grey level 10 + 8 i; two share the stem ``clip``."""
    paths = [tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4", tmp_path / "my clip.mp4"]
    for path in paths:
        path.parent.mkdir(exist_ok=True)
        write_video(path, index_frames(30), fps=25)
    return paths


def test_mmaction_rawframes_layout(clips, tmp_path, frame_index):
    chosen = [[2, 9, 20], [0, 1, 29], [5, 6, 7]]
    selections = [_selection(p, idx) for p, idx in zip(clips, chosen)]
    labels = {str(clips[0]): "a", str(clips[1]): ("b", "a")}  # the third: its prediction, "b"
    written = export_selections(selections, "mmaction", tmp_path / "out", labels=labels, classes=["a", "b"])
    out = tmp_path / "out"
    assert written == out / "annotations.txt"
    assert (out / "classes.txt").read_text() == "a\nb\n"
    frames = _check_rawframes(out, 3)
    videos = _rawframe_dataset(out / "annotations.txt", out / "rawframes")
    assert [Path(v["frame_dir"]).name for v in videos] == ["clip", "clip-1", "my_clip"]
    assert [v["label"] for v in videos] == [[0], [1, 0], [1]]
    for v, path, idx in zip(videos, clips, chosen):
        lines = frames[Path(v["frame_dir"]).name]
        assert [line["video"] for line in lines] == [str(path)] * 3 and [line["frame"] for line in lines] == idx
        images = [np.asarray(Image.open(Path(v["frame_dir"]) / "img_{:05}.jpg".format(k))) for k in (1, 2, 3)]
        assert [frame_index(image) for image in images] == idx


def test_mmaction_default_classes_are_the_selectors(clips, tmp_path):
    export_selections([_selection(clips[0], [1, 2], label="a", classes=("c", "b", "a"))], "mmaction", tmp_path / "out")
    assert (tmp_path / "out" / "classes.txt").read_text() == "c\nb\na\n"
    assert (tmp_path / "out" / "annotations.txt").read_text() == "clip 2 2\n"


def test_mmaction_label_outside_the_classes(clips, tmp_path):
    with pytest.raises(SmartframesError, match=r"clip.mp4: label 'x' is not one of the 2 classes"):
        export_selections([_selection(clips[0], [1])], "mmaction", tmp_path / "out", labels={str(clips[0]): "x"}, classes=["a", "b"])
    (tmp_path / "file").write_text("x")
    with pytest.raises(SmartframesError, match=r"file: not a folder \(the mmaction export writes a folder\)"):
        export_selections([_selection(clips[0], [1])], "mmaction", tmp_path / "file", classes=["a", "b"])


def test_json_and_csv_carry_every_label_of_a_multi_label_video(clips, tmp_path):
    selections = [_selection(clips[0], [2, 9]), _selection(clips[2], [4])]
    labels = {str(clips[0]): ("b", "a"), str(clips[2]): "a"}
    rows = json.loads(export_selections(selections, "json", tmp_path / "s.json", labels=labels).read_text())
    assert [(r["label"], r.get("labels")) for r in rows] == [("b", ["b", "a"]), ("a", None)]
    with open(export_selections(selections, "csv", tmp_path / "s.csv", labels=labels), newline="") as fh:
        assert [r["label"] for r in csv.DictReader(fh)] == ["b|a", "b|a", "a"]


@pytest.mark.parametrize("fmt, image_dir", [("frames", "clip"), ("mmaction", "rawframes/clip")])
def test_a_second_export_leaves_no_stale_images(clips, tmp_path, fmt, image_dir, frame_index):
    export_selections([_selection(clips[0], [3, 8, 15, 21])], fmt, tmp_path / "out")
    export_selections([_selection(clips[0], [4, 12])], fmt, tmp_path / "out")
    folder = tmp_path / "out" / image_dir
    assert sorted(frame_index(np.asarray(Image.open(f))) for f in folder.glob("*.jpg")) == [4, 12]
    export_selections([_selection(clips[1], [5])], fmt, tmp_path / "out")  # another video named clip: its own folder
    assert len(list(folder.glob("*.jpg"))) == 2 and (folder.parent / "clip-1").is_dir()
