"""Selections written for other tools: JSON or CSV of frame indices and times, the chosen frames as
JPEG files with a manifest, the same for video-language models with their timing metadata in the
forms their pipelines take, or the JPEG files as an mmaction2 ``RawframeDataset``."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from ..errors import SmartframesError
from ..io.files import atomic_write, write_atomically
from ..io.video import probe
from .serving import Selection

EXPORT_FORMATS = ("json", "csv", "mmaction", "frames", "vlm")
FRAME_NAME = "{frame:06d}.jpg"  # frames export: the frame index in the video
MMACTION_FRAME_NAME = "img_{number:05d}.jpg"  # mmaction2's default filename_tmpl, numbered from 1
MARKER = ".smartframes"  # in each image folder: the video it holds


def _names(label) -> tuple[str, ...]:
    """A ``labels`` value as a tuple: a name, or the names of a multi-label video (main label first)."""
    if label is None:
        return ()
    return (label,) if isinstance(label, str) else tuple(label)


def _main_label(labels: dict, path: str) -> str | None:
    names = _names(labels.get(path))
    return names[0] if names else None


def _row(sel: Selection, label: str | None) -> dict:
    pos = {int(c): k for k, c in enumerate(sel.candidates)}
    return {
        "path": sel.path, "indices": sel.indices, "times": [round(t, 4) for t in sel.times],
        "scores": [round(float(sel.score[pos[i]]), 6) if sel.score is not None else None for i in sel.indices],
        "label": label, "predicted": sel.label,
        "probability": round(sel.probability, 6) if sel.probability is not None else None, "method": sel.method,
    }


def export_json(selections: list[Selection], out: Path, labels: dict) -> None:
    """One JSON list: per video its path, chosen frame indices, times, scores, label (when known;
    ``labels`` lists every label of a multi-label video, main label first) and the prediction
    from the chosen frames."""
    rows = []
    for sel in selections:
        row = _row(sel, _main_label(labels, sel.path))
        if len(_names(labels.get(sel.path))) > 1:
            row["labels"] = list(_names(labels[sel.path]))
        rows.append(row)
    write_atomically(out, json.dumps(rows, indent=1))


def export_csv(selections: list[Selection], out: Path, labels: dict) -> None:
    """One row per chosen frame, in time order: ``path,rank,frame,time,score,label,predicted``;
    ``rank`` 1 is the frame of the highest score (ties, and training-free methods, which give no
    score: the earlier frame); ``label`` joins the
    labels of a multi-label video with ``|``, main label first."""
    with atomic_write(out) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "rank", "frame", "time", "score", "label", "predicted"])
        for sel in selections:
            row = _row(sel, _main_label(labels, sel.path))
            by_score = sorted(range(len(row["indices"])), key=lambda k: (-(row["scores"][k] or 0.0), k))
            rank = {k: r for r, k in enumerate(by_score, start=1)}
            for k, (i, t, s) in enumerate(zip(row["indices"], row["times"], row["scores"])):
                w.writerow([sel.path, rank[k], i, t, s, "|".join(_names(labels.get(sel.path))), sel.label])


def export_mmaction(selections: list[Selection], out: Path, labels: dict, classes: list[str], quality: int = 95) -> Path:
    """An mmaction2 ``RawframeDataset`` in the folder ``out``: the chosen frames of each video, in
    time order, as ``rawframes/<video folder>/img_00001.jpg, img_00002.jpg, ...``;
    ``annotations.txt``, one line per video ``<video folder> <images> <label index>...`` (every
    label of a multi-label video: mmaction2's ``multi_class`` form); ``classes.txt``, the class
    names in index order; ``manifest.jsonl``, as :func:`export_frames` writes it. A video's label is
    its own when ``labels`` has it, else the prediction. Folder names hold no whitespace and are
    unique per video. Returns the path of ``annotations.txt``.

    With ``SampleFrames(clip_len=1, frame_interval=1, num_clips=n, test_mode=True)`` and
    ``RawFrameDecode``, mmaction2 reads each image of a video with n images exactly once.
    """
    index = {name: k for k, name in enumerate(classes)}
    label_indices = []
    for sel in selections:
        names = _names(labels.get(sel.path)) or ((sel.label,) if sel.label is not None else ())
        if not names:
            raise SmartframesError(f"{sel.path}: no label for the mmaction2 annotations; give --dataset with labels, "
                                   "or a --selector checkpoint that classifies")
        unknown = [name for name in names if name not in index]
        if unknown:
            raise SmartframesError(f"{sel.path}: label {unknown[0]!r} is not one of the {len(classes)} classes")
        label_indices.append([index[name] for name in names])
    folders, counts = _write_frames(selections, out, out / "rawframes", labels, MMACTION_FRAME_NAME, quality)
    lines = []
    for sel, folder, count, indices in zip(selections, folders, counts, label_indices):
        if count == 0:
            raise SmartframesError(f"{sel.path}: none of the chosen frames could be decoded")
        lines.append(" ".join([folder.name, str(count), *map(str, indices)]) + "\n")
    annotations = out / "annotations.txt"
    write_atomically(annotations, "".join(lines))
    write_atomically(out / "classes.txt", "".join(c + "\n" for c in classes))
    return annotations


def export_frames(selections: list[Selection], out: Path, labels: dict, quality: int = 95) -> Path:
    """The chosen frames as ``out/<video folder>/<frame>.jpg`` and ``out/manifest.jsonl``, one line
    per frame: video, frame index, time (s), image path (relative to ``out``), score, label,
    prediction. A video's folder is its file name's stem (whitespace as ``_``, ``-1``, ``-2``, ...
    added when another video has the same); images left in it by an earlier export are removed.
    Returns the manifest path."""
    _write_frames(selections, out, out, labels, FRAME_NAME, quality)
    return out / "manifest.jsonl"


def vlm_record(sel: Selection, images: list[str], info) -> dict:
    """What a video-language model needs to take one video's chosen frames as a video with its
    true timing: the frames (index, presentation time, image), transformers' ``VideoMetadata``
    fields with the source fps, frame count and the chosen ``frames_indices`` (from which
    Qwen2.5-VL / Qwen3-VL compute their time positions and ``<t seconds>`` markers, instead of
    assuming evenly spaced frames), a Qwen-VL chat message with the frame list, the same frames
    interleaved with their times as text (exact also for variable frame rate, for any
    image-and-text model), and LLaVA-Video's time instruction. ``images`` are absolute paths."""
    times = [round(float(t), 4) for t in sel.times]
    uris = [Path(p).resolve().as_uri() for p in images]
    interleaved = []
    for t, uri in zip(times, uris):
        interleaved += [{"type": "text", "text": f"<{t:.1f} seconds>"}, {"type": "image", "image": uri}]
    listed = ",".join(f"{t:.2f}s" for t in times)
    return {
        "video": sel.path,
        "frames": [{"index": i, "time": t, "image": img} for i, t, img in zip(sel.indices, times, images)],
        "video_metadata": {"total_num_frames": info.frame_count, "fps": info.fps, "width": info.width,
                           "height": info.height, "duration": info.duration, "frames_indices": list(sel.indices)},
        "qwen_vl_messages": [{"role": "user", "content": [
            {"type": "video", "video": uris, "sample_fps": round(len(times) / info.duration, 6) if info.duration else None}]}],
        "interleaved_messages": [{"role": "user", "content": interleaved}],
        "llava_video_time_instruction": (
            f"The video lasts for {info.duration:.2f} seconds, and {len(times)} frames are sampled from it. "
            f"These frames are located at {listed}. Please answer the following questions related to this video."),
    }


def export_vlm(selections: list[Selection], out: Path, labels: dict, quality: int = 95) -> Path:
    """The chosen frames as ``out/<video folder>/<frame>.jpg`` (and ``manifest.jsonl``, as
    :func:`export_frames` writes it), ``out/<video folder>/vlm.json`` per video (:func:`vlm_record`,
    with the video's label when known), and ``out/vlm.jsonl``, one such record per line. Returns
    the path of ``vlm.jsonl``."""
    folders, _ = _write_frames(selections, out, out, labels, FRAME_NAME, quality)
    lines = []
    for sel, folder in zip(selections, folders):
        images = [str(folder / FRAME_NAME.format(frame=i)) for i in sel.indices]
        record = {**vlm_record(sel, images, sel.info or probe(sel.path)), "label": _main_label(labels, sel.path),
                  "predicted": sel.label}
        write_atomically(folder / "vlm.json", json.dumps(record, indent=1))
        lines.append(json.dumps(record) + "\n")
    write_atomically(out / "vlm.jsonl", "".join(lines))
    return out / "vlm.jsonl"


def _write_frames(selections: list[Selection], out: Path, image_root: Path, labels: dict, template: str,
                  quality: int) -> tuple[list[Path], list[int]]:
    """Write the chosen frames of each video into its folder under ``image_root``, named by
    ``template`` (fields ``frame``: index in the video, ``number``: 1, 2, ... in time order), and
    ``out/manifest.jsonl``. Returns each video's folder and its number of images."""
    from PIL import Image

    image_root.mkdir(parents=True, exist_ok=True)
    folders, counts = _video_folders(selections, image_root), []
    with atomic_write(out / "manifest.jsonl") as manifest, open(manifest, "w") as fh:
        for sel, folder in zip(selections, folders):
            row = _row(sel, _main_label(labels, sel.path))
            folder.mkdir(exist_ok=True)
            for stale in folder.glob("*.jpg"):
                stale.unlink()
            write_atomically(folder / MARKER, sel.path)
            frames = sel.read_frames()
            count = 0
            for count, (image, i, t, s) in enumerate(zip(frames, sel.indices, row["times"], row["scores"]), start=1):
                file = folder / template.format(frame=i, number=count)
                with atomic_write(file) as tmp:
                    Image.fromarray(image).save(tmp, format="JPEG", quality=quality)
                fh.write(json.dumps({"video": sel.path, "frame": i, "time": t, "image": os.path.relpath(file, out),
                                     "score": s, "label": row["label"], "predicted": sel.label}) + "\n")
            counts.append(count)
    return folders, counts


def _video_folders(selections: list[Selection], root: Path) -> list[Path]:
    """One folder under ``root`` per video: its stem with whitespace as ``_``, or ``<stem>-1``,
    ``<stem>-2``, ... when an earlier video of this export took the name or the folder holds
    another video (per its marker)."""
    taken, folders = set(), []
    for sel in selections:
        base = "_".join(Path(sel.path).stem.split()) or "video"
        name, k = base, 0
        while name in taken or not _free_for(root / name, sel.path):
            k += 1
            name = f"{base}-{k}"
        taken.add(name)
        folders.append(root / name)
    return folders


def _free_for(folder: Path, video: str) -> bool:
    marker = folder / MARKER
    return not folder.exists() or (marker.is_file() and marker.read_text() == video)


def export_selections(selections: list[Selection], fmt: str, out, *, labels: dict | None = None,
                      classes: list[str] | None = None, order: list[str] | None = None) -> Path:
    """Write ``selections`` in ``fmt`` (one of :data:`EXPORT_FORMATS`) to ``out`` (a file, or a
    folder for ``frames`` and ``mmaction``). ``labels`` maps video paths to their true labels when
    known: a name, or a tuple of names for a multi-label video (main label first). ``classes``
    orders the label indices of ``mmaction`` (default: the selector's classes, in its index order).
    ``order``: the video paths in the order to write them (selections from Ray arrive as they
    finish); default as given. Returns the main file written."""
    out = Path(out)
    labels = labels or {}
    if order is not None:
        rank = {path: k for k, path in enumerate(order)}
        selections = sorted(selections, key=lambda sel: rank[sel.path])
    if fmt not in EXPORT_FORMATS:
        raise SmartframesError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    if fmt in ("frames", "mmaction", "vlm"):
        if out.exists() and not out.is_dir():
            raise SmartframesError(f"{out}: not a folder (the {fmt} export writes a folder)")
        out.mkdir(parents=True, exist_ok=True)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        export_json(selections, out, labels)
    elif fmt == "csv":
        export_csv(selections, out, labels)
    elif fmt == "mmaction":
        if classes is None:
            classes = list(selections[0].class_probabilities or {}) if selections else []
        if not classes:
            raise SmartframesError("the mmaction export needs class names: give --dataset (or --format), or a "
                                   "--selector checkpoint that classifies")
        return export_mmaction(selections, out, labels, classes)
    elif fmt == "vlm":
        return export_vlm(selections, out, labels)
    else:
        return export_frames(selections, out, labels)
    return out
