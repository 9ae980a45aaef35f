"""The ``smartframes`` command: parses arguments and calls the Python API, nothing more."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

from ..version import __version__
from ..errors import SmartframesError
from ..io.files import DISK_ERRNOS, disk_error, write_atomically
from ..spec import PRECISIONS, FeatureSpec

DEVICES = ("cpu", "cuda")
EXIT_SOME_FAILED = 4  # extract: the store holds videos that failed (0 with --allow-partial)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (and exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _video_failed(args, error: Exception) -> None:
    """One video of several could not be read: say so in one line (with --verbose, the traceback)
    and go on with the others."""
    if args.verbose:
        traceback.print_exception(error)
    print(f"smartframes: error: {_one_line(error)}", file=sys.stderr)


def _add_spec_args(p: argparse.ArgumentParser) -> None:
    d = FeatureSpec()
    g = p.add_argument_group("feature spec (stored with the store; a resumed run must use the same)")
    g.add_argument("--light-resolution", type=int, default=d.light_resolution,
                   help=f"input size of the light backbone (default {d.light_resolution}; native 224)")
    g.add_argument("--expensive-resolution", type=int, default=d.expensive_resolution,
                   help=f"input size of the expensive backbone (default {d.expensive_resolution}, native)")
    g.add_argument("--no-expensive", action="store_true",
                   help="skip the expensive backbone: a store to evaluate with your own model's outputs "
                   "(evaluate --probs-dir) and a selector trained elsewhere")
    g.add_argument("--every", type=int, default=d.every, help="candidate frames: every k-th frame (default 1)")
    g.add_argument("--light-precision", choices=PRECISIONS, default=d.light_precision,
                   help=f"light backbone and selector (default {d.light_precision}; float16 on a GPU only)")
    g.add_argument("--expensive-precision", choices=PRECISIONS, default=d.expensive_precision,
                   help=f"expensive backbone (default {d.expensive_precision})")
    g.add_argument("--candidate-fps", type=float, default=d.candidate_fps, metavar="F",
                   help="candidate frames: F per second of video, decoded by seeking (long, untrimmed videos)")
    g.add_argument("--max-candidates", type=int, default=d.max_candidates,
                   help="candidate frames: at most M per video, spread evenly (default: no cap)")


def _spec_from_args(args) -> FeatureSpec:
    return FeatureSpec(
        light_resolution=args.light_resolution,
        expensive_backbone=None if args.no_expensive else FeatureSpec().expensive_backbone,
        expensive_resolution=args.expensive_resolution,
        every=args.every,
        max_candidates=args.max_candidates,
        candidate_fps=args.candidate_fps,
        light_precision=args.light_precision,
        expensive_precision=args.expensive_precision,
    )


def _add_dataset_args(p: argparse.ArgumentParser) -> None:
    """Where the videos come from: a folder or CSV (the positional argument), or an official layout."""
    g = p.add_argument_group("dataset in its official layout (instead of a folder or CSV)")
    from ..data.formats import FORMATS

    g.add_argument("--format", choices=sorted(FORMATS), default=None, help="the dataset's layout")
    g.add_argument("--root", default=None, help="with --format: the dataset folder")
    g.add_argument("--split", type=int, default=1, dest="official_split", metavar="K",
                   help="with --format: the official split number for UCF101 and HMDB51 (default 1)")
    g.add_argument("--classes", default=None, metavar="FILE",
                   help="keep only the classes named in FILE, one per line (e.g. a 32-class Kinetics subset)")


def _add_segments_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--segments", default=None, metavar="FILE",
                   help=f"where the action happens: ActivityNet v1.3 JSON, THUMOS14 text files (a folder or one file) or a "
                        f"CSV path,start,end[,label] in seconds; {what}")


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scale-out")
    g.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default) or ray: Ray actors do the per-video work (pip install 'smartframes[ray]')")
    g.add_argument("--address", default=None, help="with --engine ray: the cluster (default: a local Ray instance)")
    g.add_argument("--actors", type=_positive(int), default=None,
                   help="with --engine ray: model copies (default: the cluster's CPUs / 2, or its GPUs)")


def _output_file(path) -> None:
    """Refuse, before any work, a file output that could not be written; create its folder."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise SmartframesError(f"{path}: is a folder; give a file name")
    _creatable_folder(path.parent)


def _output_folder(path) -> None:
    """Refuse, before any work, a folder output that could not be written."""
    if path is None:
        return
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SmartframesError(f"{path}: exists and is not a folder")
    _creatable_folder(path.parent)


def _creatable_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SmartframesError(f"{folder}: cannot make this folder ({e.strerror or e})") from None
    if not os.access(folder, os.W_OK):
        raise SmartframesError(f"{folder}: not writable")


def _dataset(args, positional):
    """The dataset the arguments name (a folder or CSV, or ``--format`` with ``--root``); says
    which listed videos are missing on disk."""
    from ..data.formats import load_source

    result = load_source(positional, format=args.format, root=args.root, split=args.official_split,
                         classes_file=args.classes)
    if result.missing:
        shown = ", ".join(result.missing[:3]) + (", ..." if len(result.missing) > 3 else "")
        print(f"{args.format}: {len(result.missing)} listed videos are not on disk, left out ({shown})", file=sys.stderr)
    return result


def cmd_extract(args) -> int:
    from ..io.video import Limits
    from ..scale.extract import extract_dataset

    limits = Limits(max_pixels=args.max_pixels, max_frames=args.max_frames, max_duration=args.max_duration)
    dataset = _dataset(args, args.dataset)
    summary = extract_dataset(
        dataset.items, args.store, _spec_from_args(args), device=args.device,
        batch_size=args.batch_size, retry_failed=args.retry_failed, progress=not args.quiet,
        limits=limits, decode_timeout=args.decode_timeout, engine=args.engine, address=args.address, actors=args.actors,
        segments=args.segments if args.segments is not None else dataset.segments,
    )
    print(summary.line())
    if summary.store_done == 0:
        print(f"smartframes: error: {args.store}: no video could be processed", file=sys.stderr)
        return 1
    if summary.store_failed and not args.allow_partial:
        print(f"smartframes: error: {args.store}: {summary.store_failed} videos failed (--retry-failed tries them "
              f"again); exit status {EXIT_SOME_FAILED}, or 0 with --allow-partial", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0


def _class_list(path) -> list[str] | None:
    from ..data.formats import read_class_names

    return None if path is None else read_class_names(path)


def cmd_train(args) -> int:
    from ..selection.head import HeadConfig
    from ..selection.networks import SelectorConfig
    from ..selection.train import TrainConfig, train_selector

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                      val_budget=args.val_budget, seed=args.seed, target=args.target, annotations=args.annotations)
    sel = SelectorConfig(pairs=not args.no_pairs, use_sfs=not args.gs_only, use_gs=not args.sfs_only,
                         use_glove=not args.no_glove, pick=args.pick, use_evidence=not args.no_evidence)
    if args.gamma_as_printed:
        sel, cfg = sel.as_printed(), cfg.as_printed()
    _output_folder(args.out)
    train_selector(args.store, args.out, cfg, sel, HeadConfig(hidden=args.head_hidden), oracle_dir=args.oracle_dir,
                   classes=_class_list(args.classes), progress=not args.quiet)
    print(f"checkpoint: {args.out}")
    return 0


def cmd_select(args) -> int:
    from tqdm import tqdm

    from ..data.segments import load_segments, video_name
    from ..evaluation.plots import contact_sheet
    from ..scale.select import select_videos
    from ..selection.export import export_selections
    from ..selection.methods import SELECTOR_METHODS

    if args.dataset or args.format:
        if args.videos:
            raise SmartframesError("give videos or a dataset (--dataset, or --format with --root), not both")
        dataset = _dataset(args, args.dataset)  # every class, whatever --subset
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
    (_output_folder if args.export in ("frames", "mmaction", "vlm") else _output_file)(args.out)
    _output_file(args.sheet)
    notes = sys.stderr if args.json else sys.stdout
    segments = load_segments(args.segments, videos) if args.segments else {}
    if args.selector is None and args.method in SELECTOR_METHODS:
        print(f"note: --method {args.method} without --selector uses the generic selector in the package, trained on "
              "other classes, where it chose no better than uniform (README, \"Selection without training\"); "
              "train one on your own videos (smartframes train) for SMART to pay", file=sys.stderr)
    status, selections = 0, []
    results = select_videos(videos, args.selector, args.n, engine=args.engine, device=args.device,
                            address=args.address, actors=args.actors, method=args.method)
    for path, sel in tqdm(results, total=len(videos), unit="video", desc="select", disable=len(videos) < 2,
                          dynamic_ncols=True):
        if isinstance(sel, Exception):
            _video_failed(args, sel)
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


def cmd_evaluate(args) -> int:
    from ..evaluation.ablation import ablation, format_ablation
    from ..evaluation.evaluate import evaluate, format_table, write_json
    from ..selection.checkpoint import load_checkpoint
    from ..selection.pretrained import GENERIC_DIR

    if args.expensive_gflops is not None and args.probs_dir is None:
        raise SmartframesError("--expensive-gflops goes with --probs-dir (the checkpoint's own head is counted)")
    _output_file(args.json)
    if args.selector is None and args.recogniser is None:
        raise SmartframesError("evaluate needs --selector CKPT, or --recogniser CKPT to evaluate the generic selector")
    if args.ablation and args.selector is None:
        raise SmartframesError("--ablation trains variants of --selector's settings: give --selector")
    selector = args.selector if args.selector is not None else GENERIC_DIR
    _keep_segments(args)
    report = evaluate(args.store, selector, args.budgets, split=args.split, probs_dir=args.probs_dir,
                      expensive_gflops=args.expensive_gflops, recogniser=args.recogniser,
                      classes=_class_list(args.classes))
    print(format_table(report))
    results = report.to_dict()
    if args.ablation:
        table = ablation(args.store, args.budgets[0], default=load_checkpoint(args.selector), split=args.split,
                         probs_dir=args.probs_dir, expensive_gflops=args.expensive_gflops, progress=True)
        print(format_ablation(table))
        results["ablation"] = table.to_dict()
    if args.json:
        write_json(results, args.json)
        print(f"json: {args.json}")
    return 0


def _keep_segments(args) -> None:
    """``--segments FILE`` of evaluate and report: kept in the store, where later commands find them."""
    if args.segments is None:
        return
    from ..data.segments import load_segments
    from ..features.store import FeatureStore

    with FeatureStore.open(args.store) as store:
        found = store.set_segments(load_segments(args.segments, [r.path for r in store.records()]))
    print(f"segments: {found} videos of {args.store} annotated from {args.segments}", file=sys.stderr)


def cmd_report(args) -> int:
    from ..evaluation.report import build_report

    _output_file(args.out)
    _keep_segments(args)
    path = build_report(args.store, args.selector, args.out, args.budgets)
    print(f"report: {path}")
    return 0


def _positive(kind):
    """An argparse type: a number of ``kind`` greater than zero."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _budgets(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated frame counts such as 4,8,16, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"budgets must be >= 1, got {text!r}")
    return values


def cmd_probe(args) -> int:
    from ..io.video import VideoError, probe

    status = 0
    for path in args.videos:
        try:
            info = probe(path)
        except VideoError as e:
            _video_failed(args, e)
            status = 1
            continue
        if args.json:
            print(json.dumps(asdict(info)))
        else:
            print(f"{info.path}: {info.frame_count} frames, {info.fps:.3f} fps, {info.duration:.2f} s, "
                  f"{info.width}x{info.height}, {info.codec}" + (f", rotated {info.rotation}" if info.rotation else ""))
    return status


def cmd_verify(args) -> int:
    from ..features.store import FeatureStore

    with FeatureStore.open(args.store) as store:
        checked = store.count("done")
        bad = store.verify()
        for vid in bad:
            print(f"{store.feature_path(vid)}: {store.record(vid).error}")
    print(f"verify: {checked} finished videos checked, {len(bad)} corrupted or missing"
          + (f"; marked failed: `smartframes extract --retry-failed --store {args.store}` computes them again" if bad else ""))
    return 1 if bad else 0


def cmd_synth(args) -> int:
    from ..data.synth import SynthConfig, synthesize

    cfg = SynthConfig(classes=args.classes, per_class=args.per_class, frames=args.frames, size=args.size,
                      fps=args.fps, seed=args.seed, window_min=args.window[0], window_max=args.window[1],
                      distractor_rate=args.distractor_rate)
    result = synthesize(args.out, cfg, workers=args.workers, progress=not args.quiet)
    print(f"{result['videos']} videos, {result['bytes'] / 1e6:.1f} MB in {result['seconds']:.1f} s -> "
          f"{Path(args.out) / 'labels.csv'}")
    return 0


def _window(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX fractions such as 0.2,0.5, got {text!r}") from None
    return lo, hi


def cmd_bench(args) -> int:
    from dataclasses import replace

    from ..io.video import probe
    from .bench import BENCH_CANDIDATES, REAL_CLIP, BenchConfig, format_bench, run_bench

    if args.no_expensive:
        raise SmartframesError("bench times the expensive backbone too; leave out --no-expensive")
    video = args.video if args.video is not None else (str(REAL_CLIP) if REAL_CLIP.is_file() else None)
    if video is not None:
        probe(video)  # a bad file is refused before any timing
    cfg = BenchConfig(width=args.size[0], height=args.size[1], frames=args.frames, fps=args.fps, n=args.n,
                      video=video, repeats=args.repeats, batch_size=args.batch_size, device=args.device,
                      spec=replace(_spec_from_args(args), max_candidates=args.max_candidates or BENCH_CANDIDATES),
                      cold_start=not args.no_cold_start)
    _output_file(args.json)
    result = run_bench(cfg)
    print(format_bench(result))
    if args.json:
        write_atomically(args.json, json.dumps(result, indent=2))
        print(f"json: {args.json}")
    return 0


def _frame_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, got {text!r}") from None
    if w < 32 or h < 32 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even and at least 32, got {text!r}")
    return w, h


def cmd_demo(args) -> int:
    from .demo import run_demo

    result = run_demo(args.out, seed=args.seed, device=args.device, progress=not args.quiet)
    return 0 if result["extract"].store_done else 1


def build_parser() -> argparse.ArgumentParser:
    from ..features.extractor import BATCH_SIZE
    from ..features.runtime import RUNTIMES
    from ..io.decoder import DECODE_TIMEOUT

    parser = OneLineParser(
        prog="smartframes",
        description="SMART frame selection for action recognition: score every frame cheaply, "
        "classify only the best n with an expensive model.",
    )
    parser.add_argument("--version", action="version", version=f"smartframes {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show full tracebacks on errors")
    runtime_help = "what runs the backbones: auto (default: OpenVINO on a CPU, PyTorch on a GPU), openvino or torch"
    parser.add_argument("--runtime", choices=RUNTIMES, default=None, help=runtime_help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")
    common.add_argument("--runtime", choices=RUNTIMES, default=argparse.SUPPRESS, help=runtime_help)

    p = sub.add_parser("extract", parents=[common], help="compute per-frame features of a labelled dataset into a store",
                       description="Decode every video of DATASET, compute light (Lite0 + GloVe) and "
                       "expensive (Lite2) per-frame features, and store them. Re-running resumes.")
    _add_segments_arg(p, "kept in the store for evaluate and report (--format activitynet reads its own)")
    p.add_argument("dataset", nargs="?", help="folder with one sub-folder per class, or CSV with header "
                   "path,label[,split] (or use --format and --root)")
    p.add_argument("--store", required=True, help="store directory (created or resumed)")
    _add_dataset_args(p)
    p.add_argument("--device", choices=DEVICES, default=None, help="default: cuda when torch sees a GPU, else cpu")
    p.add_argument("--batch-size", type=_positive(int), default=BATCH_SIZE, help=f"frames per forward pass (default {BATCH_SIZE})")
    p.add_argument("--retry-failed", action="store_true", help="try again videos that failed before")
    p.add_argument("--allow-partial", action="store_true",
                   help=f"exit 0 when some videos failed (default: exit status {EXIT_SOME_FAILED}, the count on stderr)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_engine_args(p)
    _add_spec_args(p)
    from ..io.video import Limits

    lim = Limits()
    g = p.add_argument_group("limits (a video over one is recorded as failed, before it is decoded)")
    g.add_argument("--max-pixels", type=_positive(int), default=lim.max_pixels,
                   help=f"largest frame, width x height (default {lim.max_pixels}, 8K)")
    g.add_argument("--max-frames", type=_positive(int), default=lim.max_frames,
                   help=f"most frames per video (default {lim.max_frames})")
    g.add_argument("--max-duration", type=_positive(float), default=lim.max_duration,
                   help=f"longest video in seconds (default {lim.max_duration:g})")
    g.add_argument("--decode-timeout", type=_positive(float), default=DECODE_TIMEOUT,
                   help=f"seconds without decoding progress before a video is abandoned (default {DECODE_TIMEOUT:g})")
    p.set_defaults(func=cmd_extract)

    from ..data.synth import SynthConfig
    from ..selection.networks import SelectorConfig

    d = SynthConfig()
    p = sub.add_parser(
        "synth", parents=[common], help="generate the built-in benchmark (videos + labels.csv + ground truth)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write procedural action videos where the choice of frames matters: the class is "
        "visible only inside an action window; idle frames outside it look alike across classes; "
        "distractor frames (blur, noise, occlusion, black, flash, cut-away) fall anywhere. Static "
        "classes show one object; temporal pairs share an object and differ in the first or second "
        "half of the window. Difficulty knobs: --distractor-rate (more distractors = fewer useful "
        "frames) and --window (shorter windows = fewer useful frames).")
    p.add_argument("out", help="output directory")
    p.add_argument("--classes", type=int, default=d.classes, help=f"number of classes (default {d.classes}, at most 12)")
    p.add_argument("--per-class", type=int, default=d.per_class, help=f"videos per class (default {d.per_class}; split 50/10/40 train/val/test)")
    p.add_argument("--frames", type=int, default=d.frames, help=f"frames per video (default {d.frames})")
    p.add_argument("--size", type=int, default=d.size, help=f"frame width and height in pixels (default {d.size})")
    p.add_argument("--fps", type=float, default=d.fps, help=f"frame rate (default {d.fps:g})")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed; the same seed writes the same videos")
    p.add_argument("--window", type=_window, default=(d.window_min, d.window_max), metavar="MIN,MAX",
                   help=f"action window length as fractions of the video (default {d.window_min},{d.window_max})")
    p.add_argument("--distractor-rate", type=float, default=d.distractor_rate,
                   help=f"fraction of frames replaced by distractors (default {d.distractor_rate})")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_synth)

    from ..selection.train import ANNOTATIONS, TrainConfig

    t = TrainConfig()
    p = sub.add_parser("train", parents=[common], help="train the expensive head and the SMART selector on a store",
                       description="Train the expensive classifier head (with cross-fitted oracle targets), the "
                       "single-frame selector and the global selector on the store's train split; keep the "
                       "epoch with the best validation accuracy; write a checkpoint directory.")
    p.add_argument("--store", required=True, help="feature store made by `smartframes extract`")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--epochs", type=int, default=t.epochs, help=f"default {t.epochs}")
    p.add_argument("--batch-size", type=_positive(int), default=t.batch_size, help=f"videos per step (default {t.batch_size})")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default=t.optimizer,
                   help="adam (default) or sgd (the paper's: momentum 0.9, lr 1e-4, /10 every 25 epochs)")
    p.add_argument("--lr", type=float, default=None, help=f"learning rate (default {t.lr} for adam, 1e-4 for sgd)")
    p.add_argument("--val-budget", type=int, default=t.val_budget, help=f"n for picking the epoch (default {t.val_budget})")
    p.add_argument("--seed", type=int, default=t.seed)
    p.add_argument("--head-hidden", type=int, default=0,
                   help="expensive head: 0 for linear (default), else one hidden layer of this width")
    p.add_argument("--classes", default=None, metavar="FILE",
                   help="train on the videos of the classes named in FILE (one per line) only")
    p.add_argument("--oracle-dir", default=None,
                   help="oracle targets from your own model: DIR/<video name>.npy, per-frame class "
                   "probabilities (or logits) of shape (frames, classes), classes in sorted order")
    p.add_argument("--target", choices=("probability", "rank"), default=t.target,
                   help=f"what delta and gamma learn per frame: the oracle p(true class | frame), or its "
                   f"rank within the video (default {t.target})")
    p.add_argument("--annotations", choices=ANNOTATIONS, default=t.annotations,
                   help="where the store has temporal annotations (extract --segments): 'head' trains the expensive "
                   "head on the frames inside the action only, 'target' also ranks every frame inside the action above "
                   f"every frame outside in the selector's target, 'ignore' uses neither, 'auto' takes 'target' or "
                   f"'ignore', whichever head is right on more val videos (default {t.annotations})")
    p.add_argument("--pick", choices=("top", "segments"), default=SelectorConfig().pick,
                   help="scores -> n frames: the n best anywhere (default), or the best of each of n equal segments")
    p.add_argument("--sfs-only", action="store_true", help="ablation: score with delta alone")
    p.add_argument("--gs-only", action="store_true", help="ablation: score with gamma alone")
    p.add_argument("--no-pairs", action="store_true", help="ablation: single-frame input to the global selector")
    p.add_argument("--no-glove", action="store_true", help="ablation: visual features only")
    p.add_argument("--no-evidence", action="store_true",
                   help="ablation: score by delta and gamma alone, without the frame evidence of the classes")
    p.add_argument("--gamma-as-printed", action="store_true",
                   help="the global selector exactly as the paper prints it: Eq. 5 on the running sum omega_t and "
                   "trained by Eq. 7 alone (default: Eq. 5 on frame t, gamma also regressed onto the oracle)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("select", parents=[common], help="choose n frames of videos: with a trained selector, or a training-free method")
    _add_segments_arg(p, "with --sheet, frames inside the action are marked")
    p.add_argument("videos", nargs="*", help="video files (or use --dataset / --format)")
    p.add_argument("--dataset", default=None, help="instead of videos: a dataset folder or CSV, whose labels go "
                   "into the exports")
    _add_dataset_args(p)
    p.add_argument("--subset", choices=("train", "val", "test", "all"), default="all",
                   help="with a dataset: which of its splits to select in (default all)")
    from ..selection.export import EXPORT_FORMATS
    from ..selection.methods import DEFAULT_METHOD, SERVING_METHODS

    p.add_argument("--export", choices=EXPORT_FORMATS, default=None,
                   help="write the selections for another tool: json, csv, mmaction (the chosen frames as an "
                   "mmaction2 RawframeDataset), frames (JPEG files + manifest.jsonl) or vlm (the frames with their timing "
                   "metadata for video-language models: vlm.jsonl); needs --out")
    p.add_argument("--out", default=None, help="with --export: the file (json, csv) or folder (mmaction, frames) to write")
    _add_engine_args(p)
    p.add_argument("--selector", default=None, help="checkpoint directory from `smartframes train` (without it: "
                   "a training-free method, frames only, no class)")
    p.add_argument("--method", choices=SERVING_METHODS, default=None,
                   help=f"how to choose (default: smart with --selector, else {DEFAULT_METHOD})")
    p.add_argument("-n", type=_positive(int), default=8, help="frames to select (default 8)")
    p.add_argument("--json", action="store_true", help="one JSON object per video")
    p.add_argument("--sheet", default=None, help="write a contact sheet PNG of the selected frames")
    p.add_argument("--device", choices=DEVICES, default=None, help="default: cuda when torch sees a GPU, else cpu")
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("evaluate", parents=[common], help="compare SMART with the training-free methods, "
                       "uniform/random/all-frames and the oracle",
                       description="Score the store's test split with every method at every budget: accuracy, "
                       "GFLOPs and milliseconds per video, selection precision where ground truth exists.")
    _add_segments_arg(p, "kept in the store; precision and recall of every selection are scored against them")
    p.add_argument("--store", required=True)
    p.add_argument("--selector", default=None, help="checkpoint directory: its selector scores the frames (and its "
                   "head classifies them unless --recogniser is given); default with --recogniser: the generic "
                   "selector shipped in the package")
    p.add_argument("--recogniser", default=None, metavar="CKPT",
                   help="checkpoint trained on this store whose head classifies the chosen frames: evaluates a "
                   "selector trained elsewhere (other classes, other data) against this store's own recogniser")
    p.add_argument("--classes", default=None, metavar="FILE",
                   help="evaluate the videos of the classes named in FILE (one per line) only")
    p.add_argument("--budgets", type=_budgets, default=(4, 8, 16), help="frame budgets n (default 4,8,16)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--json", default=None, help="write the results as JSON")
    p.add_argument("--probs-dir", default=None, metavar="DIR",
                   help="score with your own expensive model: DIR/<video name>.npy of per-frame class probabilities "
                   "or logits, shape (frames, classes), classes in sorted order")
    p.add_argument("--expensive-gflops", type=_positive(float), default=None, metavar="G",
                   help="with --probs-dir: your model's GFLOPs per frame, for the cost columns")
    p.add_argument("--ablation", action="store_true",
                   help="also train and evaluate the paper's Table 1 variants (VF, VF+GloVe, SFS only, GS only, "
                   "SFS+GS, 2-frame input) at the first budget; about half a minute per variant on the demo")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("report", parents=[common], help="write one self-contained HTML report (table, figures, frame strips)")
    _add_segments_arg(p, "kept in the store; drawn under the frame strips")
    p.add_argument("--store", required=True)
    p.add_argument("--selector", required=True, help="checkpoint directory")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--budgets", type=_budgets, default=(1, 2, 4, 8), help="frame budgets n (default 1,2,4,8)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("probe", parents=[common], help="print frame count, fps, duration and size of videos")
    p.add_argument("videos", nargs="+")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("verify", parents=[common], help="check every stored feature file against its checksum",
                       description="Read every finished video's feature file and compare it with the checksum "
                       "recorded when it was written; a corrupted or missing one is reported and marked failed, "
                       "so that `extract --retry-failed` computes it again. Exit status 1 when any was found.")
    p.add_argument("--store", required=True, help="store directory")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("bench", parents=[common], help="time each stage and one video end to end, every method",
                       description="On a generated clip and a real one: decode frames/s, the candidate pass, light "
                       "features frames/s, the expensive classifier on n frames, selector ms on 300 candidates, "
                       "model load, seconds per video for all frames, uniform-n, SMART-n and each training-free "
                       "method, with the ratios, and the cold start of `select`. 64 candidates a video unless "
                       "--max-candidates says otherwise.")
    p.add_argument("--device", choices=DEVICES, default=None, help="default: cuda when torch sees a GPU, else cpu")
    p.add_argument("--size", type=_frame_size, default=(320, 240), metavar="WxH", help="clip size (default 320x240)")
    p.add_argument("--frames", type=_positive(int), default=175, help="clip length (default 175: 7 s at 25 fps)")
    p.add_argument("--fps", type=_positive(float), default=25.0)
    p.add_argument("-n", type=_positive(int), default=8, help="frames for uniform and SMART (default 8)")
    p.add_argument("--video", default=None,
                   help="a real clip to time as well (default: a 7 s UCF101 clip of ../shared/data/ucf101-9 when "
                   "the checkout has one beside it)")
    p.add_argument("--repeats", type=_positive(int), default=5, help="timed runs per figure (default 5)")
    p.add_argument("--batch-size", type=_positive(int), default=BATCH_SIZE, help=f"frames per forward pass (default {BATCH_SIZE})")
    p.add_argument("--no-cold-start", action="store_true", help="skip timing `smartframes select` in fresh processes")
    p.add_argument("--json", default=None, help="also write every figure as JSON")
    _add_spec_args(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("demo", parents=[common], help="run the main job end to end on the built-in benchmark")
    p.add_argument("--out", default="smartframes-demo", help="output directory (default smartframes-demo)")
    p.add_argument("--seed", type=int, default=0, help="benchmark seed (default 0)")
    p.add_argument("--device", choices=DEVICES, default=None, help="default: cuda when torch sees a GPU, else cpu")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from ..features.runtime import RUNTIME_ENV

    before = os.environ.get(RUNTIME_ENV)
    if args.runtime is not None:  # in the environment, so that worker processes (Ray's too) follow it
        os.environ[RUNTIME_ENV] = args.runtime
    try:
        return args.func(args)
    except KeyboardInterrupt:
        resumable = args.command in ("extract", "demo")
        print("smartframes: interrupted" + ("; run the same command again to resume" if resumable else ""),
              file=sys.stderr)
        return 130
    except Exception as e:
        if args.verbose:
            raise
        if isinstance(e, SmartframesError):
            message, status = f"error: {e}", 2
        elif isinstance(e, OSError) and e.errno in DISK_ERRNOS and e.filename:
            message, status = f"error: {disk_error(e.filename, e)}", 2
        elif isinstance(e, OSError):  # a file the command had to write or read outside the checks
            where = f"{e.filename}: " if e.filename else ""
            message, status = f"error: {where}{e.strerror or e}", 2
        else:
            message, status = f"internal error: {type(e).__name__}: {e} (run with --verbose for the traceback)", 3
        print(f"smartframes: {_one_line(message)}", file=sys.stderr)
        return status
    finally:
        if before is None:
            os.environ.pop(RUNTIME_ENV, None)
        else:
            os.environ[RUNTIME_ENV] = before


if __name__ == "__main__":
    sys.exit(main())
