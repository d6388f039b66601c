"""Entry point of the ``motioneval`` command.

Each subcommand lives in its own module ``motioneval.cli.<name>`` exposing
``register(subparsers) -> None``; the parser it adds sets ``func(args) -> int`` as its default.
Commands import heavy dependencies (torch, matplotlib) inside ``func`` so ``motioneval --help`` is fast.
Errors follow one style (:mod:`motioneval.cli._errors`): one or two lines, non-zero exit, ``--debug``
(anywhere on the command line) for the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
import warnings

from .. import __version__

# Subcommand modules, in the order ``--help`` lists them.
COMMANDS = [
    "evaluate",
    "presets",
    "fid",
    "doctor",
    "render",
    "check_dataset",
    "convert",
    "train_evaluator",
    "demo",
    "physics",
    "compare",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motioneval",
        description="Evaluate text-to-motion models (HumanML3D / KIT-ML protocol) exactly and robustly.",
    )
    parser.add_argument("--version", action="version", version=f"motioneval {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (may also follow the subcommand)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"{__package__}.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ._errors import format_error, silence_stdout

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = debug or args.verbose >= 2
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    warnings.filterwarnings("ignore", category=ResourceWarning)  # numpy leaks a handle on corrupt .npz: noise
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's last flush
        return status
    except KeyboardInterrupt:
        print("interrupted; finished work is kept in the cache and a rerun resumes from it", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `motioneval presets --json | head`: the reader left; nothing to report
        silence_stdout()
        return 141
    except Exception as exc:  # every failure gets the one error style
        if debug:
            raise
        print(format_error(args.command, exc), file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
