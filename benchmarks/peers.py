"""Side by side with what users pick instead of a frame selector, on the same real clips: uniform
sampling with decord (``VideoReader.get_batch``), PySceneDetect's content detector (one frame, the
middle one, per detected scene), Katna's keyframe extraction, and ``smartframes.select_frames``
with every training-free method. Prints seconds per clip
(median, min-max over the clips, models loaded beforehand and a warm-up clip not counted) and how
many frames each returned.

    pip install -e '.[peers]'     # decord, scenedetect, opencv, katna: not dependencies of the package
    python benchmarks/peers.py [--clips ../shared/data/ucf101-9/labels.csv] [--count 10] [-n 8]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import smartframes as sf
from smartframes.selection.methods import SELECTOR_METHODS, SERVING_METHODS


def decord_uniform(path: str, n: int) -> int:
    from decord import VideoReader, cpu

    reader = VideoReader(path, ctx=cpu(0))
    T = len(reader)
    frames = reader.get_batch(sf.candidate_indices(T, 1, n).tolist()).asnumpy()
    return len(frames)


def scenedetect_middles(path: str, n: int) -> int:
    from scenedetect import ContentDetector, detect, open_video

    scenes = detect(path, ContentDetector())
    if not scenes:  # one shot: the whole clip is the scene
        return len(sf.read_frames(path, indices=[open_video(path).duration.frame_num // 2]))
    middles = [(a.frame_num + b.frame_num) // 2 for a, b in scenes][:n]
    return len(sf.read_frames(path, indices=middles))


def katna_keyframes(path: str, n: int) -> int:
    from Katna.video import Video
    from Katna.writer import KeyFrameDiskWriter

    with tempfile.TemporaryDirectory() as out:
        Video().extract_video_keyframes(no_of_frames=n, file_path=path, writer=KeyFrameDiskWriter(location=out))
        return len(os.listdir(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="../shared/data/ucf101-9/labels.csv", help="CSV with a path column")
    parser.add_argument("--count", type=int, default=10, help="clips to time (spread over the CSV)")
    parser.add_argument("-n", type=int, default=8)
    args = parser.parse_args()
    with open(args.clips) as fh:
        rows = list(csv.DictReader(fh))
    root = Path(args.clips).parent
    step = max(1, len(rows) // (args.count + 1))
    clips = [str(root / rows[k]["path"]) if not os.path.isabs(rows[k]["path"]) else rows[k]["path"]
             for k in range(0, step * (args.count + 1), step)][: args.count + 1]  # the first is the warm-up

    ours = {m: sf.load_selector(method=m, device="cpu") for m in SERVING_METHODS if m not in SELECTOR_METHODS}
    runners = {"decord uniform": lambda p: decord_uniform(p, args.n),
               "PySceneDetect content": lambda p: scenedetect_middles(p, args.n),
               "Katna keyframes": lambda p: katna_keyframes(p, args.n)}
    runners |= {f"smartframes {m}": (lambda s: lambda p: len(sf.select_frames(p, args.n, selector=s).indices))(s)
                for m, s in ours.items()}
    print(f"{len(clips) - 1} clips from {args.clips} (after one warm-up clip), n = {args.n}, 2-core CPU")
    print(f"{'method':<26}{'s per clip (median)':>20}{'min-max':>16}{'frames (median)':>17}")
    for name, run in runners.items():
        try:
            run(clips[0])
        except Exception as e:  # a peer that does not run here is reported, not fatal
            print(f"{name:<26} did not run: {type(e).__name__}: {str(e)[:80]}")
            continue
        seconds, frames = [], []
        for clip in clips[1:]:
            began = time.perf_counter()
            frames.append(run(clip))
            seconds.append(time.perf_counter() - began)
        print(f"{name:<26}{np.median(seconds):>20.3f}{f'{min(seconds):.3f}-{max(seconds):.3f}':>16}"
              f"{np.median(frames):>17.0f}", flush=True)


if __name__ == "__main__":
    main()
