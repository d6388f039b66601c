"""``motioneval demo``: evaluate the demo generators on the bundled procedural dataset (no downloads)."""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="evaluate demo generators on the bundled procedural dataset with the shipped demo evaluator",
        description="Build (or reuse) the procedural demo dataset, load the demo evaluator shipped with "
                    "motioneval, evaluate five demo generators (ground-truth resampling, noisy, jittery, "
                    "mode-collapsed, caption-ignoring) under a preset with fewer replications, print one "
                    "table and write results.{json,md,csv,tex} to --out. Exits with status 3 when the table does "
                    "not rank the generators as it should (ground truth best FID and R-precision, caption-ignoring "
                    "worst R-precision, mode-collapsed lowest diversity). With --dataset-only it only builds the dataset and "
                    "prints its path; with --export-samples DIR it writes one demo generator's samples in the three "
                    "input kinds that evaluate --samples reads, instead of the table (docs/evaluate-your-model.md); "
                    "--print-evaluator prints the shipped evaluator's folder.",
    )
    p.add_argument("--out", default=None,
                   help="output folder (required unless --print-evaluator): results, the demo dataset (unless "
                        "--dataset) and, with --cache, the cache")
    p.add_argument("--replications", type=int, default=None,
                   help="replications (default 3; the papers use 20)")
    p.add_argument("--preset", default="t2m", help="protocol preset: t2m (default), mdm, momask or t2m-gpt")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override another preset setting (repeatable), e.g. --set mm_repeats=20")
    p.add_argument("--seed", type=int, default=0, help="seed of the whole run (default 0)")
    p.add_argument("--dataset", default=None, help="where to build/reuse the demo dataset (default: OUT/dataset)")
    p.add_argument("--evaluator", default=None,
                   help="evaluator folder (default: the demo evaluator shipped in motioneval/assets/demo)")
    p.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--cache", action="store_true",
                   help="keep the evaluation cache in OUT/cache (about 2 GB; a rerun or an interrupted run resumes "
                        "from it)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: the demo networks are tiny and run fastest on one thread)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--print-evaluator", action="store_true",
                   help="print the folder of the demo evaluator shipped with motioneval (for --evaluator) and exit")
    p.add_argument("--dataset-only", action="store_true",
                   help="only build (or reuse) the demo dataset and print its path; evaluate nothing")
    p.add_argument("--export-samples", metavar="DIR", default=None,
                   help="instead of the table: write one demo generator's samples for the test split in the three "
                        "input kinds evaluate reads: DIR/samples.npz (sample file), DIR/samples/ (sample folder) "
                        "and DIR/results.npy (MDM's pickled dict)")
    p.add_argument("--export-generator", default="jittery", metavar="NAME",
                   help="demo generator to export (default jittery: joint positions, identical in all three files; "
                        "noisy writes dataset-normalized features; also 'ground-truth resampling', "
                        "mode-collapsed, caption-ignoring)")
    p.add_argument("--export-repetitions", type=int, default=1, metavar="R",
                   help="generations per caption to export (default 1; MultiModality needs more than mm_pairs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo.run import demo_evaluator_dir, demo_settings, run_demo
    from ._errors import check_device
    from .presets import parse_override

    check_device(args.device)
    if args.replications is not None and args.replications < 1:
        raise ValueError(f"--replications must be >= 1; got {args.replications}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1; got {args.threads}")
    if args.print_evaluator:
        print(demo_evaluator_dir())
        return 0
    if args.out is None:
        raise ValueError("--out is required: the folder for the results and the demo dataset")
    if args.dataset_only or args.export_samples:
        return _dataset_or_export(args)
    overrides = dict(parse_override(o) for o in args.overrides)
    settings = demo_settings(args.preset, args.replications, overrides)
    print(f"motioneval demo: preset {args.preset} with {_describe(settings)}; writing to {args.out}",
          file=sys.stderr)
    demo = run_demo(args.out, replications=args.replications, preset=args.preset, seed=args.seed,
                    dataset_dir=args.dataset, evaluator_dir=args.evaluator, device=args.device,
                    progress=not args.no_progress, overrides=overrides, threads=args.threads,
                    cache=args.cache)
    print(demo.result.to_markdown())
    print()
    for check, ok in demo.checks.items():
        print(f"{'ok  ' if ok else 'FAIL'}  {check}")
    print()
    for kind, path in demo.files.items():
        print(f"{kind:9s} {path}")
    print(f"done in {demo.seconds:.0f} s")
    return 0 if all(demo.checks.values()) else 3


def _dataset_or_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..demo import dataset

    if args.export_repetitions < 1:
        raise ValueError(f"--export-repetitions must be >= 1; got {args.export_repetitions}")
    root = Path(args.dataset) if args.dataset is not None else Path(args.out) / "dataset"
    dataset.build_demo_dataset(root, progress=not args.no_progress)
    if args.dataset_only and not args.export_samples:
        print(root)
        return 0
    from ..demo.export import describe_export, export_samples

    print(f"motioneval demo: exporting {args.export_generator!r} samples for the test split of {root} "
          f"({args.export_repetitions} repetition(s), seed {args.seed}) to {args.export_samples}", file=sys.stderr)
    files = export_samples(args.export_samples, root, generator=args.export_generator,
                           repetitions=args.export_repetitions, seed=args.seed)
    print(f"dataset      {root}")
    print(describe_export(files))
    return 0


def _describe(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())
