"""``motioneval convert IN OUT``: MDM results.npy, a per-sample folder or a sample file -> our ``.npz`` format."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert generated samples (MDM results.npy, per-sample folder) to motioneval's sample format",
        description="Read generated samples and write them as one pickle-free motioneval sample file (.npz, "
                    "format motioneval.samples/1; see docs/formats.md). Inputs: MDM's results.npy "
                    "(needs --allow-pickle), a folder of <id>.npy files with manifest.json or manifest.csv, "
                    "or an existing .npz sample file.",
    )
    p.add_argument("input", help="results.npy, a sample folder, or a .npz sample file")
    p.add_argument("output", help="output .npz path (written atomically)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow reading MDM's results.npy, a pickle: unpickling executes code from the file, "
                        "so use this only for files you generated or trust")
    p.add_argument("--normalization", choices=["raw", "dataset", "evaluator"], default=None,
                   help="normalization of the features in a sample folder (overrides its manifest)")
    p.add_argument("--kind", choices=["features", "joints"], default=None,
                   help="what a sample folder holds (default: from the array shapes)")
    p.add_argument("--to-features", action="store_true",
                   help="convert joint positions to raw HumanML3D/KIT features (L frames -> L-1 rows)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--allow-outside-files", action="store_true",
                   help="let a sample folder's manifest name files outside the folder (refused by default)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.samples import load_samples
    from ._output import Output

    out = Path(args.output)
    if out.suffix != ".npz":
        raise ValueError(f"output must be a .npz file; got {out}")
    if out.is_dir():
        raise IsADirectoryError(f"output {out} is a folder; give the path of a .npz file to write")
    if out.exists() and not args.overwrite:
        print(f"motioneval convert: error: {out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    with Output("convert", progress=not args.no_progress) as output:
        with output.phase(f"reading {args.input}"):
            samples = load_samples(args.input, allow_pickle=args.allow_pickle, normalization=args.normalization,
                                   kind=args.kind, allow_outside=args.allow_outside_files)
        if args.to_features and samples.kind == "joints":
            from ..data.mdm_results import joints_to_feature_samples

            samples = joints_to_feature_samples(samples, progress=output.show_progress)
        with output.phase(f"writing {out}"):
            samples.save(out)
        output.info(f"wrote {out}: {samples.num_samples} samples x {samples.num_repetitions} repetition(s) = "
                    f"{samples.num_rows} rows, {samples.kind} {tuple(samples.motions.shape)}, "
                    f"normalization {samples.normalization}")
    return 0
