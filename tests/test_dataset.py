"""Dataset input: class folders, CSVs, and the deterministic stratified split."""

from __future__ import annotations

from collections import Counter

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from smartframes.data.dataset import DatasetError, DatasetItem, assign_splits, carve_val, load_dataset, video_group


def _touch(root, names):
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_class_folders(tmp_path):
    _touch(tmp_path, [f"{c}/v{i}.mp4" for c in ("jump", "run") for i in range(10)] + ["run/readme.txt", ".hidden/a.mp4"])
    items = load_dataset(tmp_path)
    assert len(items) == 20 and {it.label for it in items} == {"jump", "run"}
    per = Counter((it.label, it.split) for it in items)
    assert per[("jump", "train")] == per[("run", "train")] == 7
    assert per[("jump", "val")] == 1 and per[("jump", "test")] == 2


def test_csv_with_and_without_split(tmp_path):
    _touch(tmp_path, ["clips/a.mp4", "clips/b.avi"])
    (tmp_path / "l.csv").write_text("path,label,split\nclips/a.mp4,jump,test\nclips/b.avi,run,\n")
    items = load_dataset(tmp_path / "l.csv")
    assert [(it.label, it.split) for it in items] == [("jump", "test"), ("run", "train")]
    assert items[0].path == str((tmp_path / "clips/a.mp4").resolve())


def test_split_is_deterministic_and_stable():
    items = [DatasetItem(f"/d/{c}/{i}.mp4", c, None, f"{c}/{i}.mp4") for c in "abc" for i in range(37)]
    first = {it.key: it.split for it in assign_splits(items)}
    again = {it.key: it.split for it in assign_splits(list(reversed(items)))}
    assert first == again
    counts = Counter((it.label, it.split) for it in assign_splits(items))
    assert all(counts[(c, "train")] == 26 and counts[(c, "val")] == 4 and counts[(c, "test")] == 7 for c in "abc")


@pytest.mark.parametrize(
    "content, message",
    [
        ("file,class\na.mp4,x\n", "must contain 'path' and 'label'"),
        ("path,label\na.mp4,\n", "line 2: empty path or label"),
        ("path,label,split\na.mp4,x,training\n", "split 'training' is not one of"),
        ("path,label\n", "no videos found"),
    ],
)
def test_bad_csv(tmp_path, content, message):
    (tmp_path / "l.csv").write_text(content)
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset(tmp_path / "l.csv")
    assert "l.csv" in str(err.value)


def test_missing_and_empty_sources(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "nothing")
    with pytest.raises(DatasetError, match="no videos found"):
        load_dataset(tmp_path)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DatasetError, match="bin.csv"):
        load_dataset(tmp_path / "bin.csv")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 6), st.sampled_from(["train", "test"])),
                min_size=1, max_size=60))
def test_carve_val_moves_whole_groups_of_train_items(rows):
    items = [DatasetItem(f"/d/{label}/g{g}_c{i}.avi", label, split, f"{label}/g{g}_c{i}.avi")
             for i, (label, g, split) in enumerate(rows)]
    group = lambda it: it.key.split("_")[0]  # noqa: E731  (the class and group, as UCF101's gNN)
    out = carve_val(items, 0.1, group)
    assert carve_val(items, 0.1, group) == out  # deterministic
    assert [(o.path, o.label) for o in out] == [(it.path, it.label) for it in items]
    for before, after in zip(items, out):
        assert after.split == before.split or (before.split, after.split) == ("train", "val")
    splits_of_group = {}
    for it in out:
        if it.split != "test":
            splits_of_group.setdefault(group(it), set()).add(it.split)
    assert all(len(s) == 1 for s in splits_of_group.values())
    for label in "abc":
        train = [it for it in items if it.label == label and it.split == "train"]
        groups = {group(it) for it in train}
        val = [it for it in out if it.label == label and it.split == "val"]
        if len(train) <= 5 or len(groups) == 1:
            assert not val
        else:
            assert val and len(val) < len(train)


@pytest.mark.parametrize("sizes", [(1, 19), (19, 1)])
def test_carve_val_leaves_every_class_some_training_videos(sizes):
    """Whichever group comes first by hash, a small one first must not drag the big one to val."""
    items = [DatasetItem(f"/d/g{g}_c{i}.avi", "a", "train", f"g{g}_c{i}.avi") for g, n in enumerate(sizes) for i in range(n)]
    out = carve_val(items, 0.1, lambda it: it.key.split("_")[0])
    assert Counter(it.split for it in out)["train"] > 0


def test_a_train_test_csv_gets_val_carved_by_group(tmp_path):
    names = [f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi" for c in ("Jump", "Run") for g in range(1, 11) for k in (1, 2)]
    _touch(tmp_path, names)
    rows = [f"{n},{n.split('/')[0]},{'test' if '_g01_' in n or '_g02_' in n else 'train'}" for n in names]
    (tmp_path / "l.csv").write_text("path,label,split\n" + "\n".join(rows) + "\n")
    items = load_dataset(tmp_path / "l.csv")
    per = Counter((it.label, it.split) for it in items)
    assert per[("Jump", "test")] == 4 and per[("Jump", "val")] == 2 and per[("Jump", "train")] == 14
    groups = {}
    for it in items:
        groups.setdefault(video_group(it), set()).add(it.split)
    assert all(len(splits) == 1 for splits in groups.values())  # no actor straddles two splits
    assert all(it.split == "test" for it in items if "_g01_" in it.key)  # the official test split is kept


def test_video_groups_of_ucf101_and_hmdb51_names():
    ucf = DatasetItem("/d/a.avi", "Archery", "train", "Archery/v_Archery_g03_c02.avi")
    hmdb = DatasetItem("/d/b.avi", "wave", "train", "wave/Wave_hello_wave_u_cm_np1_fr_med_0.avi")
    other = DatasetItem("/d/c.mp4", "x", "train", "x/clip7.mp4")
    assert video_group(ucf) == "Archery/g03"
    assert video_group(hmdb) == "wave/Wave_hello_wave"
    assert video_group(other) == "x/clip7.mp4"
