"""What the subcommands of ``smartframes`` share: the parser and its help layout, the argument groups
and argument types several commands declare, the checks of outputs before any work, and the report
of one failed video among several."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from ..data.formats import FORMATS, load_source, read_class_names
from ..errors import SmartframesError
from ..spec import BATCH_SIZE, PRECISIONS, FeatureSpec

DEVICES = ("cpu", "cuda")
EXIT_SOME_FAILED = 4  # extract: the store holds videos that failed (0 with --allow-partial)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (and exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


class ExamplesHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help whose one-paragraph description is wrapped to the terminal as argparse wraps it, and
    whose text with line breaks (the examples epilog) is printed as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


def add_command(subparsers, common: argparse.ArgumentParser, name: str, examples: list[str],
                **kwargs) -> argparse.ArgumentParser:
    """Declare subcommand ``name``, which takes the ``common`` options and whose ``--help`` ends with
    ``examples``, command lines that work; ``kwargs`` go to ``add_parser`` (help, description)."""
    kwargs.setdefault("formatter_class", ExamplesHelpFormatter)
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    return subparsers.add_parser(name, parents=[common], epilog=epilog, **kwargs)


def one_line(text) -> str:
    """``text`` with every run of whitespace, line breaks included, made one space."""
    return " ".join(str(text).split())


def video_failed(args, error: Exception) -> None:
    """One video of several could not be read: say so in one line (with --verbose, the traceback)
    and go on with the others."""
    if args.verbose:
        traceback.print_exception(error)
    print(f"smartframes: error: {one_line(error)}", file=sys.stderr)


def positive(kind):
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


def budgets(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated frame budgets, each at least 1 (``4,8,16``)."""
    try:
        values = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated frame counts such as 4,8,16, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"budgets must be >= 1, got {text!r}")
    return values


def add_device_arg(p: argparse.ArgumentParser) -> None:
    """``--device``: cpu or cuda, by default whichever torch sees."""
    p.add_argument("--device", choices=DEVICES, default=None, help="default: cuda when torch sees a GPU, else cpu")


def add_batch_size_arg(p: argparse.ArgumentParser) -> None:
    """``--batch-size``: frames per forward pass of the backbones."""
    p.add_argument("--batch-size", type=positive(int), default=BATCH_SIZE, help=f"frames per forward pass (default {BATCH_SIZE})")


def add_spec_args(p: argparse.ArgumentParser) -> None:
    """The feature spec's options (resolutions, precisions, candidate frames), read back by
    :func:`spec_from_args`."""
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


def spec_from_args(args) -> FeatureSpec:
    """The feature spec that the options of :func:`add_spec_args` name."""
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


def add_dataset_args(p: argparse.ArgumentParser) -> None:
    """Where the videos come from: a folder or CSV (the positional argument), or an official layout."""
    g = p.add_argument_group("dataset in its official layout (instead of a folder or CSV)")
    g.add_argument("--format", choices=sorted(FORMATS), default=None, help="the dataset's layout")
    g.add_argument("--root", default=None, help="with --format: the dataset folder")
    g.add_argument("--split", type=int, default=1, dest="official_split", metavar="K",
                   help="with --format: the official split number for UCF101 and HMDB51 (default 1)")
    g.add_argument("--classes", default=None, metavar="FILE",
                   help="keep only the classes named in FILE, one per line (e.g. a 32-class Kinetics subset)")


def dataset_from_args(args, positional):
    """The dataset the arguments name (a folder or CSV, or ``--format`` with ``--root``); says
    which listed videos are missing on disk."""
    result = load_source(positional, format=args.format, root=args.root, split=args.official_split,
                         classes_file=args.classes)
    if result.missing:
        shown = ", ".join(result.missing[:3]) + (", ..." if len(result.missing) > 3 else "")
        print(f"{args.format}: {len(result.missing)} listed videos are not on disk, left out ({shown})", file=sys.stderr)
    return result


def class_list(path) -> list[str] | None:
    """The class names in the file at ``path``, one per line; None for no file."""
    return None if path is None else read_class_names(path)


def add_segments_arg(p: argparse.ArgumentParser, what: str) -> None:
    """``--segments FILE``, the temporal annotations; ``what`` says what the command does with them."""
    p.add_argument("--segments", default=None, metavar="FILE",
                   help=f"where the action happens: ActivityNet v1.3 JSON, THUMOS14 text files (a folder or one file) or a "
                        f"CSV path,start,end[,label] in seconds; {what}")


def keep_segments(args) -> None:
    """``--segments FILE`` of evaluate and report: kept in the store, where later commands find them."""
    if args.segments is None:
        return
    from ..data.segments import load_segments
    from ..features.store import FeatureStore

    with FeatureStore.open(args.store) as store:
        found = store.set_segments(load_segments(args.segments, [r.path for r in store.records()]))
    print(f"segments: {found} videos of {args.store} annotated from {args.segments}", file=sys.stderr)


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """The scale-out options: which engine does the per-video work, and on which Ray cluster."""
    g = p.add_argument_group("scale-out")
    g.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default) or ray: Ray actors do the per-video work (pip install 'smartframes[ray]')")
    g.add_argument("--address", default=None, help="with --engine ray: the cluster (default: a local Ray instance)")
    g.add_argument("--actors", type=positive(int), default=None,
                   help="with --engine ray: model copies (default: the cluster's CPUs / 2, or its GPUs)")


def output_file(path) -> None:
    """Refuse, before any work, a file output that could not be written; create its folder."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise SmartframesError(f"{path}: is a folder; give a file name")
    _creatable_folder(path.parent)


def output_folder(path) -> None:
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
