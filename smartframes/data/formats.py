"""Readers for the official on-disk layouts of action-recognition datasets.

Each reader in :data:`FORMATS` turns a dataset's own annotation files into :class:`Entry` records;
:func:`load_format` looks the videos up on disk, keeps a ``--classes`` subset and carves ``val``
out of ``train``. The official evaluation subset becomes ``test``; unlabelled subsets are skipped.
Each reader also gives the dataset's classes in its official order, which fixes the label indices.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from .segments import Segment, read_segments
from .dataset import DatasetError, DatasetItem, carve_val, group_of, load_dataset

VAL_FRACTION = 0.1
OFFICIAL_SPLITS = (1, 2, 3)  # UCF101 and HMDB51 each publish three train/test splits
CLIP_SUFFIXES = (".mp4", ".mkv", ".webm")  # how downloaders save Kinetics and ActivityNet clips


@dataclass
class FormatResult:
    """The videos of a dataset found on disk, those its annotation lists but the disk lacks, and
    its classes in the official order (the label indices of exports)."""

    items: list[DatasetItem]  # sorted by key
    missing: list[str]  # names as the annotation lists them; not fatal (e.g. YouTube takedowns)
    classes: list[str]  # every class (after ``--classes``), with or without videos on disk
    segments: dict[str, list[Segment]] | None = None  # temporal annotations, for a layout that has them (ActivityNet)


@dataclass(frozen=True)
class Entry:
    """One labelled video as an annotation file lists it."""

    name: str  # reported in ``FormatResult.missing`` when no candidate exists
    label: str
    split: str  # "train" or "test"
    candidates: tuple[str, ...]  # posix paths relative to the root where the video may lie, in order
    labels: tuple[str, ...] = ()  # every label, ``label`` first, when more than one
    group: str | None = None  # videos that go to val together (default: each video alone)


def load_format(name: str, root, split: int = 1, classes_file=None) -> FormatResult:
    """Read a dataset laid out as its authors distribute it.

    Args:
        name: a key of :data:`FORMATS` (case-insensitive).
        root: the dataset folder; annotation files and videos may sit in it or in their usual
            sub-folders (``ucfTrainTestlist/``, ``UCF-101/``, ``annotations/``, ``videos/``, ...).
        split: the official split number for UCF101 and HMDB51 (1, 2 or 3); ignored by the others.
        classes_file: a text file of class names, one per line (blank lines and ``#`` comments
            ignored); only videos of those classes are kept. Names match case-insensitively, with
            spaces and underscores alike.

    Returns:
        Items sorted by key, with the official train/test split and ``val`` carved out of train
        (:func:`~smartframes.dataset.carve_val`, 10% per class), the listed videos not on disk, and
        the classes in the dataset's official order: UCF101 as ``classInd.txt`` lists them, SSv2 by
        the indices of ``labels.json``, FCVID by label column; HMDB51, Kinetics and ActivityNet
        sorted by name, as mmaction2's file-list builders number them. ``classes_file`` narrows
        the list and keeps that order.

    Raises:
        DatasetError: unknown format, missing root or annotation file, malformed annotation line,
            split number out of range, unknown class in ``classes_file``, no video on disk.
    """
    reader = FORMATS.get(str(name).lower())
    if reader is None:
        raise DatasetError(f"unknown dataset format {name!r} (known: {', '.join(FORMATS)})")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: {'not a directory' if root.exists() else 'no such directory'}")
    root = root.resolve()
    entries, classes = reader(root, split)
    if not entries:
        raise DatasetError(f"{name}: the annotation files under {root} list no labelled video")
    if classes_file is not None:
        entries, classes = _keep_classes(entries, classes, Path(classes_file))
    result = _on_disk(name, root, entries, classes)
    if str(name).lower() == "activitynet":
        result.segments = read_segments(_activitynet_json(root), "activitynet")
    return result


def load_source(dataset=None, *, format: str | None = None, root=None, split: int = 1,
                classes_file=None) -> FormatResult:
    """The videos a user names: a dataset folder or CSV (:func:`~smartframes.data.dataset.load_dataset`;
    its classes are its sorted labels), or a dataset in its official layout (:func:`load_format`).

    Args:
        dataset: a folder or CSV; or None with ``format`` and ``root``.
        format, root, split, classes_file: as :func:`load_format` takes them.

    Raises:
        DatasetError: both or neither kind of source, ``root``/``classes_file`` without ``format``,
            and whatever the readers raise.
    """
    if format is not None:
        if dataset is not None:
            raise DatasetError("give either a DATASET folder/CSV or --format with --root, not both")
        if root is None:
            raise DatasetError("--format needs --root, the dataset folder")
        return load_format(format, root, split, classes_file)
    if root is not None or classes_file is not None:
        raise DatasetError("--root and --classes go with --format")
    if dataset is None:
        raise DatasetError("no dataset: give a folder or CSV, or --format NAME --root DIR")
    items = load_dataset(dataset)
    return FormatResult(items, [], sorted({it.label for it in items}))


def read_ucf101(root: Path, split: int) -> tuple[list[Entry], list[str]]:
    """UCF101: ``classInd.txt``, ``trainlist0K.txt`` and ``testlist0K.txt``; videos ``UCF-101/<Class>/v_*.avi``."""
    _check_split("ucf101", split)
    lists = ("ucfTrainTestlist",)
    class_ind = _need_file("ucf101", root, ["classInd.txt"], lists)
    classes = {}
    for n, line in _lines(class_ind):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise DatasetError(f"{class_ind}: line {n}: expected '<index> <class>'")
        classes[int(parts[0])] = parts[1]
    by_folder = {c.lower(): c for c in classes.values()}
    entries = []
    for subset, list_name in (("train", f"trainlist0{split}.txt"), ("test", f"testlist0{split}.txt")):
        path = _need_file("ucf101", root, [list_name], lists)
        for n, line in _lines(path):
            parts = line.split()
            if len(parts) not in (1, 2) or "/" not in parts[0] or (len(parts) == 2 and not parts[1].isdigit()):
                raise DatasetError(f"{path}: line {n}: expected '<Class>/<video>.avi[ <class index>]'")
            video = parts[0]
            label = classes.get(int(parts[1])) if len(parts) == 2 else by_folder.get(video.split("/")[0].lower())
            if label is None:
                raise DatasetError(f"{path}: line {n}: class of {video} is not in {class_ind}")
            entries.append(Entry(video, label, subset, (video, f"UCF-101/{video}"), group=group_of(label, video)))
    return entries, [classes[k] for k in sorted(classes)]


def read_hmdb51(root: Path, split: int) -> tuple[list[Entry], list[str]]:
    """HMDB51: ``<class>_test_splitK.txt`` files (1 = train, 2 = test, 0 = unused); videos ``<class>/<video>.avi``."""
    _check_split("hmdb51", split)
    suffix = f"_test_split{split}.txt"
    lists = ("testTrainMulti_7030_splits",)
    files = _glob_first(root, f"*{suffix}", lists)
    if not files:
        raise DatasetError(f"hmdb51: no *{suffix} files in {_places(root, lists)}")
    entries = []
    for path in files:
        label = path.name[: -len(suffix)]
        for n, line in _lines(path):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DatasetError(f"{path}: line {n}: expected '<video>.avi <0|1|2>'")
            if parts[1] == "0":
                continue
            video = f"{label}/{parts[0]}"
            subset = "train" if parts[1] == "1" else "test"
            entries.append(Entry(video, label, subset, (video, f"hmdb51_org/{video}"), group=group_of(label, video)))
    return entries, sorted(path.name[: -len(suffix)] for path in files)


def read_ssv2(root: Path, split: int) -> tuple[list[Entry], list[str]]:
    """Something-Something v2: ``labels.json``, ``train.json``, ``validation.json``; videos ``<id>.webm``."""
    lists = ("labels", "annotations")
    labels_path = _need_file("ssv2", root, ["labels.json", "something-something-v2-labels.json"], lists)
    classes = _read_json(labels_path)
    if not isinstance(classes, dict):
        raise DatasetError(f"{labels_path}: expected an object mapping each template to its class index")
    order = _ssv2_class_order(labels_path, classes)
    entries = []
    for subset, stem in (("train", "train"), ("test", "validation")):
        path = _need_file("ssv2", root, [f"{stem}.json", f"something-something-v2-{stem}.json"], lists)
        rows = _read_json(path)
        if not isinstance(rows, list):
            raise DatasetError(f"{path}: expected a list of videos")
        for i, row in enumerate(rows, start=1):
            if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("template"), str):
                raise DatasetError(f"{path}: entry {i}: expected an object with 'id' and 'template'")
            label = row["template"].replace("[", "").replace("]", "")
            if label not in classes:
                raise DatasetError(f"{path}: entry {i} (id {row['id']}): {label!r} is not a class of {labels_path}")
            video = f"{row['id']}.webm"
            entries.append(Entry(video, label, subset, (video, f"20bn-something-something-v2/{video}")))
    return entries, order


def _ssv2_class_order(path: Path, classes: dict) -> list[str]:
    """The templates of ``labels.json`` ordered by their index values (``"0"``, ``"1"``, ...)."""
    index = {}
    for name, value in classes.items():
        if not str(value).strip().isdigit():
            raise DatasetError(f"{path}: class {name!r}: index {value!r} is not a whole number")
        index[name] = int(value)
    if len(set(index.values())) != len(index):
        raise DatasetError(f"{path}: two classes share an index")
    return sorted(index, key=index.get)


_KINETICS_SUBSETS = {"train": "train", "validate": "test", "val": "test", "test": None}
_KINETICS_FOLDERS = ("train", "val", "validate", "videos_train", "videos_val")  # videos_*: mmaction2's downloader


def read_kinetics(root: Path, split: int) -> tuple[list[Entry], list[str]]:
    """Kinetics-400/600/700: CSVs ``label,youtube_id,time_start,time_end,split``; videos ``<id>_<start>_<end>.mp4``.

    The official validation rows (``validate``/``val``) become ``test``, where Kinetics results are
    reported; rows of the official ``test`` split are left out (K400's ``test.csv`` has labels,
    but they are not the benchmark's). Classes are sorted as mmaction2 sorts them (spaces as ``_``).
    """
    lists = ("annotations",)
    files = _glob_first(root, "*.csv", lists, keep=_is_kinetics_csv)
    if not files:
        raise DatasetError(
            f"kinetics: no CSV with header label,youtube_id,time_start,time_end,split in {_places(root, lists)}"
        )
    entries = []
    for path in files:
        stem_subset = next((s for s in re.split(r"[^a-z]+", path.stem.lower()) if s in _KINETICS_SUBSETS), "")
        reader = csv.DictReader(_read_text(path).splitlines())
        for row in reader:
            n = reader.line_num
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            label, youtube_id = row.get("label", ""), row.get("youtube_id", "")
            if not label:
                continue
            value = row.get("split") or stem_subset
            if value not in _KINETICS_SUBSETS:
                raise DatasetError(f"{path}: line {n}: split {value!r} is not train, validate, val or test")
            subset = _KINETICS_SUBSETS[value]
            if subset is None:
                continue
            try:
                start, end = int(float(row["time_start"])), int(float(row["time_end"]))
            except ValueError:
                raise DatasetError(f"{path}: line {n}: time_start and time_end must be numbers") from None
            if not youtube_id:
                raise DatasetError(f"{path}: line {n}: empty youtube_id")
            stem = f"{youtube_id}_{start:06d}_{end:06d}"
            label_dirs = [f"{d}/" for d in dict.fromkeys((label, label.replace(" ", "_")))]
            folders = [f"{s}/{d}" for s in _KINETICS_FOLDERS for d in ("", *label_dirs)] + [*label_dirs, ""]
            candidates = tuple(f"{folder}{stem}{x}" for folder in folders for x in CLIP_SUFFIXES)
            entries.append(Entry(f"{stem}.mp4", label, subset, candidates))
    return entries, sorted({e.label for e in entries}, key=lambda label: label.replace(" ", "_"))


def read_activitynet(root: Path, split: int) -> tuple[list[Entry], list[str]]:
    """ActivityNet v1.3: ``activity_net.v1-3.min.json``; videos ``v_<id>.mp4``; label = longest annotated."""
    path = _activitynet_json(root)
    database = _read_json(path)
    database = database.get("database") if isinstance(database, dict) else None
    if not isinstance(database, dict) or not all(isinstance(v, dict) for v in database.values()):
        raise DatasetError(f"{path}: 'database' must map each video id to an object with 'subset' and 'annotations'")
    entries = []
    for video_id, video in sorted(database.items()):
        subset = {"training": "train", "validation": "test"}.get(video.get("subset"))
        if subset is None:
            continue
        seconds: dict[str, float] = {}
        for a in video.get("annotations") or []:
            try:
                start, end = (float(t) for t in a["segment"])
                label = str(a["label"])
            except (KeyError, TypeError, ValueError):
                raise DatasetError(
                    f"{path}: video {video_id}: annotation {a!r} needs 'segment': [start, end] and 'label'"
                ) from None
            seconds[label] = seconds.get(label, 0.0) + max(end - start, 0.0)
        if not seconds:
            continue
        labels = sorted(seconds, key=lambda k: -seconds[k])
        names = [f"{prefix}{video_id}{x}" for prefix in ("v_", "") for x in CLIP_SUFFIXES]
        candidates = tuple(f"{folder}{name}" for folder in ("", "videos/") for name in names)
        several = tuple(labels) if len(labels) > 1 else ()
        entries.append(Entry(f"v_{video_id}.mp4", labels[0], subset, candidates, several))
    return entries, sorted({label for e in entries for label in (e.labels or (e.label,))})


def _activitynet_json(root: Path) -> Path:
    """ActivityNet's annotation file under ``root``: the official name, else a JSON with a ``database``."""
    path = _find_file(root, ["activity_net.v1-3.min.json"], ("annotations",))
    if path is None:
        path = next((p for p in sorted(root.glob("*.json")) if _has_database(p)), None)
    if path is None:
        raise DatasetError(
            f"activitynet: no activity_net.v1-3.min.json in {_places(root, ('annotations',))}"
            f" and no *.json with a 'database' key in {root}"
        )
    return path


def read_fcvid(root: Path, split: int) -> tuple[list[Entry], list[str]]:
    """FCVID: ``materials/FCVID_VideoName_TrainTestSplit.txt`` and the multi-hot ``materials/FCVID_Label.txt``."""
    lists = ("materials",)
    split_path = _need_file("fcvid", root, ["FCVID_VideoName_TrainTestSplit.txt"], lists)
    label_path = _need_file("fcvid", root, ["FCVID_Label.txt"], lists)
    videos = []
    for n, line in _lines(split_path):
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or parts[1].lower() not in ("train", "test"):
            raise DatasetError(f"{split_path}: line {n}: expected '<video path> <train|test>'")
        videos.append((parts[0].replace("\\", "/"), parts[1].lower()))
    hots, width = [], None
    for n, line in _lines(label_path):
        values = line.split()
        width = width or len(values)
        if len(values) != width or any(v not in ("0", "1") for v in values):
            raise DatasetError(f"{label_path}: line {n}: expected {width} space-separated 0/1 values")
        hots.append([c for c, v in enumerate(values) if v == "1"])
    if len(hots) != len(videos):
        raise DatasetError(
            f"fcvid: {label_path} has {len(hots)} rows but {split_path} has {len(videos)}; they must match line for line"
        )
    names = _fcvid_classes(root, lists, label_path, width or 0, videos, hots)
    entries = []
    for (video, subset), hot in zip(videos, hots):
        if hot:
            labels = tuple(names[c] for c in hot)
            several = labels if len(labels) > 1 else ()
            entries.append(Entry(video, labels[0], subset, (video, f"videos/{video}"), several))
    return entries, names


def _fcvid_classes(root, lists, label_path, width, videos, hots) -> list[str]:
    """Column names: ``FCVID_Category.txt``, else the folder of a single-label video, else ``class_<k>`` (1-based)."""
    path = _find_file(root, ["FCVID_Category.txt"], lists)
    if path is not None:
        names = []
        for _, line in _lines(path):
            words = line.split()
            if len(words) > 1 and words[0].isdigit():
                words = words[1:]
            elif len(words) > 1 and words[-1].isdigit():
                words = words[:-1]
            names.append(" ".join(words))
        if len(names) != width:
            raise DatasetError(f"{path}: {len(names)} class names but {label_path} has {width} columns")
        return names
    folders: dict[int, str] = {}
    for (video, _), hot in zip(videos, hots):
        folder = PurePosixPath(video).parent.name
        if len(hot) == 1 and folder:
            folders.setdefault(hot[0], folder)
    return [folders.get(c, f"class_{c + 1}") for c in range(width)]


FORMATS = {
    "ucf101": read_ucf101,
    "hmdb51": read_hmdb51,
    "ssv2": read_ssv2,
    "kinetics": read_kinetics,
    "activitynet": read_activitynet,
    "fcvid": read_fcvid,
}
"""Format name -> reader ``(root, split) -> (entries, classes in official order)``; :func:`load_format` does the rest."""


def _on_disk(name: str, root: Path, entries: list[Entry], classes: list[str]) -> FormatResult:
    files = _Folders(root)
    items, missing, groups = [], set(), {}
    for e in entries:
        rel = files.find(e.candidates)
        if rel is None:
            missing.add(e.name)
            continue
        item = DatasetItem(str((root / rel).resolve()), e.label, e.split, rel, e.labels)
        items.append(item)
        groups[item.path] = e.group or rel
    if not items:
        first = entries[0]
        looked = ", ".join(first.candidates[:3]) + (", ..." if len(first.candidates) > 3 else "")
        raise DatasetError(
            f"{name}: none of the {len(entries)} listed videos is under {root} (e.g. {first.name}: looked for {looked})"
        )
    items = carve_val(items, VAL_FRACTION, group=lambda it: groups[it.path])
    return FormatResult(sorted(items, key=lambda it: it.key), sorted(missing), classes)


class _Folders:
    """Finds which candidate path exists, listing each folder once (Kinetics has up to 54 candidates a clip)."""

    def __init__(self, root: Path):
        self.root = root
        self.listed: dict[str, set[str]] = {}

    def find(self, candidates) -> str | None:
        for rel in candidates:
            folder, _, name = rel.rpartition("/")
            if folder not in self.listed:
                self.listed[folder] = _files_in(self.root / folder)
            if name in self.listed[folder]:
                return rel
        return None


def _files_in(folder: Path) -> set[str]:
    try:
        with os.scandir(folder) as it:
            return {e.name for e in it if e.is_file()}
    except OSError:
        return set()


def _keep_classes(entries: list[Entry], classes: list[str], path: Path) -> tuple[list[Entry], list[str]]:
    """Entries with a class named in ``path`` (a multi-label entry keeps only the named labels), and
    the named classes in their order in ``classes``."""
    wanted = {_class_key(n): n for n in read_class_names(path)}
    known = {_class_key(c): c for c in classes}
    unknown = [n for k, n in wanted.items() if k not in known]
    if unknown:
        some = sorted(known.values())[:5]
        raise DatasetError(
            f"{path}: unknown class{'es' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
            f" (this dataset has {len(known)}, e.g. {', '.join(some)})"
        )
    kept = []
    for e in entries:
        labels = tuple(label for label in (e.labels or (e.label,)) if _class_key(label) in wanted)
        if labels:
            kept.append(replace(e, label=labels[0], labels=labels if len(labels) > 1 else ()))
    return kept, [c for c in classes if _class_key(c) in wanted]


def read_class_names(path) -> list[str]:
    """The class names in a text file, one per line (blank lines and ``#`` comments skipped).

    Raises:
        DatasetError: unreadable, or no names in it.
    """
    path = Path(path)
    names = [line.split("#", 1)[0].strip() for _, line in _lines(path)]
    if not any(names):
        raise DatasetError(f"{path}: no class names (expected one per line)")
    return [n for n in names if n]


def _class_key(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def _check_split(name: str, split) -> None:
    if split not in OFFICIAL_SPLITS:
        raise DatasetError(f"{name}: split {split!r} does not exist (the official splits are 1, 2 and 3)")


def _places(root: Path, subdirs) -> str:
    return " or ".join(str(d) for d in (root, *(root / s for s in subdirs)))


def _find_file(root: Path, names, subdirs) -> Path | None:
    for folder in (root, *(root / s for s in subdirs)):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    return None


def _need_file(name: str, root: Path, names, subdirs) -> Path:
    path = _find_file(root, names, subdirs)
    if path is None:
        raise DatasetError(f"{name}: no {' or '.join(names)} in {_places(root, subdirs)}")
    return path


def _glob_first(root: Path, pattern: str, subdirs, keep=lambda p: True) -> list[Path]:
    """The matching files of the first of ``root`` and its ``subdirs`` that has any."""
    for folder in (root, *(root / s for s in subdirs)):
        found = sorted(p for p in folder.glob(pattern) if p.is_file() and keep(p))
        if found:
            return found
    return []


def _is_kinetics_csv(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = {h.strip() for h in fh.readline().split(",")}
    except (OSError, UnicodeDecodeError):
        return False
    return {"youtube_id", "time_start", "time_end"} <= header


def _has_database(path: Path) -> bool:
    try:
        data = _read_json(path)
    except DatasetError:
        return False
    return isinstance(data, dict) and "database" in data


def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a UTF-8 text file") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror})") from None


def _lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines, stripped, with their 1-based numbers; ``\\r\\n`` endings are fine."""
    return [(n, line.strip()) for n, line in enumerate(_read_text(path).splitlines(), start=1) if line.strip()]


def _read_json(path: Path):
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
