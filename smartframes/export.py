"""Selections written for other tools: JSON or CSV of frame indices and times, an mmaction2
annotation list that carries the chosen frames, or the chosen frames as JPEG files with a manifest
(for video-language models)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from .errors import SmartframesError
from .serving import Selection
from .video import read_frames

EXPORT_FORMATS = ("json", "csv", "mmaction", "frames")


def _row(sel: Selection, label: str | None) -> dict:
    pos = {int(c): k for k, c in enumerate(sel.candidates)}
    return {
        "path": sel.path, "indices": sel.indices, "times": [round(t, 4) for t in sel.times],
        "scores": [round(float(sel.score[pos[i]]), 6) for i in sel.indices],
        "label": label, "predicted": sel.label, "probability": round(sel.probability, 6),
    }


def export_json(selections: list[Selection], out: Path, labels: dict[str, str]) -> None:
    """One JSON list: per video its path, chosen frame indices, times, scores, label (when known)
    and the prediction from the chosen frames."""
    out.write_text(json.dumps([_row(s, labels.get(s.path)) for s in selections], indent=1))


def export_csv(selections: list[Selection], out: Path, labels: dict[str, str]) -> None:
    """One row per chosen frame: ``path,rank,frame,time,score,label,predicted``."""
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "rank", "frame", "time", "score", "label", "predicted"])
        for sel in selections:
            row = _row(sel, labels.get(sel.path))
            for rank, (i, t, s) in enumerate(zip(row["indices"], row["times"], row["scores"])):
                w.writerow([sel.path, rank, i, t, s, row["label"] or "", sel.label])


def export_mmaction(selections: list[Selection], out: Path, labels: dict[str, str], classes: list[str]) -> None:
    """An mmaction2 ``VideoDataset`` annotation file in its JSON form: per video ``filename``,
    ``label`` (index in ``classes``: the video's own label when known, else the prediction),
    ``frame_inds`` (the chosen frames), ``clip_len``, ``frame_interval`` and ``num_clips``. With
    ``DecordInit`` + ``DecordDecode`` and no ``SampleFrames`` in the pipeline, mmaction2 decodes exactly
    ``frame_inds``; the class names go to ``<out stem>.classes.txt``, one per line, in index order."""
    entries = []
    for sel in selections:
        name = labels.get(sel.path, sel.label)
        if name not in classes:
            raise SmartframesError(f"{sel.path}: label {name!r} is not one of the {len(classes)} classes")
        entries.append({"filename": sel.path, "label": classes.index(name), "frame_inds": sel.indices,
                        "total_frames": int(sel.candidates[-1]) + 1, "clip_len": len(sel.indices),
                        "frame_interval": None, "num_clips": 1})
    out.write_text(json.dumps(entries, indent=1))
    out.with_name(out.stem + ".classes.txt").write_text("".join(c + "\n" for c in classes))


def export_frames(selections: list[Selection], out: Path, labels: dict[str, str], quality: int = 95) -> Path:
    """The chosen frames as ``out/<video stem>/<frame>.jpg`` and ``out/manifest.jsonl``, one line
    per frame: video, frame index, time (s), image path (relative to ``out``), score, label,
    prediction. Returns the manifest path."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.jsonl"
    with open(manifest, "w") as fh:
        for n, sel in enumerate(selections):
            row = _row(sel, labels.get(sel.path))
            folder = out / Path(sel.path).stem
            marker = folder / ".smartframes"  # which video a folder holds
            if folder.exists() and not (marker.is_file() and marker.read_text() == sel.path):
                folder = out / f"{Path(sel.path).stem}-{n}"  # another video of the same name
            folder.mkdir(exist_ok=True)
            (folder / ".smartframes").write_text(sel.path)
            for image, i, t, s in zip(read_frames(sel.path, indices=sel.indices, seek=sel.seek), sel.indices, row["times"], row["scores"]):
                file = folder / f"{i:06d}.jpg"
                Image.fromarray(image).save(file, quality=quality)
                fh.write(json.dumps({"video": sel.path, "frame": i, "time": t, "image": os.path.relpath(file, out),
                                     "score": s, "label": row["label"], "predicted": sel.label}) + "\n")
    return manifest


def export(selections: list[Selection], fmt: str, out, *, labels: dict[str, str] | None = None,
           classes: list[str] | None = None) -> Path:
    """Write ``selections`` in ``fmt`` (one of :data:`EXPORT_FORMATS`) to ``out`` (a file, or a
    folder for ``frames``). ``labels`` maps video paths to their true labels when known;
    ``classes`` orders the label indices of ``mmaction``. Returns the main file written."""
    out = Path(out)
    labels = labels or {}
    if fmt not in EXPORT_FORMATS:
        raise SmartframesError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    if fmt != "frames":
        out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        export_json(selections, out, labels)
    elif fmt == "csv":
        export_csv(selections, out, labels)
    elif fmt == "mmaction":
        export_mmaction(selections, out, labels, classes or sorted({s.label for s in selections}))
    else:
        return export_frames(selections, out, labels)
    return out
