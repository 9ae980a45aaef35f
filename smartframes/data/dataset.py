"""Labelled video lists: a folder with one sub-folder per class, or a CSV ``path,label[,split]``."""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import SmartframesError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)


class DatasetError(SmartframesError):
    """A dataset folder or CSV that cannot be used."""


@dataclass(frozen=True)
class DatasetItem:
    path: str  # absolute
    label: str
    split: str | None
    key: str  # path relative to the dataset root, used for the deterministic split
    labels: tuple[str, ...] = ()  # every label of a multi-label video, ``label`` first; () when single


VAL_FRACTION = 0.1  # of each class's training videos, carved out when a list names no val split


def load_dataset(source: str | os.PathLike) -> list[DatasetItem]:
    """Read a dataset and give every video a split.

    Args:
        source: a directory (``<class>/<video>`` files, any depth below the class folder) or a
            CSV with header ``path,label`` and optionally ``split`` (train/val/test); CSV paths are
            relative to the CSV's folder unless absolute.

    Returns:
        Items sorted by key. Videos without a split get one from :func:`assign_splits`. A list
        with ``train`` videos and no ``val`` ones (an official train/test split) gets ``val``
        carved out of ``train`` by :func:`carve_val`, whole groups at a time (:func:`video_group`).

    Raises:
        DatasetError: missing source, bad header, empty rows, unknown split names, no videos.
    """
    source = Path(source)
    if not source.exists():
        raise DatasetError(f"{source}: no such file or directory")
    items = _from_folder(source) if source.is_dir() else _from_csv(source)
    if not items:
        raise DatasetError(f"{source}: no videos found (expected {'<class>/<video> files' if source.is_dir() else 'CSV rows'})")
    items = assign_splits(items)
    if not any(it.split == "val" for it in items):
        items = carve_val(items, VAL_FRACTION, group=video_group)
    return items


def video_group(item: DatasetItem) -> str:
    """The videos that must share a split with ``item``: see :func:`group_of`."""
    return group_of(item.label, item.key)


def group_of(label: str, name: str) -> str:
    """The group of a video named ``name`` (a path or file name) of class ``label``: UCF101's
    ``_gNN_`` (one actor and place), HMDB51's source film (the file name before its
    ``_<tags>_np<N>_..`` suffix), else the video alone (``name``)."""
    stem = Path(name).stem
    actor = re.search(r"_(g\d+)_c\d+$", stem)
    if actor:
        return f"{label}/{actor[1]}"
    source = re.sub(r"_[a-z]+_[a-z]+_np\d+_[a-z]+_[a-z]+_\d+$", "", stem)
    return f"{label}/{source}" if source != stem else name


def split_counts(items: list[DatasetItem]) -> str:
    """``"train 292, val 32, test 126"``: how many videos each split holds."""
    return ", ".join(f"{split} {sum(it.split == split for it in items)}" for split in SPLITS)


def _from_folder(root: Path) -> list[DatasetItem]:
    items = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(class_dir.rglob("*")):
            if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES:
                items.append(DatasetItem(str(f.resolve()), class_dir.name, None, f.relative_to(root).as_posix()))
    return items


def _from_csv(path: Path) -> list[DatasetItem]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text CSV file") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "path" not in header or "label" not in header:
        raise DatasetError(f"{path}: CSV header must contain 'path' and 'label' (found: {', '.join(header) or 'nothing'})")
    items = []
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not row.get("path") or not row.get("label"):
            raise DatasetError(f"{path}: line {line}: empty path or label")
        split = row.get("split") or None
        if split is not None and split not in SPLITS:
            raise DatasetError(f"{path}: line {line}: split {split!r} is not one of {', '.join(SPLITS)}")
        p = Path(row["path"])
        full = p if p.is_absolute() else path.parent / p
        items.append(DatasetItem(str(full.resolve()), row["label"], split, p.as_posix()))
    return items


def carve_val(items: list[DatasetItem], fraction: float = 0.1, group=None) -> list[DatasetItem]:
    """Move a deterministic ``fraction`` of each class's training items to ``val``.

    Official splits name train and test only; the selector needs validation videos to pick its
    epoch. Items are ordered by the SHA-1 of their group (``group(item)``, default the key), so
    videos of one group (UCF101's ``gNN``: one actor, one place) never straddle train and val.
    A class keeps everything for training when ``fraction`` of it rounds to no video (5 or fewer
    at 0.1) or when it has a single group, and never gives its last group to val.
    """
    group = group or (lambda it: it.key)
    by_class: dict[str, dict[str, list[DatasetItem]]] = defaultdict(lambda: defaultdict(list))
    for it in items:
        if it.split == "train":
            by_class[it.label][group(it)].append(it)
    to_val = set()
    for groups in by_class.values():
        order = sorted(groups, key=lambda g: hashlib.sha1(g.encode()).hexdigest())
        total, moved = sum(len(v) for v in groups.values()), 0
        for g in order:
            if moved >= round(total * fraction) or moved + len(groups[g]) >= total:
                break
            to_val.update(it.path for it in groups[g])
            moved += len(groups[g])
    return [replace(it, split="val") if it.path in to_val else it for it in items]


def assign_splits(items: list[DatasetItem], fractions=SPLIT_FRACTIONS) -> list[DatasetItem]:
    """Give each split-less item a deterministic, class-stratified split.

    Within each class, items are ordered by the SHA-1 of their key and cut into train/val/test
    by ``fractions``; the same files always get the same split, on any machine.
    """
    by_class: dict[str, list[DatasetItem]] = defaultdict(list)
    for it in items:
        if it.split is None:
            by_class[it.label].append(it)
    assigned = {}
    for label, group in by_class.items():
        group.sort(key=lambda it: hashlib.sha1(it.key.encode()).hexdigest())
        n = len(group)
        n_train = round(n * fractions[0])
        n_val = round(n * (fractions[0] + fractions[1])) - n_train
        for i, it in enumerate(group):
            split = "train" if i < n_train else "val" if i < n_train + n_val else "test"
            assigned[it.path] = split
    out = [replace(it, split=it.split or assigned[it.path]) for it in items]
    return sorted(out, key=lambda it: it.key)
