"""Command-line glue of the distributed evaluation: ``motioneval evaluate --distributed`` under ``torchrun``.

:func:`run_cli` takes the parsed options of ``motioneval evaluate`` (:func:`motioneval.cli.evaluate.register`)
and runs them with :func:`motioneval.protocol.distributed.run_distributed`; rank 0 writes and prints the
results, other ranks print nothing. :func:`main` is the same command as a module, for ``torchrun -m
motioneval.protocol.distributed <motioneval evaluate options>``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

PROG = "python -m motioneval.protocol.distributed"


def run_cli(args: argparse.Namespace) -> int:
    """Run ``motioneval evaluate`` options on every rank of the job; returns the exit status."""
    from ..cli.evaluate import build_evaluation, write_outputs
    from .distributed import init_distributed, run_distributed, warnings_on_main_only

    with init_distributed() as ctx:
        with warnings_on_main_only(ctx):
            evaluation = build_evaluation(args, device=ctx.evaluator_device(args.device))
        result = run_distributed(evaluation, ctx)
    if result is None:  # not rank 0
        return 0
    info = result.settings["distributed"]
    write_outputs(args, evaluation, result,
                  note=f"{info['world_size']} rank(s): {info['units']} units, {info['units_finished_before']} "
                       f"finished before, computed per rank {info['units_per_rank']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The options of ``motioneval evaluate`` (``--distributed`` accepted and implied)."""
    from ..cli import evaluate as cli_evaluate

    parser = argparse.ArgumentParser(prog=PROG, description="motioneval evaluate, sharded over the ranks of a "
                                     "torchrun job (see docs/distributed.md)")
    sub = parser.add_subparsers(dest="command")
    cli_evaluate.register(sub)
    evaluate_parser = sub.choices["evaluate"]
    evaluate_parser.prog = PROG
    try:
        evaluate_parser.add_argument("--distributed", action="store_true", help="shard over the torchrun ranks")
    except argparse.ArgumentError:  # `motioneval evaluate` has the flag already
        pass
    evaluate_parser.set_defaults(func=run_cli, distributed=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m motioneval.protocol.distributed [motioneval evaluate options]``."""
    args = build_parser().parse_args(["evaluate", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    try:
        return run_cli(args)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as exc:
        print(f"{PROG} (rank {os.environ.get('RANK', '0')}): error: {exc}", file=sys.stderr)
        return 1
