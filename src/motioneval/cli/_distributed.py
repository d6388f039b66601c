"""Command-line glue of the distributed evaluation: ``motioneval evaluate --distributed`` under ``torchrun``.

It lives in ``cli/`` (the library's ``protocol/distributed.py`` knows nothing of the command line); ``python -m
motioneval.protocol.distributed`` still works: that module's ``__main__`` block hands over to :func:`main`.

:func:`motioneval.cli.evaluate.run_distributed_cli` runs the parsed options of ``motioneval evaluate`` with
:func:`motioneval.protocol.distributed.run_distributed`; rank 0 writes and prints the results, other ranks print
nothing. :func:`main` is that command as a module, for ``torchrun -m
motioneval.cli._distributed <motioneval evaluate options>`` (or the older ``-m motioneval.protocol.distributed``).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from . import evaluate as cli_evaluate

PROG = "python -m motioneval.protocol.distributed"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The options of ``motioneval evaluate`` (``--distributed`` accepted and implied)."""
    parser = argparse.ArgumentParser(prog=prog, description="motioneval evaluate, sharded over the ranks of a "
                                     "torchrun job (see docs/distributed.md)")
    sub = parser.add_subparsers(dest="command")
    cli_evaluate.register(sub)
    evaluate_parser = sub.choices["evaluate"]
    evaluate_parser.prog = prog
    try:
        evaluate_parser.add_argument("--distributed", action="store_true", help="shard over the torchrun ranks")
    except argparse.ArgumentError:  # `motioneval evaluate` has the flag already
        pass
    evaluate_parser.set_defaults(func=cli_evaluate.run_distributed_cli, distributed=True)
    return parser


def main(argv: list[str] | None = None, *, prog: str = PROG) -> int:
    """``python -m motioneval.protocol.distributed [motioneval evaluate options]`` (``prog``: the name in messages)."""
    args = build_parser(prog).parse_args(["evaluate", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    try:
        return cli_evaluate.run_distributed_cli(args)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as exc:
        print(f"{prog} (rank {os.environ.get('RANK', '0')}): error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # python -m motioneval.cli._distributed <motioneval evaluate options>
    sys.exit(main(prog="python -m motioneval.cli._distributed"))
