"""``smartframes select``: n frames of each video, by a trained selector or a training-free method,
printed or exported for another tool."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import SmartframesError
from ..selection.export import EXPORT_FORMATS
from ..selection.methods import DEFAULT_METHOD, SERVING_METHODS
from .args import (add_command, add_dataset_args, add_device_arg, add_engine_args, add_segments_arg,
                   dataset_from_args, output_file, output_folder, positive, video_failed)

EXAMPLES = [
    "smartframes select clip.mp4 -n 8 --json",
    "smartframes select clip.mp4 --selector ckpt -n 8 --sheet sheet.jpg",
    "smartframes select --dataset labels.csv --export csv --out sel.csv",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``select`` and its options."""
    p = add_command(subparsers, common, "select", EXAMPLES,
                    help="choose n frames of videos: with a trained selector, or a training-free method")
    add_segments_arg(p, "with --sheet, frames inside the action are marked")
    p.add_argument("videos", nargs="*", help="video files (or use --dataset / --format)")
    p.add_argument("--dataset", default=None, help="instead of videos: a dataset folder or CSV, whose labels go "
                   "into the exports")
    add_dataset_args(p)
    p.add_argument("--subset", choices=("train", "val", "test", "all"), default="all",
                   help="with a dataset: which of its splits to select in (default all)")
    p.add_argument("--export", choices=EXPORT_FORMATS, default=None,
                   help="write the selections for another tool: json, csv, mmaction (the chosen frames as an "
                   "mmaction2 RawframeDataset), frames (JPEG files + manifest.jsonl) or vlm (the frames with their timing "
                   "metadata for video-language models: vlm.jsonl); needs --out")
    p.add_argument("--out", default=None, help="with --export: the file (json, csv) or folder (mmaction, frames) to write")
    add_engine_args(p)
    p.add_argument("--selector", default=None, help="checkpoint directory from `smartframes train` (without it: "
                   "a training-free method, frames only, no class)")
    p.add_argument("--method", choices=SERVING_METHODS, default=None,
                   help=f"how to choose (default: smart with --selector, else {DEFAULT_METHOD})")
    p.add_argument("-n", type=positive(int), default=8, help="frames to select (default 8)")
    p.add_argument("--json", action="store_true", help="one JSON object per video")
    p.add_argument("--sheet", default=None, help="write a contact sheet PNG of the selected frames")
    add_device_arg(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Select in every video, printing or exporting each selection; 1 when a video failed."""
    from tqdm import tqdm

    from ..data.segments import load_segments, video_name
    from ..evaluation.plots import contact_sheet
    from ..scale.select import select_videos
    from ..selection.export import export_selections

    if args.dataset or args.format:
        if args.videos:
            raise SmartframesError("give videos or a dataset (--dataset, or --format with --root), not both")
        dataset = dataset_from_args(args, args.dataset)  # every class, whatever --subset
        items = [it for it in dataset.items if args.subset == "all" or it.split == args.subset]
        if not items:
            raise SmartframesError(f"the dataset has no videos in the {args.subset} split")
        videos, labels, classes = [it.path for it in items], {it.path: it.labels or it.label for it in items}, dataset.classes
    elif args.videos:
        videos, labels, classes = args.videos, {}, None  # mmaction label indices: the selector's classes
    else:
        raise SmartframesError("no videos: give video files, --dataset, or --format with --root")
    if args.sheet and len(videos) > 1:
        raise SmartframesError("--sheet takes one video; run select once per video for sheets")
    if (args.export is None) != (args.out is None):
        raise SmartframesError("--export and --out go together")
    (output_folder if args.export in ("frames", "mmaction", "vlm") else output_file)(args.out)
    output_file(args.sheet)
    notes = sys.stderr if args.json else sys.stdout
    segments = load_segments(args.segments, videos) if args.segments else {}
    status, selections = 0, []
    results = select_videos(videos, args.selector, args.n, engine=args.engine, device=args.device,
                            address=args.address, actors=args.actors, method=args.method)
    for path, sel in tqdm(results, total=len(videos), unit="video", desc="select", disable=len(videos) < 2,
                          dynamic_ncols=True):
        if isinstance(sel, Exception):
            video_failed(args, sel)
            status = 1
            continue
        selections.append(sel)
        if sel.lost:
            print(f"smartframes: warning: {sel.damage()}", file=sys.stderr)
        if args.json:
            print(json.dumps(sel.to_dict()))
        elif args.export is None:
            print(sel.format())
        if args.sheet:
            contact_sheet(sel, sel.read_frames(size=160), args.sheet, segments=segments.get(video_name(sel.path)))
            print(f"sheet: {args.sheet}", file=notes)
    if args.export is not None and selections:
        written = export_selections(selections, args.export, args.out, labels=labels, classes=classes, order=videos)
        print(f"{args.export}: {len(selections)} videos -> {written}", file=notes)
    return status
