"""``motioneval evaluate``: run the protocol under a preset and print the table (see ``motioneval.evaluate``)."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate generated motions under a protocol preset (R-precision, FID, MM Dist, Diversity, MModality)",
        description="Run the HumanML3D / KIT-ML evaluation protocol under a named preset, with caching and resume: "
                    "rerunning the same command after an interruption continues where it stopped. Writes "
                    "results.json/.md/.csv/.tex to --out and prints the table.",
    )
    p.add_argument("--dataset", required=True, metavar="DIR", help="HumanML3D/KIT-ML dataset folder")
    p.add_argument("--evaluator", required=True, metavar="DIR",
                   help="evaluator folder (t2m/text_mot_match/model/finest.tar, glove/, evaluator statistics)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--samples", metavar="PATH",
                     help="generated samples: a motioneval .npz sample file, a sample folder, or MDM results.npy")
    src.add_argument("--generator", metavar="MODULE:CALLABLE",
                     help="a Python generator: 'package.module:name' or 'path/to/file.py:name', naming a generator "
                          "object or a function/class that returns one when called without arguments")
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow reading MDM's pickled results.npy (unpickling runs code from the file: trusted files only)")
    p.add_argument("--allow-outside-files", action="store_true",
                   help="let a sample folder's manifest name files outside the folder (absolute paths, '..', "
                        "symbolic links out); refused by default")
    p.add_argument("--preset", default="t2m",
                   help="t2m, mdm, mdm-2023, momask or t2m-gpt (see `motioneval presets`)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset setting (repeatable), e.g. --set replications=5; the result says 'custom'")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the results (and the cache)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--split", default="test", help="split list of the dataset folder (default test)")
    p.add_argument("--device", default=None, help="evaluator device: cpu or cuda (default: cuda when available)")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="cache of generated samples and embeddings (default <out>/cache); share it between runs to "
                        "reuse the ground-truth embeddings")
    p.add_argument("--no-cache", action="store_true", help="keep nothing on disk but the results (no resume)")
    p.add_argument("--chunk-size", type=int, default=128, help="rows per unit of work (part of cache keys and seeds)")
    p.add_argument("--name", help="name of the model row in the table (default: the generator's name)")
    p.add_argument("--skip-bad-items", action="store_true",
                   help="skip dataset items with errors (e.g. NaN clips) instead of stopping")
    p.add_argument("--report", action="store_true", help="also write an HTML/Markdown report with plots")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--distributed", action="store_true",
                   help="shard the work over the ranks of a torchrun job; rank 0 scores and writes the results "
                        "(docs/distributed.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    if args.distributed:
        return run_distributed_cli(args)
    evaluation = build_evaluation(args)
    try:
        result = evaluation.score()
    except Exception as exc:
        where = _generator_frame(args, evaluation, exc)
        if where is None:
            raise
        raise GeneratorError(f"--generator {args.generator}: {type(exc).__name__} raised by the generator's code at "
                             f"{where[0]}:{where[1]}: {exc}; fix the generator (--debug shows the traceback)"
                             + ("; finished units are kept in the cache" if evaluation.cache.enabled else "")) from exc
    write_outputs(args, evaluation, result)
    return 0


def run_distributed_cli(args: argparse.Namespace) -> int:
    """Run ``motioneval evaluate`` options on every rank of the job; returns the exit status."""
    from ..protocol.distributed import init_distributed, run_distributed, warnings_on_main_only

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


def _generator_frame(args: argparse.Namespace, evaluation: Any, exc: BaseException) -> tuple[str, int] | None:
    """Where in the user's generator code ``exc`` was raised (``None``: not in the generator)."""
    if not getattr(args, "generator", None):
        return None
    module = sys.modules.get(type(evaluation.source).__module__)
    path = getattr(module, "__file__", None)
    if not path or Path(path).resolve().is_relative_to(Path(__file__).resolve().parents[1]):
        return None  # the generator lives in motioneval itself: not the user's code
    return _raised_by(exc, {path, str(Path(path).resolve())})


def check_arguments(args: argparse.Namespace) -> None:
    """Checks that need no data, run before any long work: the device exists, --out and --cache-dir are
    (or can be made) writable folders, --chunk-size is positive."""
    from ._errors import check_device, check_output_folder

    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size {args.chunk_size}: must be a positive number of rows")
    check_device(args.device)
    check_output_folder(args.out, "--out")
    if args.cache_dir and not args.no_cache:
        check_output_folder(args.cache_dir, "--cache-dir")


def build_evaluation(args: argparse.Namespace, *, device: str | None = None) -> Any:
    """The :class:`~motioneval.protocol.evaluate.Evaluation` that the ``evaluate`` options describe."""
    from ..protocol.evaluate import Evaluation
    from .presets import parse_override

    overrides = dict(parse_override(text) for text in args.overrides)
    if args.no_cache:
        cache_dir = None
    else:
        cache_dir = Path(args.cache_dir) if args.cache_dir else Path(args.out) / "cache"
    generator = load_generator(args.generator) if args.generator else None
    samples: Any = args.samples
    if samples is not None and getattr(args, "allow_outside_files", False) and Path(samples).is_dir():
        from ..data.samples import read_sample_folder
        from ..protocol.generators import SampleSetGenerator

        samples = SampleSetGenerator(read_sample_folder(samples, allow_outside=True), name=Path(samples).name,
                                     source=str(samples))
    return Evaluation(
        dataset=args.dataset, evaluator=args.evaluator, samples=samples, generator=generator,
        preset=args.preset, seed=args.seed, split=args.split, cache_dir=cache_dir, chunk_size=args.chunk_size,
        allow_pickle=args.allow_pickle, device=device if device is not None else args.device,
        progress=not args.no_progress, name=args.name,
        on_dataset_problem="skip" if args.skip_bad_items else "raise", overrides=overrides)


def write_outputs(args: argparse.Namespace, evaluation: Any, result: Any, *, note: str = "") -> None:
    """Print the table, then save the result files (and the report with ``--report``) under ``--out``.

    The table comes first and each file is written on its own, so that a full disk or a read-only folder
    loses nothing already computed; a failed write is reported (by file and cause) after the others."""
    from ._errors import os_reason

    out = Path(args.out)
    print(result.to_markdown())
    for message in result.warnings:  # cache problems were logged (by path) when they were found
        print(f"warning: {message}", file=sys.stderr)
    if note:
        print(f"\n{note}")
    sys.stdout.flush()
    written, failed = write_result_files(result, out)
    if written:
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    if args.report:
        try:
            from ..viz.report import write_report
        except ImportError as exc:
            failed.append(f"the report (--report needs motioneval.viz.report with the 'viz' extra: "
                          f"pip install 'motioneval[viz]'): {exc}")
        else:
            try:
                samples, reference = evaluation.report_samples()
                report = write_report(result, out, samples, reference=reference)
                print(f"report: {', '.join(str(p) for k, p in report.items() if k in ('html', 'markdown'))}")
            except (OSError, MemoryError) as exc:
                failed.append(f"the report in {out} ({os_reason(exc)})")
    if failed:
        raise ResultWriteError(f"could not write {'; '.join(failed)}. The table above holds the numbers, and the "
                               f"cache keeps the embeddings: after fixing this, rerunning only rescores")


class GeneratorError(RuntimeError):
    """The user's generator (its module, factory or ``generate``) raised; the message names it."""


def _raised_by(exc: BaseException, files: set[str]) -> tuple[str, int] | None:
    """The innermost traceback frame of ``exc`` in one of ``files`` (the generator's code), if any."""
    import traceback

    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in files:
            found = (frame.filename, frame.lineno or 0)
    return found


class ResultWriteError(RuntimeError):
    """Some result files could not be written (the others were)."""


def write_result_files(result: Any, out: Path) -> tuple[list[Path], list[str]]:
    """Write results.json/.md/.csv/.tex each on its own (atomically); returns (written paths, failures)."""
    import json

    from .._io import atomic_write_json, atomic_write_text
    from ..protocol.results import FILES
    from ._errors import os_reason

    writers = {"json": lambda p: atomic_write_json(p, json.loads(result.to_json())),
               "markdown": lambda p: atomic_write_text(p, result.to_markdown() + "\n"),
               "csv": lambda p: atomic_write_text(p, result.to_csv()),
               "latex": lambda p: atomic_write_text(p, result.to_latex() + "\n")}
    written: list[Path] = []
    failed: list[str] = []
    for fmt, write in writers.items():
        path = out / FILES[fmt]
        try:
            written.append(write(path))
        except (OSError, MemoryError) as exc:
            failed.append(f"{path} ({os_reason(exc)})")
    return written, failed


def load_generator(spec: str) -> Any:
    """Resolve ``module:name`` or ``file.py:name`` to a generator (calling ``name()`` if it is a factory)."""
    if ":" not in spec:
        raise ValueError(f"--generator {spec!r} must look like 'package.module:name' or 'path/to/file.py:name'")
    module_part, _, attr = spec.rpartition(":")
    try:
        if module_part.endswith(".py"):
            path = Path(module_part)
            if not path.is_file():
                raise FileNotFoundError(f"--generator: file {path} not found")
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"--generator: cannot import {path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_spec.name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_part)
    except (FileNotFoundError, ImportError) as exc:
        if str(exc).startswith("--generator"):
            raise
        raise ImportError(f"--generator {spec}: cannot import {module_part}: {exc}") from exc
    except Exception as exc:  # the user's module failed while being imported
        raise GeneratorError(f"--generator {spec}: importing {module_part} failed: {type(exc).__name__}: {exc}; "
                             f"fix the module (--debug shows the traceback)") from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"--generator: {module_part} has no attribute {attr!r}") from None
    if isinstance(obj, type) or not callable(getattr(obj, "generate", None)):
        if not callable(obj):
            raise ValueError(f"--generator: {spec} is neither a generator (with .generate) nor a factory")
        try:
            obj = obj()
        except Exception as exc:
            raise GeneratorError(f"--generator {spec}: calling {attr}() failed: {type(exc).__name__}: {exc} "
                                 f"(--debug shows the traceback)") from exc
    if not callable(getattr(obj, "generate", None)):
        raise ValueError(f"--generator: {spec}() returned {type(obj).__name__}, which has no generate(captions, "
                         f"lengths, seed) method")
    return obj
