"""Untrimmed videos made from real footage: each labelled clip spliced into real filler footage that
shows none of the labelled classes, so that the action fills a chosen share of a longer video.

No untrimmed dataset with temporal annotations can be fetched here; this builds one from trimmed
clips that can. Per action clip (the rows of a ``labels.csv``), the video is ``clip / share`` long
(at most :attr:`UntrimmedConfig.max_seconds`; a longer clip fills more than ``share``), the clip
starts at a random place, and the rest is pieces of 2-10 s cut from random filler videos of the
*same split*. Filler comes from a CSV ``path,split``: its sources must be disjoint between train,
val and test (checked), so that no selector can learn the test filler by heart.

Written: ``videos/<label>/<name>.mp4`` (H.264, 320x240 by default, 25 fps), ``labels.csv``
(``path,label,split``) and ``segments.json`` (ActivityNet v1.3 layout, as
:func:`smartframes.data.segments.read_segments` reads it, with ``frames`` = [first, end) and the
filler sources of each video). Every video is drawn from its own generator seeded by
``(seed, name)``: the same inputs and seed give the same plan and the same files.

What makes it easier than ActivityNet: the action is one clean shot, with a hard cut at each end and
filler of other sources around it. What makes it harder: filler is real activity of people (not the
idle lead-in of a real untrimmed video), and the test filler comes from sources never seen in
training.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import SmartframesError
from ..io.video import VideoError, read_frames, write_video
from .dataset import SPLITS, DatasetError, load_dataset

SUBSETS = {"train": "training", "val": "validation", "test": "testing"}  # ActivityNet's names


@dataclass(frozen=True)
class UntrimmedConfig:
    """How long the videos are and how they look."""

    share: float = 0.25  # the part of each video the action fills
    max_seconds: float = 60.0  # longest video; a clip longer than share * max_seconds fills more
    fps: float = 25.0  # every source is re-timed to this rate, frame for frame
    width: int = 320
    height: int = 240
    piece_seconds: tuple[float, float] = (2.0, 10.0)  # length of one filler piece
    seed: int = 0

    def __post_init__(self):
        if not 0 < self.share <= 1:
            raise SmartframesError(f"share must be in (0, 1], got {self.share}")
        if self.width % 2 or self.height % 2:
            raise SmartframesError(f"width and height must be even, got {self.width}x{self.height}")


def read_filler(path) -> dict[str, list[str]]:
    """Filler videos per split from a CSV ``path,split`` (paths relative to the CSV's folder).

    Raises:
        DatasetError: unreadable file, bad header, unknown split, a video listed under two splits.
    """
    path = Path(path)
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read filler list ({e})") from None
    if not rows or not {"path", "split"} <= set(rows[0]):
        raise DatasetError(f"{path}: filler CSV needs a header 'path,split' and at least one row")
    filler: dict[str, list[str]] = {s: [] for s in SPLITS}
    seen: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        split, p = (row.get("split") or "").strip(), (row.get("path") or "").strip()
        if split not in SPLITS or not p:
            raise DatasetError(f"{path}: line {line}: needs a path and a split of {', '.join(SPLITS)}")
        full = str((path.parent / p).resolve()) if not Path(p).is_absolute() else p
        if seen.get(full, split) != split:
            raise DatasetError(f"{path}: line {line}: {p} is filler of both {seen[full]} and {split}")
        seen[full] = split
        filler[split].append(full)
    return filler


def plan_video(name: str, clip_frames: int, filler: list[str], filler_frames: dict[str, int],
               cfg: UntrimmedConfig) -> dict:
    """Where the action goes and which filler pieces surround it, for one video (pure: no decoding).

    Returns:
        ``{"frames": total, "action": [first, end), "pieces": [[source, first, count], ...]}``, the
        pieces in the order they fill the frames before and then after the action.
    """
    rng = np.random.default_rng([cfg.seed, int(hashlib.sha1(name.encode()).hexdigest()[:12], 16)])
    total = max(clip_frames, min(round(clip_frames / cfg.share), round(cfg.max_seconds * cfg.fps)))
    start = int(rng.integers(0, total - clip_frames + 1))
    lo, hi = (round(s * cfg.fps) for s in cfg.piece_seconds)
    pieces = []
    for need in (start, total - start - clip_frames):
        while need > 0:
            source = filler[int(rng.integers(len(filler)))]
            length = filler_frames[source]
            count = min(need, length, int(rng.integers(lo, hi + 1)))
            first = int(rng.integers(0, length - count + 1))
            pieces.append([source, first, count])
            need -= count
    return {"frames": total, "action": [start, start + clip_frames], "pieces": pieces}


class _Frames:
    """Decoded videos at the output size, the most recent kept in memory (filler is cut many times)."""

    def __init__(self, cfg: UntrimmedConfig, keep: int = 24):
        self.cfg, self.keep, self.cache = cfg, keep, OrderedDict()

    def __call__(self, path: str) -> np.ndarray:
        if path in self.cache:
            self.cache.move_to_end(path)
            return self.cache[path]
        frames = read_frames(path, size=(self.cfg.width, self.cfg.height), allow_partial=True)
        if len(frames) == 0:
            raise VideoError(path, "no decodable frame")
        self.cache[path] = frames
        while len(self.cache) > self.keep:
            self.cache.popitem(last=False)
        return frames


_frames: _Frames | None = None


def _build_one(job) -> dict:
    global _frames
    cfg, item, filler, filler_frames, out = job
    if _frames is None or _frames.cfg != cfg:
        _frames = _Frames(cfg)
    clip = _frames(item["path"])
    name = Path(item["key"]).stem
    plan = plan_video(name, len(clip), filler, filler_frames, cfg)
    before = plan["action"][0]

    def frames():
        done = 0
        for source, first, count in plan["pieces"]:
            if done == before:
                yield from clip
            yield from _frames(source)[first:first + count]
            done += count
        if done == before:
            yield from clip

    rel = f"videos/{item['label']}/{name}.mp4"
    path = Path(out) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    write_video(tmp, frames(), fps=cfg.fps)
    os.replace(tmp, path)
    first, end = plan["action"]
    return {"name": name, "path": rel, "label": item["label"], "split": item["split"], "frames": plan["frames"],
            "action": [first, end], "segment": [first / cfg.fps, end / cfg.fps],
            "filler": sorted({p[0] for p in plan["pieces"]})}


def build_untrimmed(labels, filler, out, cfg: UntrimmedConfig = UntrimmedConfig(), *, workers: int = 1,
                    progress: bool = True) -> dict:
    """Write the untrimmed set: one video per labelled clip of ``labels``.

    Args:
        labels: the action clips, a CSV ``path,label,split`` or class folders (as ``smartframes
            extract`` reads them); a labelled video must not also be filler.
        filler: a CSV ``path,split`` (see :func:`read_filler`) or its parsed ``{split: [paths]}``.
        out: output folder.
        cfg: lengths, size and seed.
        workers: processes (each keeps a few decoded filler videos in memory).

    Returns:
        ``{"videos": n, "seconds": s, "action_share": mean share the action fills}``.

    Raises:
        DatasetError: bad inputs, filler shared between splits or with the labelled clips, a split
            with action clips but no filler.
    """
    from tqdm import tqdm

    items = load_dataset(labels)
    pools = read_filler(filler) if not isinstance(filler, dict) else {s: list(filler.get(s, [])) for s in SPLITS}
    labelled = {it.path for it in items}
    shared = sorted(labelled.intersection(p for ps in pools.values() for p in ps))
    if shared:
        raise DatasetError(f"{filler}: {shared[0]} is both a labelled clip and filler")
    for split in {it.split for it in items}:
        if not pools[split]:
            raise DatasetError(f"{filler}: no filler for the {split} split")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    counts = {p: len(read_frames(p, size=(cfg.width // 4 * 2, cfg.height // 4 * 2), allow_partial=True))
              for ps in pools.values() for p in ps}
    for p, n in counts.items():
        if n == 0:
            raise DatasetError(f"{p}: filler video with no decodable frame")
    jobs = [(cfg, {"path": it.path, "key": it.key, "label": it.label, "split": it.split},
             pools[it.split], {p: counts[p] for p in pools[it.split]}, str(out)) for it in items]
    rows = []
    with tqdm(total=len(jobs), unit="video", desc="untrimmed", disable=not progress, dynamic_ncols=True) as bar:
        if workers <= 1:
            for job in jobs:
                rows.append(_build_one(job))
                bar.update(1)
        else:
            with ProcessPoolExecutor(workers) as pool:
                for row in pool.map(_build_one, jobs, chunksize=4):
                    rows.append(row)
                    bar.update(1)
    with open(out / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split"])
        for r in rows:
            w.writerow([r["path"], r["label"], r["split"]])
    database = {r["name"]: {
        "subset": SUBSETS[r["split"]], "duration": r["frames"] / cfg.fps, "fps": cfg.fps, "frame_count": r["frames"],
        "path": r["path"], "filler": [os.path.relpath(p, out) for p in r["filler"]],
        "annotations": [{"label": r["label"], "segment": r["segment"], "frames": r["action"]}]} for r in rows}
    (out / "segments.json").write_text(json.dumps(
        {"version": "smartframes untrimmed, ActivityNet v1.3 layout", "config": asdict(cfg), "database": database},
        indent=1))
    share = float(np.mean([(r["action"][1] - r["action"][0]) / r["frames"] for r in rows]))
    return {"videos": len(rows), "seconds": time.perf_counter() - begin, "action_share": share}
