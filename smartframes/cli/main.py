"""The ``smartframes`` command: parses arguments and calls the Python API, nothing more. Each
subcommand declares its options and does its work in a module of its own."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import SmartframesError
from ..io.files import DISK_ERRNOS, disk_error
from ..spec import RUNTIME_ENV, RUNTIMES
from ..version import __version__
from . import bench, demo, evaluate, extract, probe, report, select, synth, train, verify
from .args import OneLineParser, one_line

SUBCOMMANDS = (extract, synth, train, select, evaluate, report, probe, verify, bench, demo)
"""The modules of the subcommands, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the global options and every subcommand's."""
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
    for command in SUBCOMMANDS:
        command.add_parser(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: the process's); returns the exit status: 0, 1 or 4 as
    the subcommand says, 2 for an error of the user's, 3 for an internal one, 130 when interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
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
        print(f"smartframes: {one_line(message)}", file=sys.stderr)
        return status
    finally:
        if before is None:
            os.environ.pop(RUNTIME_ENV, None)
        else:
            os.environ[RUNTIME_ENV] = before


if __name__ == "__main__":
    sys.exit(main())
