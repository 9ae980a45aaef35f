"""Official dataset layouts: tiny trees shaped like the real annotation files, pointing at real clips."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from smartframes.data.dataset import DatasetError
from smartframes.data.formats import FORMATS, load_format
from smartframes.io.video import write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    """The bytes of one tiny H.264 clip; every fixture video is a copy."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_video(path, np.zeros((8, 32, 32, 3), np.uint8), fps=12)
    return path.read_bytes()


def _videos(folder: Path, clip: bytes, names) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(clip)


def _text(path: Path, lines, newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode())


def _json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _by_split(result) -> dict[str, set[str]]:
    out = defaultdict(set)
    for it in result.items:
        out[it.split].add(it.key)
    return out


def _check(result, root: Path, train_keys) -> None:
    """Keys sorted, paths absolute and on disk, and val carved from the official train list only."""
    keys = [it.key for it in result.items]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for it in result.items:
        assert it.path == str((root / it.key).resolve()) and Path(it.path).is_file()
    val = _by_split(result)["val"]
    assert val and val <= set(train_keys)


# UCF101 --------------------------------------------------------------------------------------------

UCF_CLASSES = ("ApplyEyeMakeup", "Archery")


@pytest.mark.parametrize("lists, videos", [("ucfTrainTestlist", "UCF-101"), ("", "")])
def test_ucf101(tmp_path, clip, lists, videos, ucf101_tree):
    train, test, absent = ucf101_tree(tmp_path, clip, UCF_CLASSES, lists, videos)
    result = load_format("ucf101", tmp_path, split=1)
    _check(result, tmp_path, train)
    assert {it.label for it in result.items} == set(UCF_CLASSES) and result.classes == list(UCF_CLASSES)
    assert all(it.label == PurePosixPath(it.key).parent.name and it.labels == () for it in result.items)
    splits = _by_split(result)
    assert splits["test"] == set(test)
    assert splits["train"] | splits["val"] == set(train) - {PurePosixPath(videos, absent).as_posix()}
    assert result.missing == [absent]
    assert len(result.items) == 18 + 4 - 1
    group_splits = defaultdict(set)
    for it in result.items:
        group_splits[(it.label, it.key.split("_")[-2])].add(it.split)
    assert all(len(s) == 1 for s in group_splits.values())  # one actor's clips never straddle train and val
    assert {it.label for it in result.items if it.split == "val"} == set(UCF_CLASSES)


def test_ucf101_classes_file(tmp_path, clip, ucf101_tree):
    ucf101_tree(tmp_path, clip, UCF_CLASSES)
    (tmp_path / "classes.txt").write_text("# the subset\n\narchery\n")
    result = load_format("ucf101", tmp_path, classes_file=tmp_path / "classes.txt")
    assert {it.label for it in result.items} == {"Archery"} and len(result.items) == 10
    assert result.missing == ["Archery/v_Archery_g10_c03.avi"] and result.classes == ["Archery"]


UCF_OFFICIAL_ORDER = ("Archery", "Hammering", "HammerThrow", "JumpingJack", "JumpRope")  # not sorted(): 'T' < 'i'


def test_ucf101_classes_follow_classind(tmp_path, clip, ucf101_tree):
    ucf101_tree(tmp_path, clip, UCF_OFFICIAL_ORDER)
    assert load_format("ucf101", tmp_path).classes == list(UCF_OFFICIAL_ORDER)
    (tmp_path / "subset.txt").write_text("JumpRope\nhammerthrow\nJumpingJack\nHammering\n")
    result = load_format("ucf101", tmp_path, classes_file=tmp_path / "subset.txt")
    assert result.classes == ["Hammering", "HammerThrow", "JumpingJack", "JumpRope"]


# HMDB51 --------------------------------------------------------------------------------------------

HMDB_FLAGS = [1] * 7 + [2, 2, 0]  # source i: 1 = train, 2 = test, 0 = unused


def _hmdb51(root: Path, clip: bytes) -> dict[str, int]:
    flags = {}
    for c in ("brush_hair", "cartwheel"):
        for i, flag in enumerate(HMDB_FLAGS):
            for k in (0, 1) if i == 0 else (0,):
                flags[f"{c}/Source{i}_{c}_u_nm_np1_ba_goo_{k}.avi"] = flag
        lines = [f"{v.split('/')[1]} {f} " for v, f in flags.items() if v.startswith(c)]
        _text(root / "testTrainMulti_7030_splits" / f"{c}_test_split1.txt", lines)
    _videos(root / "hmdb51_org", clip, flags)
    return {f"hmdb51_org/{v}": f for v, f in flags.items()}


def test_hmdb51(tmp_path, clip):
    flags = _hmdb51(tmp_path, clip)
    result = load_format("hmdb51", tmp_path, split=1)
    train = [v for v, f in flags.items() if f == 1]
    _check(result, tmp_path, train)
    splits = _by_split(result)
    assert splits["test"] == {v for v, f in flags.items() if f == 2}
    assert splits["train"] | splits["val"] == set(train)
    assert not {v for v, f in flags.items() if f == 0} & {it.key for it in result.items}
    assert {it.label for it in result.items} == {"brush_hair", "cartwheel"} and result.missing == []
    assert result.classes == ["brush_hair", "cartwheel"]
    for c in ("brush_hair", "cartwheel"):  # the two clips cut from one source video stay together
        assert len({it.split for it in result.items if f"Source0_{c}" in it.key}) == 1
    with pytest.raises(DatasetError, match=r"hmdb51: no \*_test_split2.txt files in .*testTrainMulti_7030_splits"):
        load_format("hmdb51", tmp_path, split=2)


# Something-Something v2 ----------------------------------------------------------------------------

SSV2_TEMPLATES = {"Holding [something] next to [something]": "0", "Pushing [something] from left to right": "1"}


def _ssv2(root: Path, clip: bytes, bad_template: bool = False):
    _json(root / "labels.json", {t.replace("[", "").replace("]", ""): i for t, i in SSV2_TEMPLATES.items()})
    train = [{"id": str(10 * int(c) + i), "template": t, "label": "x", "placeholders": ["a"]}
             for t, c in SSV2_TEMPLATES.items() for i in range(7)]
    if bad_template:
        train[0]["template"] = "Spinning [something]"
    val = [{"id": str(100 + i), "template": t, "label": "y", "placeholders": ["b"]}
           for i, t in enumerate(SSV2_TEMPLATES)]
    _json(root / "train.json", train)
    _json(root / "validation.json", val)
    _json(root / "test.json", [{"id": "900"}])
    ids = [r["id"] for r in train + val] + ["900"]
    _videos(root / "20bn-something-something-v2", clip, [f"{i}.webm" for i in ids if i != "16"])
    return train, val


def test_ssv2(tmp_path, clip):
    train, val = _ssv2(tmp_path, clip)
    result = load_format("ssv2", tmp_path, split=3)  # no split number: ignored
    key = lambda r: f"20bn-something-something-v2/{r['id']}.webm"  # noqa: E731
    _check(result, tmp_path, [key(r) for r in train])
    labels = {it.key: it.label for it in result.items}
    assert labels["20bn-something-something-v2/0.webm"] == "Holding something next to something"
    assert labels["20bn-something-something-v2/101.webm"] == "Pushing something from left to right"
    splits = _by_split(result)
    assert splits["test"] == {key(r) for r in val}
    assert splits["train"] | splits["val"] == {key(r) for r in train} - {key({"id": "16"})}
    assert "20bn-something-something-v2/900.webm" not in labels  # test.json has no labels
    assert result.missing == ["16.webm"]
    assert result.classes == ["Holding something next to something", "Pushing something from left to right"]


def test_ssv2_classes_follow_label_indices(tmp_path, clip):
    _ssv2(tmp_path, clip)
    holding, pushing = "Holding something next to something", "Pushing something from left to right"
    _json(tmp_path / "labels.json", {holding: "10", pushing: "2"})
    assert load_format("ssv2", tmp_path).classes == [pushing, holding]
    _json(tmp_path / "labels.json", {holding: "first", pushing: "2"})
    with pytest.raises(DatasetError, match=rf"labels.json: class '{holding}': index 'first' is not a whole number"):
        load_format("ssv2", tmp_path)


def test_ssv2_unknown_template(tmp_path, clip):
    _ssv2(tmp_path, clip, bad_template=True)
    with pytest.raises(DatasetError, match=r"train.json: entry 1 \(id 0\): 'Spinning something' is not a class of .*labels.json"):
        load_format("ssv2", tmp_path)


# Kinetics ------------------------------------------------------------------------------------------


def _kinetics(root: Path, clip: bytes, mmaction2: bool = False):
    """Clips laid out the ways downloaders do: train/<label_with_underscores>/, train/, val/, <label>/, root;
    or, with ``mmaction2``, as its downloader does: videos_train/<label_with_underscores>/, videos_val/[<label_...>/]."""
    rows, where = [], {}
    for c, label in enumerate(("air drumming", "abseiling")):
        for i in range(9):
            youtube_id, start, end = f"y{c}{i}_x-Abc_d", 10 * i, 10 * i + 10
            stem = f"{youtube_id}_{start:06d}_{end:06d}"
            subset = "train" if i < 7 else "validate"
            rows.append((label, youtube_id, f"{start}.0" if i % 2 else str(start), str(end), subset))
            if subset == "validate":
                where[stem] = f"val/{stem}" + (".mkv" if i == 8 else ".mp4")
            elif label == "air drumming":
                where[stem] = f"train/air_drumming/{stem}.mp4" if i < 4 else f"air drumming/{stem}.webm"
            else:
                where[stem] = f"train/{stem}.mp4" if i < 5 else f"{stem}.mp4"
            if mmaction2:
                folder = "videos_train" if subset == "train" else "videos_val"
                where[stem] = f"{folder}/{label.replace(' ', '_') + '/' if i != 8 else ''}{stem}.mp4"
    header = "label,youtube_id,time_start,time_end,split"
    train, validate = [r for r in rows if r[4] == "train"], [r for r in rows if r[4] == "validate"]
    _text(root / "annotations" / "train.csv", [header] + [",".join(r) for r in train])
    _text(root / "annotations" / "validate.csv", [header + ",is_cc"] + [",".join(r) + ",0" for r in validate])
    test = ["abseiling,zzzzzzzzzzz,0,10,test", "abseiling,wwwwwwwwwww,0,10,test"]  # K400's test.csv is labelled
    _text(root / "annotations" / "test.csv", [header, *test])
    _text(root / "annotations" / "kinetics_test.csv", ["label,youtube_id,time_start,time_end", "abseiling,vvvvvvvvvvv,0,10"])
    absent = "y16_x-Abc_d_000060_000070"
    official_test = [f"{folder}{youtube_id}_000000_000010.mp4" for folder, youtube_id in
                     (("test/", "zzzzzzzzzzz"), ("val/", "wwwwwwwwwww"), ("", "vvvvvvvvvvv"))]
    _videos(root, clip, [p for s, p in where.items() if s != absent] + official_test)
    return rows, where, absent


@pytest.mark.parametrize("mmaction2", [False, True])
def test_kinetics(tmp_path, clip, mmaction2):
    rows, where, absent = _kinetics(tmp_path, clip, mmaction2)
    result = load_format("kinetics", tmp_path)
    train = [p for s, p in where.items() if "val/" not in p]
    _check(result, tmp_path, train)
    assert {it.label for it in result.items} == {"air drumming", "abseiling"}
    assert result.classes == ["abseiling", "air drumming"]
    assert {it.key: it.label for it in result.items}[where["y01_x-Abc_d_000010_000020"]] == "air drumming"
    splits = _by_split(result)
    assert splits["test"] == {p for p in where.values() if "val/" in p}  # validate -> test
    assert splits["train"] | splits["val"] == set(train) - {where[absent]}
    assert not any(key in it.key for it in result.items for key in ("zzzz", "wwww", "vvvv"))  # official test split
    assert result.missing == [f"{absent}.mp4"]  # a takedown is listed, not fatal
    assert len(result.items) == len(rows) - 1


@pytest.mark.parametrize("names", ["Air_Drumming", "  AIR   drumming  # comment", "air drumming\n\n# x\n"])
def test_kinetics_classes_file(tmp_path, clip, names):
    _kinetics(tmp_path, clip)
    (tmp_path / "k32.txt").write_text(names)
    result = load_format("kinetics", tmp_path, classes_file=tmp_path / "k32.txt")
    assert {it.label for it in result.items} == {"air drumming"} and len(result.items) == 9
    assert result.missing == []


def test_kinetics_unknown_class(tmp_path, clip):
    _kinetics(tmp_path, clip)
    (tmp_path / "k32.txt").write_text("abseiling\nplaying_kazoo\njuggling fire\n")
    with pytest.raises(DatasetError, match=r"k32.txt: unknown classes 'playing_kazoo', 'juggling fire' .*abseiling, air drumming"):
        load_format("kinetics", tmp_path, classes_file=tmp_path / "k32.txt")


# ActivityNet v1.3 ----------------------------------------------------------------------------------


def _activitynet(root: Path, clip: bytes, json_name: str):
    def video(subset, *annotations):
        return {"subset": subset, "duration": 60.0, "url": "https://www.youtube.com/watch?v=x",
                "annotations": [{"segment": list(s), "label": lab} for s, lab in annotations]}

    database = {f"a{i}": video("training", ((1.5, 20.0), "Drinking coffee")) for i in range(7)}
    coffee, smoking = "Drinking coffee", "Smoking a cigarette"  # m1: 10 s of coffee, 20 s of smoking
    database["m1"] = video("training", ((0, 5), coffee), ((10, 30), smoking), ((40, 45), coffee))
    database["e1"] = video("training")
    database["v1"] = video("validation", ((3, 9), "Drinking coffee"))
    database["v2"] = video("validation", ((3, 9), "Smoking a cigarette"))
    database["t1"] = video("testing")
    _json(root / json_name, {"version": "VERSION 1.3", "taxonomy": [], "database": database})
    _videos(root / "videos", clip, [f"v_{i}.mp4" for i in database if i not in ("a6", "v2")])
    _videos(root, clip, ["v2.mkv"])


@pytest.mark.parametrize("json_name", ["activity_net.v1-3.min.json", "anet_v13.json"])
def test_activitynet(tmp_path, clip, json_name):
    _activitynet(tmp_path, clip, json_name)
    result = load_format("activitynet", tmp_path)
    _check(result, tmp_path, [f"videos/v_a{i}.mp4" for i in range(7)] + ["videos/v_m1.mp4"])
    items = {it.key: it for it in result.items}
    multi = items["videos/v_m1.mp4"]
    assert multi.label == "Smoking a cigarette" and multi.labels == ("Smoking a cigarette", "Drinking coffee")
    assert items["videos/v_a0.mp4"].labels == ()
    assert result.classes == ["Drinking coffee", "Smoking a cigarette"]
    assert _by_split(result)["test"] == {"videos/v_v1.mp4", "v2.mkv"}
    assert "videos/v_e1.mp4" not in items and "videos/v_t1.mp4" not in items  # unlabelled, testing
    assert result.missing == ["v_a6.mp4"]
    assert len(result.items) == 6 + 1 + 2


# FCVID ---------------------------------------------------------------------------------------------

FCVID_ROWS = (
    [(f"accordionPerformance/acc{i}.mp4", "train", "1 0 0") for i in range(7)]
    + [("beach/b0.mp4", "train", "0 1 0"), ("beach/b1.mp4", "train", "0 1 0"), ("beach/both.mp4", "train", "1 1 0")]
    + [("misc/none.mp4", "train", "0 0 0")]
    + [("accordionPerformance/t0.mp4", "test", "1 0 0"), ("beach/t1.mp4", "test", "0 1 1")]
)


def _fcvid(root: Path, clip: bytes, categories=None, label_rows=None):
    _text(root / "materials" / "FCVID_VideoName_TrainTestSplit.txt", [f"{v} {s}" for v, s, _ in FCVID_ROWS])
    _text(root / "materials" / "FCVID_Label.txt", [h for _, _, h in FCVID_ROWS][:label_rows])
    if categories is not None:
        _text(root / "materials" / "FCVID_Category.txt", categories)
    _videos(root / "videos", clip, [v for v, _, _ in FCVID_ROWS if v != "accordionPerformance/acc6.mp4"])


@pytest.mark.parametrize(
    "categories, names",
    [
        (None, ("accordionPerformance", "beach", "class_3")),
        (["1 accordionPerformance", "beach 2", "marriage proposal"], ("accordionPerformance", "beach", "marriage proposal")),
        (["zoo", "beach", "accordion"], ("zoo", "beach", "accordion")),  # column order, not sorted
    ],
)
def test_fcvid(tmp_path, clip, categories, names):
    _fcvid(tmp_path, clip, categories)
    result = load_format("fcvid", tmp_path)
    _check(result, tmp_path, [f"videos/{v}" for v, s, _ in FCVID_ROWS if s == "train"])
    items = {it.key: it for it in result.items}
    assert (items["videos/beach/both.mp4"].label, items["videos/beach/both.mp4"].labels) == (names[0], names[:2])
    assert (items["videos/beach/t1.mp4"].label, items["videos/beach/t1.mp4"].labels) == (names[1], names[1:])
    assert items["videos/beach/b0.mp4"].labels == ()
    assert _by_split(result)["test"] == {"videos/accordionPerformance/t0.mp4", "videos/beach/t1.mp4"}
    assert "videos/misc/none.mp4" not in items  # a row without a label
    assert result.missing == ["accordionPerformance/acc6.mp4"]
    assert len(result.items) == len(FCVID_ROWS) - 2
    assert result.classes == list(names)


def test_fcvid_classes_file_narrows_multi_label(tmp_path, clip):
    _fcvid(tmp_path, clip)
    (tmp_path / "classes.txt").write_text("beach\n")
    result = load_format("fcvid", tmp_path, classes_file=tmp_path / "classes.txt")
    items = {it.key: it for it in result.items}
    assert set(items) == {f"videos/beach/{n}.mp4" for n in ("b0", "b1", "both", "t1")}
    assert all(it.label == "beach" and it.labels == () for it in items.values())
    assert result.classes == ["beach"]


# Errors --------------------------------------------------------------------------------------------

UCF_ONE_CLASS = {"classInd.txt": "1 Archery\n", "testlist01.txt": "Archery/b.avi\n"}
KINETICS_HEADER = "label,youtube_id,time_start,time_end,split\n"

ERROR_CASES = {  # case: (files to write or a setup function, load_format arguments, expected message)
    "unknown format": ({}, dict(name="ucf102"), r"unknown dataset format 'ucf102' \(known: ucf101, hmdb51, ssv2, kinetics"),
    "missing root": ({}, dict(root="nowhere"), r"nowhere: no such directory"),
    "missing classInd": ({}, dict(name="ucf101"), r"ucf101: no classInd.txt in .* or .*ucfTrainTestlist$"),
    "missing testlist": (
        {"ucfTrainTestlist/classInd.txt": "1 Archery\n", "ucfTrainTestlist/trainlist01.txt": "Archery/a.avi 1\n"},
        dict(name="ucf101"),
        r"ucf101: no testlist01.txt in ",
    ),
    "missing FCVID labels": (
        {"materials/FCVID_VideoName_TrainTestSplit.txt": "a/b.mp4 train\n"},
        dict(name="fcvid"),
        r"fcvid: no FCVID_Label.txt in .* or .*materials$",
    ),
    "no Kinetics CSV": (
        {"notes.csv": "path,label\n"},
        dict(name="kinetics"),
        r"kinetics: no CSV with header label,youtube_id,time_start,time_end,split in ",
    ),
    "malformed classInd": (
        {"classInd.txt": "1 ApplyEyeMakeup\r\nArchery\r\n"},
        dict(name="ucf101"),
        r"classInd.txt: line 2: expected '<index> <class>'",
    ),
    "malformed trainlist": (
        {**UCF_ONE_CLASS, "trainlist01.txt": "Archery/a.avi 1\n\nArchery/b.avi one\n"},
        dict(name="ucf101"),
        r"trainlist01.txt: line 3: expected '<Class>/<video>.avi\[ <class index>\]'",
    ),
    "unknown class index": (
        {**UCF_ONE_CLASS, "trainlist01.txt": "Archery/a.avi 7\n"},
        dict(name="ucf101"),
        r"trainlist01.txt: line 1: class of Archery/a.avi is not in .*classInd.txt",
    ),
    "malformed HMDB flag": (
        {"jump_test_split1.txt": "a.avi 1\nb.avi 3\n"},
        dict(name="hmdb51"),
        r"jump_test_split1.txt: line 2: expected '<video>.avi <0\|1\|2>'",
    ),
    "malformed Kinetics time": (
        {"train.csv": KINETICS_HEADER + "a,b,0,10,train\na,c,ten,20,train\n"},
        dict(name="kinetics"),
        r"train.csv: line 3: time_start and time_end must be numbers",
    ),
    "bad UCF101 split": ({}, dict(name="ucf101", split=0), r"ucf101: split 0 does not exist"),
    "bad HMDB51 split": ({}, dict(name="hmdb51", split=4), r"hmdb51: split 4 does not exist"),
    "FCVID row count": (
        lambda root, clip: _fcvid(root, clip, label_rows=-1),
        dict(name="fcvid"),
        r"fcvid: .*FCVID_Label.txt has 12 rows but .*FCVID_VideoName_TrainTestSplit.txt has 13",
    ),
    "FCVID category count": (
        lambda root, clip: _fcvid(root, clip, categories=["a", "b"]),
        dict(name="fcvid"),
        r"FCVID_Category.txt: 2 class names but .*FCVID_Label.txt has 3 columns",
    ),
    "no video on disk": (
        {**UCF_ONE_CLASS, "trainlist01.txt": "Archery/a.avi 1\n"},
        dict(name="ucf101"),
        r"ucf101: none of the 2 listed videos is under .* \(e.g. Archery/a.avi: looked for Archery/a.avi, UCF-101/Archery/a.avi\)",
    ),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_errors(tmp_path, clip, case):
    setup, kwargs, message = ERROR_CASES[case]
    if callable(setup):
        setup(tmp_path, clip)
    else:
        for name, text in setup.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(text.encode())
    args = {"name": "ucf101", "split": 1, **kwargs}
    with pytest.raises(DatasetError, match=message):
        load_format(args["name"], tmp_path / args.get("root", ""), split=args["split"])


def test_formats_is_a_plain_dict_of_readers():
    assert list(FORMATS) == ["ucf101", "hmdb51", "ssv2", "kinetics", "activitynet", "fcvid"]
    assert all(callable(f) for f in FORMATS.values())


def test_extract_from_an_official_layout(tmp_path, clip, capsys, small_spec_args):
    """The CLI: ``extract --format --root --classes`` catalogs the official splits and says what is missing."""
    from smartframes.cli.main import main
    from smartframes.features.store import FeatureStore

    _kinetics(tmp_path / "k400", clip)
    (tmp_path / "k2.txt").write_text("abseiling\nair drumming\n")
    argv = ["extract", "--format", "kinetics", "--root", str(tmp_path / "k400"), "--classes", str(tmp_path / "k2.txt"),
            "--store", str(tmp_path / "store"), "--quiet", *small_spec_args]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "kinetics: 1 listed videos are not on disk, left out (y16_x-Abc_d_000060_000070.mp4)" in err
    with FeatureStore.open(tmp_path / "store") as store:
        records = store.records()
    assert len(records) == 17 and all(r.status == "done" for r in records)
    assert {r.split for r in records} == {"train", "val", "test"} and {r.label for r in records} == {"abseiling", "air drumming"}
    assert main(["extract", "x", "--format", "kinetics", "--root", str(tmp_path), "--store", str(tmp_path / "s")]) == 2
    assert "not both" in capsys.readouterr().err
