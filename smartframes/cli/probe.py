"""``smartframes probe``: frame count, frame rate, duration and size of videos."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from .args import add_command, video_failed

EXAMPLES = [
    "smartframes probe clip.mp4",
    "smartframes probe videos/*.mp4 --json",
]


def add_parser(subparsers, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare ``probe`` and its options."""
    p = add_command(subparsers, common, "probe", EXAMPLES, help="print frame count, fps, duration and size of videos")
    p.add_argument("videos", nargs="+")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Print one line per video; 1 when one could not be read."""
    from ..io.video import VideoError, probe

    status = 0
    for path in args.videos:
        try:
            info = probe(path)
        except VideoError as e:
            video_failed(args, e)
            status = 1
            continue
        if args.json:
            print(json.dumps(asdict(info)))
        else:
            print(f"{info.path}: {info.frame_count} frames, {info.fps:.3f} fps, {info.duration:.2f} s, "
                  f"{info.width}x{info.height}, {info.codec}" + (f", rotated {info.rotation}" if info.rotation else ""))
    return status
