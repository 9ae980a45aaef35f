"""Benchmark video decoding and feature extraction speed on this CPU.

Prints (and asserts nothing about):

1. Decode frames/s of a synthetic 320x240 H.264 clip: native-size RGB (``read_frames``) and the
   two FFmpeg-scaled sizes that extraction decodes in one pass (``decode(sizes=...)``).
2. Light-feature frames/s (EfficientNet-Lite0 embedding + GloVe mean) at several light
   resolutions, and how well each agrees with the 224 result: top-1 ImageNet class agreement
   and mean cosine similarity of the GloVe part (and of the visual embedding). Agreement is
   measured on frames from the real clips in ``../shared/data/real-clips/`` (relative to the
   repository root) when that folder exists, else on the synthetic clip.
3. Expensive-feature frames/s (EfficientNet-Lite2 embedding) at several expensive resolutions.
4. End-to-end ``FeatureExtractor(FeatureSpec()).extract(path)`` frames/s on the synthetic clip.

Sections 2-4 run under every backbone runtime given (``--runtimes``, default every one this machine
has: OpenVINO and eager PyTorch) and every precision given (``--precisions``, default float32 and
bfloat16; bfloat16 runs as float32 on a CPU without bfloat16 instructions, and is then skipped),
side by side in one run, with each one's median frames/s over the first's.

Model timings feed frames already scaled to the backbone's short side, in batches of
``--batch-size``, after one warm-up batch. Every timing is repeated ``--repeats`` times and
reported as best and median frames/s.

Usage::

    python benchmarks/extract_speed.py             # full run
    python benchmarks/extract_speed.py --quick     # smoke run, under a minute
    python benchmarks/extract_speed.py --json speed.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from smartframes.candidates import candidate_indices
from smartframes.evaluation.bench import synthetic_frames
from smartframes.device import run_precision
from smartframes.features.backbones import centre_crop, to_input
from smartframes.features.extractor import FeatureExtractor
from smartframes.features.runtime import available_runtimes
from smartframes.io import video
from smartframes.spec import BACKBONES, FeatureSpec

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS_DIR = REPO_ROOT.parent / "shared" / "data" / "real-clips"
LIGHT = BACKBONES["efficientnet_lite0"]
EXPENSIVE = BACKBONES["efficientnet_lite2"]
REFERENCE_RESOLUTION = LIGHT.resolution  # agreement is measured against the native 224
WIDTH, HEIGHT = 320, 240

# Settings that --quick changes; an explicit flag still wins.
FULL = {"frames": 300, "model_frames": 64, "repeats": 3, "clips": 10}
QUICK = {"frames": 48, "model_frames": 16, "repeats": 1, "clips": 3}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def int_list(text: str) -> list[int]:
        return [int(v) for v in text.split(",") if v.strip()]

    p = argparse.ArgumentParser(
        description="Measure decode and feature-extraction frames/s on this CPU and print a table.",
    )
    p.add_argument("--resolutions", type=int_list, default="224,192,160,128",
                   help="light (Lite0) resolutions, comma-separated (default %(default)s)")
    p.add_argument("--expensive-resolutions", type=int_list, default="260,192,160,128",
                   help="expensive (Lite2) resolutions, comma-separated (default %(default)s)")
    p.add_argument("--frames", type=int, default=None,
                   help=f"length of the synthetic clip (default {FULL['frames']}, quick {QUICK['frames']})")
    p.add_argument("--fps", type=float, default=25.0,
                   help="frame rate of the synthetic clip (default %(default)s)")
    p.add_argument("--model-frames", type=int, default=None,
                   help=f"frames per model timing "
                        f"(default {FULL['model_frames']}, quick {QUICK['model_frames']})")
    p.add_argument("--batch-size", type=int, default=32, help="frames per forward pass (default %(default)s)")
    p.add_argument("--repeats", type=int, default=None,
                   help=f"timed repetitions per figure (default {FULL['repeats']}, quick {QUICK['repeats']})")
    p.add_argument("--clips-dir", type=Path, default=DEFAULT_CLIPS_DIR,
                   help="folder of real clips with a labels.csv (column `path`) for the agreement check "
                        "(default %(default)s)")
    p.add_argument("--clips", type=int, default=None,
                   help=f"real clips used for agreement (default {FULL['clips']}, quick {QUICK['clips']})")
    p.add_argument("--frames-per-clip", type=int, default=8,
                   help="frames decoded evenly from each clip (default %(default)s)")
    p.add_argument("--runtimes", type=lambda t: [v for v in t.split(",") if v], default=None,
                   help="backbone runtimes, comma-separated (default: every one this machine has)")
    p.add_argument("--precisions", type=lambda t: [v for v in t.split(",") if v], default=["float32", "bfloat16"],
                   help="comma-separated precisions of both passes (default float32,bfloat16)")
    p.add_argument("--quick", action="store_true", help="fewer frames and one repetition, for a smoke run")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write every figure to this JSON file")
    args = p.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


# ---------------------------------------------------------------------------------------------
# Helpers


def timings(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    """Wall-clock seconds of each of ``repeats`` calls of ``fn``, and the last call's result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def rates(frames: int, seconds: list[float]) -> dict:
    """Best and median frames/s of ``frames`` frames processed in each of ``seconds``."""
    return {
        "frames": frames,
        "best_fps": frames / min(seconds),
        "median_fps": frames / statistics.median(seconds),
        "seconds": seconds,
    }


def batched(fn: Callable[[np.ndarray], object], images: np.ndarray, batch_size: int) -> Callable[[], None]:
    """A call that runs ``fn`` over ``images`` in batches."""
    def run():
        for start in range(0, len(images), batch_size):
            fn(images[start : start + batch_size])
    return run


def model_rates(fn: Callable[[np.ndarray], object], images: np.ndarray, batch_size: int,
                repeats: int) -> dict:
    """Frames/s of ``fn`` over ``images`` in batches, after one warm-up batch."""
    fn(images[:batch_size])
    seconds, _ = timings(batched(fn, images, batch_size), repeats)
    return rates(len(images), seconds)


def table(headers: list[str], rows: list[list]) -> str:
    """Plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *map(line, cells[1:])])


# ---------------------------------------------------------------------------------------------
# Measurements


def bench_decode(path: Path, sizes: list[int], repeats: int) -> dict:
    """Decode frames/s at native size (RGB) and at the extraction sizes in one pass."""
    native_seconds, native = timings(lambda: video.read_frames(path), repeats)
    scaled_seconds, scaled = timings(lambda: video.decode(path, sizes=sizes), repeats)
    return {
        "native": rates(len(native), native_seconds),
        "extraction_sizes": {"sizes": sizes, **rates(len(scaled.indices), scaled_seconds)},
    }


def light_extractors(resolutions: list[int], batch_size: int, runtime: str,
                     precision: str = "float32") -> dict[int, FeatureExtractor]:
    """One light-only extractor per resolution, the reference 224 included."""
    wanted = sorted(set(resolutions) | {REFERENCE_RESOLUTION}, reverse=True)
    return {
        r: FeatureExtractor(FeatureSpec(light_resolution=r, expensive_backbone=None, light_precision=precision),
                            batch_size=batch_size, runtime=runtime)
        for r in wanted
    }


def bench_light_speed(path: Path, extractors: dict[int, FeatureExtractor], resolutions: list[int],
                      count: int, repeats: int) -> dict[int, dict]:
    """Light-feature frames/s per resolution on frames pre-scaled to Lite0's short side."""
    out = {}
    for r in resolutions:
        short = LIGHT.resize_short_side(r)
        images = video.read_frames(path, range(count), size=short)
        ex = extractors[r]
        out[r] = {"short_side": short, **model_rates(ex.light_features, images, ex.batch_size, repeats)}
    return out


def agreement_sources(clips_dir: Path, clips: int, per_clip: int,
                      synthetic: Path) -> tuple[list[Path], int, str]:
    """Videos for the agreement check, frames to take from each, and a description."""
    labels = clips_dir / "labels.csv"
    if labels.is_file():
        with open(labels, newline="") as f:
            rows = [row["path"] for row in csv.DictReader(f)]
        pick = np.unique(np.linspace(0, len(rows) - 1, min(clips, len(rows))).round().astype(int))
        return [clips_dir / rows[i] for i in pick], per_clip, f"real clips from {clips_dir}"
    return [synthetic], clips * per_clip, "synthetic clip (no real clips found)"


def agreement_frames(paths: list[Path], per_clip: int,
                     resolutions: list[int]) -> tuple[dict[int, np.ndarray], list[str]]:
    """Frames spread evenly over each video, scaled to Lite0's short side for each resolution and
    centre-cropped to it: ``{r: uint8 (N, r, r, 3)}``, plus the videos that could not be read."""
    shorts = [LIGHT.resize_short_side(r) for r in resolutions]
    crops: dict[int, list[np.ndarray]] = {r: [] for r in resolutions}
    skipped = []
    for path in paths:
        try:
            indices = candidate_indices(video.probe(path).frame_count, 1, per_clip)
            decoded = video.decode(path, indices, shorts, allow_partial=True)
        except video.VideoError as e:
            skipped.append(str(e))
            continue
        for r, frames in zip(resolutions, decoded.frames):
            crops[r].append(centre_crop(frames, r))
    return {r: np.concatenate(c) for r, c in crops.items()}, skipped


@torch.inference_mode()
def light_outputs(ex: FeatureExtractor, images: np.ndarray) -> dict[str, np.ndarray]:
    """Top-1 ImageNet class, GloVe part and visual part of the light features of ``images``."""
    r = ex.spec.light_resolution
    top1, glove, visual = [], [], []
    for start in range(0, len(images), ex.batch_size):
        batch = images[start : start + ex.batch_size]
        x = to_input(centre_crop(batch, r), ex.light_spec)
        top1.append(ex.light_run(x)[1].argmax(1).numpy())
        v, g, _ = ex.light_features(batch)
        visual.append(v)
        glove.append(g)
    return {"top1": np.concatenate(top1), "glove": np.concatenate(glove), "visual": np.concatenate(visual)}


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)))


def bench_agreement(extractors: dict[int, FeatureExtractor], resolutions: list[int], paths: list[Path],
                    per_clip: int) -> dict:
    """Agreement of each light resolution with the 224 result on the same frames."""
    frames, skipped = agreement_frames(paths, per_clip, list(extractors))
    outputs = {r: light_outputs(ex, frames[r]) for r, ex in extractors.items()}
    ref = outputs[REFERENCE_RESOLUTION]
    per_resolution = {
        r: {
            "top1_agreement": float(np.mean(outputs[r]["top1"] == ref["top1"])),
            "glove_cosine": mean_cosine(outputs[r]["glove"], ref["glove"]),
            "visual_cosine": mean_cosine(outputs[r]["visual"], ref["visual"]),
        }
        for r in resolutions
    }
    return {
        "reference_resolution": REFERENCE_RESOLUTION,
        "videos": len(paths) - len(skipped),
        "frames": int(len(ref["top1"])),
        "skipped": skipped,
        "per_resolution": per_resolution,
    }


def bench_expensive(path: Path, resolutions: list[int], count: int, batch_size: int,
                    repeats: int, runtime: str, precision: str = "float32") -> dict[int, dict]:
    """Expensive-feature frames/s per resolution on frames pre-scaled to Lite2's short side."""
    out = {}
    for r in resolutions:
        short = EXPENSIVE.resize_short_side(r)
        images = video.read_frames(path, range(count), size=short)
        ex = FeatureExtractor(FeatureSpec(expensive_resolution=r, expensive_precision=precision),
                              batch_size=batch_size, runtime=runtime)
        out[r] = {"short_side": short, **model_rates(ex.expensive_features, images, batch_size, repeats)}
    return out


def bench_end_to_end(path: Path, batch_size: int, repeats: int, runtime: str, precision: str) -> dict:
    """``extract`` frames/s with the default spec but both passes in ``precision`` (decode + light +
    expensive), after a warm-up batch."""
    spec = FeatureSpec(light_precision=precision, expensive_precision=precision)
    ex = FeatureExtractor(spec, batch_size=batch_size, runtime=runtime)
    ex.run_batch(next(iter(ex.batches(path))))  # warm-up: one batch through both backbones
    seconds, features = timings(lambda: ex.extract(path), repeats)
    return {"spec": json.loads(ex.spec.to_json()), **rates(len(features.indices), seconds)}


# ---------------------------------------------------------------------------------------------
# Report


def environment() -> dict:
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "numpy": np.__version__,
        "av": metadata.version("av"),
    }


def fps_cells(r: dict) -> list:
    """Table cells: frames, best fps, median fps."""
    return [r["frames"], f"{r['best_fps']:.1f}", f"{r['median_fps']:.1f}"]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    env = environment()
    print(f"torch {env['torch']}, torch.get_num_threads() = {env['torch_threads']}")
    print(f"python {env['python']}, numpy {env['numpy']}, av {env['av']}, "
          f"{env['cpu_count']} CPUs ({env['machine']}, {env['processor']})")
    print(f"clip: {args.frames} frames {WIDTH}x{HEIGHT} @ {args.fps:g} fps; model timings on "
          f"{min(args.model_frames, args.frames)} frames, batch {args.batch_size}; "
          f"best/median of {args.repeats} run(s)")
    results: dict = {"environment": env, "settings": {k: str(v) if isinstance(v, Path) else v
                                                      for k, v in vars(args).items()}}
    default = FeatureSpec()
    extraction_sizes = [LIGHT.resize_short_side(default.light_resolution),
                        EXPENSIVE.resize_short_side(default.expensive_resolution)]
    model_frames = min(args.model_frames, args.frames)

    with tempfile.TemporaryDirectory(prefix="extract_speed_") as tmp:
        clip = Path(tmp) / "synthetic.mp4"
        video.write_video(clip, synthetic_frames(args.frames, WIDTH, HEIGHT), args.fps)

        print(f"\n1. Decode (H.264 {WIDTH}x{HEIGHT})")
        results["decode"] = dec = bench_decode(clip, extraction_sizes, args.repeats)
        print(table(["what", "frames", "best fps", "median fps"], [
            ["read_frames, native RGB", *fps_cells(dec["native"])],
            [f"decode, sizes={tuple(extraction_sizes)}", *fps_cells(dec["extraction_sizes"])],
        ]))

        precisions = list(dict.fromkeys(run_precision(p, "cpu") for p in args.precisions))
        variants = {f"{rt}/{p}": (rt, p) for rt in (args.runtimes or available_runtimes(torch.device("cpu")))
                    for p in precisions}  # "runtime/precision", as the tables and the JSON name them
        first = next(iter(variants))
        print(f"\nruntime/precision: {', '.join(variants)} (ratios: median frames/s over {first}'s)")
        results["light"], results["expensive"], results["end_to_end"] = {}, {}, {}

        def speedup(rows: dict, v: str, key) -> str:
            return f"{rows[v][key]['median_fps'] / rows[first][key]['median_fps']:.2f}x"

        print("\n2. Light features (EfficientNet-Lite0 + GloVe)")
        extractors = {}
        for v, (rt, precision) in variants.items():
            extractors[v] = light_extractors(args.resolutions, args.batch_size, rt, precision)
            results["light"][v] = bench_light_speed(clip, extractors[v], args.resolutions, model_frames, args.repeats)
        light = results["light"]
        paths, per_clip, source = agreement_sources(args.clips_dir, args.clips, args.frames_per_clip, clip)
        results["agreement"] = agree = bench_agreement(extractors[first], args.resolutions, paths, per_clip)
        agree["source"] = source
        print(table(
            ["runtime", "resolution", "short side", "frames", "best fps", "median fps", "vs first",
             "top-1 agree", "glove cos", "visual cos"],
            [[v, r, light[v][r]["short_side"], *fps_cells(light[v][r]), speedup(light, v, r),
              f"{a['top1_agreement']:.3f}", f"{a['glove_cosine']:.4f}", f"{a['visual_cosine']:.4f}"]
             for v in variants for r, a in agree["per_resolution"].items()],
        ))
        print(f"agreement ({first}) vs {REFERENCE_RESOLUTION} on {agree['frames']} frames from {agree['videos']} "
              f"video(s): {source}")
        for reason in agree["skipped"]:
            print(f"  skipped {reason}")

        print("\n3. Expensive features (EfficientNet-Lite2)")
        exp = results["expensive"]
        for v, (rt, precision) in variants.items():
            exp[v] = bench_expensive(clip, args.expensive_resolutions, model_frames, args.batch_size, args.repeats,
                                     rt, precision)
        print(table(["runtime", "resolution", "short side", "frames", "best fps", "median fps", "vs first"],
                    [[v, r, exp[v][r]["short_side"], *fps_cells(exp[v][r]), speedup(exp, v, r)]
                     for v in variants for r in args.expensive_resolutions]))

        print("\n4. End to end: FeatureExtractor(FeatureSpec()).extract(path)")
        e2e = results["end_to_end"]
        for v, (rt, precision) in variants.items():
            e2e[v] = {"extract": bench_end_to_end(clip, args.batch_size, args.repeats, rt, precision)}
        print(f"light {default.light_resolution} + expensive {default.expensive_resolution}, decode sizes "
              f"{tuple(extraction_sizes)}")
        print(table(["runtime", "frames", "best fps", "median fps", "vs first"],
                    [[v, *fps_cells(e2e[v]["extract"]), speedup(e2e, v, "extract")] for v in variants]))

    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
