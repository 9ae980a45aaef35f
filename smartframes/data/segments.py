"""Temporal annotations: where in a video its action happens, and how well a selection hits it.

Three formats are read, each into ``{video name: [Segment, ...]}`` (the name is the video's file name
without its suffix; ActivityNet's ``v_`` prefix may be present on either side):

- ``activitynet``: ActivityNet v1.3 JSON (also HACS, FineAction): ``database.<video>.annotations[]``
  with ``segment`` = [start, end] in seconds and ``label``;
- ``thumos14``: THUMOS14's per-class text files ``<Class>_val.txt`` / ``<Class>_test.txt`` (a folder
  of them, or one file), lines ``video start end`` in seconds; ``Ambiguous_*`` files are skipped;
- ``csv``: ``path,start,end[,label]`` in seconds, one row per segment.

Seconds become frames through each video's own presentation times (:func:`inside_segments`), so a
variable-frame-rate video is handled as its player shows it. A frame at time t is inside a segment
when ``start <= t < end`` (within :data:`TIME_TOLERANCE`).
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import SmartframesError

FORMATS = ("activitynet", "thumos14", "csv")
TIME_TOLERANCE = 0.005
"""Seconds by which a frame time may miss a boundary and still be taken as on it: annotations are
written in rounded seconds (UCF101-24's 0.267 s for frame 8 at 29.97 fps, which is 0.26693 s;
ActivityNet's hundredths), and a time computed from a time base differs from its decimal in the
last bits. 5 ms is under half a frame up to 100 frames/s."""


class SegmentsError(SmartframesError):
    """A temporal annotation file that cannot be used."""


@dataclass(frozen=True)
class Segment:
    """Where one action instance happens, in seconds from the start of the video."""

    start: float
    end: float
    label: str | None = None  # None: the video's own class

    def to_list(self) -> list:
        return [self.start, self.end, self.label]


def video_name(path: str | os.PathLike) -> str:
    """The key a video is annotated under: its file name without suffix or ActivityNet's ``v_``."""
    stem = Path(str(path)).stem
    return stem[2:] if stem.startswith("v_") and len(stem) > 2 else stem


def read_segments(path: str | os.PathLike, format: str | None = None) -> dict[str, list[Segment]]:
    """Read a temporal annotation file (or THUMOS14 folder).

    Args:
        path: the file, or a folder of THUMOS14 text files.
        format: one of :data:`FORMATS`; None guesses from the path (``.json`` ActivityNet, ``.csv``
            CSV, a folder or ``.txt`` THUMOS14).

    Returns:
        Segments per video name (:func:`video_name`), each list sorted by start.

    Raises:
        SegmentsError: missing or unreadable file, unknown format, malformed content (named with the
            line or video where it is), a segment that ends before it starts.
    """
    path = Path(path)
    if not path.exists():
        raise SegmentsError(f"{path}: no such file or directory")
    if format is None:
        format = "thumos14" if path.is_dir() or path.suffix.lower() == ".txt" else \
            {".json": "activitynet", ".csv": "csv"}.get(path.suffix.lower())
        if format is None:
            raise SegmentsError(f"{path}: cannot tell the annotation format from the name; give one of {', '.join(FORMATS)}")
    reader = {"activitynet": _activitynet, "thumos14": _thumos14, "csv": _csv}.get(format.lower())
    if reader is None:
        raise SegmentsError(f"unknown annotation format {format!r} (known: {', '.join(FORMATS)})")
    found: dict[str, list[Segment]] = {}
    for name, segment in reader(path):
        found.setdefault(video_name(name), []).append(segment)
    if not found:
        raise SegmentsError(f"{path}: no segment found")
    return {k: sorted(v, key=lambda s: (s.start, s.end)) for k, v in found.items()}


def _segment(where: str, start, end, label) -> Segment:
    try:
        start, end = float(start), float(end)
    except (TypeError, ValueError):
        raise SegmentsError(f"{where}: start and end must be numbers of seconds, got {start!r} and {end!r}") from None
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
        raise SegmentsError(f"{where}: segment [{start}, {end}] is not 0 <= start < end")
    return Segment(start, end, str(label) if label not in (None, "") else None)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise SegmentsError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None


def _activitynet(path: Path) -> Iterable[tuple[str, Segment]]:
    try:
        data = json.loads(_read_text(path))
    except ValueError as e:
        raise SegmentsError(f"{path}: not valid JSON ({e})") from None
    database = data.get("database") if isinstance(data, dict) else None
    if not isinstance(database, dict):
        raise SegmentsError(f"{path}: no 'database' object (not ActivityNet v1.3 layout)")
    for name, video in database.items():
        annotations = video.get("annotations", []) if isinstance(video, dict) else None
        if not isinstance(annotations, list):
            raise SegmentsError(f"{path}: video {name}: 'annotations' is not a list")
        for a in annotations:
            seg = a.get("segment") if isinstance(a, dict) else None
            if not isinstance(seg, (list, tuple)) or len(seg) != 2:
                raise SegmentsError(f"{path}: video {name}: 'segment' must be [start, end] in seconds")
            yield name, _segment(f"{path}: video {name}", seg[0], seg[1], a.get("label"))


def _thumos14(path: Path) -> Iterable[tuple[str, Segment]]:
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    for f in files:
        label = f.stem.rsplit("_", 1)[0] if f.stem.rsplit("_", 1)[-1] in ("val", "test") else f.stem
        if label.lower() == "ambiguous":
            continue
        for n, line in enumerate(_read_text(f).splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise SegmentsError(f"{f}: line {n}: expected 'video start end', got {line.strip()!r}")
            yield parts[0], _segment(f"{f}: line {n}", parts[1], parts[2], label)


def _csv(path: Path) -> Iterable[tuple[str, Segment]]:
    reader = csv.DictReader(_read_text(path).splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not {"path", "start", "end"} <= set(header):
        raise SegmentsError(f"{path}: CSV header must contain 'path', 'start' and 'end' (found: {', '.join(header) or 'nothing'})")
    for n, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not row.get("path"):
            raise SegmentsError(f"{path}: line {n}: empty path")
        yield row["path"], _segment(f"{path}: line {n}", row.get("start"), row.get("end"), row.get("label"))


def load_segments(source, paths: Sequence[str | os.PathLike]) -> dict[str, list[Segment]]:
    """The annotations of ``source`` (a file for :func:`read_segments`, or what it returns), checked
    against the videos at ``paths``: at least one of them must be annotated.

    Raises:
        SegmentsError: what :func:`read_segments` raises, or no video of ``paths`` is named.
    """
    segments = source if isinstance(source, dict) else read_segments(source)
    names = {video_name(p) for p in paths}
    if names and not names & set(segments):
        raise SegmentsError(f"{source if not isinstance(source, dict) else 'segments'}: annotates none of the "
                            f"{len(names)} videos (it names e.g. {next(iter(segments))!r}, the videos are named "
                            f"e.g. {sorted(names)[0]!r})")
    return segments


def inside_segments(times: Sequence[float], segments: Sequence[Segment], label: str | None = None) -> np.ndarray:
    """Which frames, at presentation ``times`` (seconds), fall inside a segment of ``label`` (segments
    without a label count as the video's own; ``label`` None takes every segment). Returns bool (T,)."""
    times = np.asarray(times, dtype=np.float64)
    inside = np.zeros(times.shape, dtype=bool)
    for s in segments:
        if label is None or s.label is None or s.label == label:
            inside |= (times >= s.start - TIME_TOLERANCE) & (times < s.end - TIME_TOLERANCE)
    return inside


def mask_segments(times: Sequence[float], useful: Sequence[bool], end: float) -> list[Segment]:
    """Segments covering the runs of ``useful`` frames at ``times``, each ending where the next frame
    starts (``end``, the video's duration, after the last frame): the inverse of :func:`inside_segments`."""
    times, useful = np.asarray(times, dtype=np.float64), np.asarray(useful, dtype=bool)
    bounds = np.append(times, end)
    out, first = [], None
    for i, u in enumerate(useful):
        if u and first is None:
            first = i
        if first is not None and (not u or i == len(useful) - 1):
            last = i if u else i - 1
            out.append(Segment(float(bounds[first]), float(bounds[last + 1])))
            first = None
    return out


def selection_precision(picked_times: Sequence[float], segments: Sequence[Segment], label: str | None = None) -> float:
    """The share of the picked frames that lie inside a segment of the video's class."""
    if len(picked_times) == 0:
        return float("nan")
    return float(inside_segments(picked_times, segments, label).mean())


def segment_recall(picked_times: Sequence[float], segments: Sequence[Segment], label: str | None = None) -> float:
    """The share of the video's segments of ``label`` hit by at least one picked frame (nan when it has none)."""
    mine = [s for s in segments if label is None or s.label is None or s.label == label]
    if not mine:
        return float("nan")
    return float(np.mean([inside_segments(picked_times, [s]).any() for s in mine]))


def to_json(segments: Sequence[Segment]) -> str:
    return json.dumps([s.to_list() for s in segments])


def from_json(text: str | None) -> list[Segment] | None:
    return None if text is None else [Segment(float(a), float(b), c) for a, b, c in json.loads(text)]
