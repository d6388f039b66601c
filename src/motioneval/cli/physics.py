"""``motioneval physics FILE...``: physical plausibility metrics (foot skating, floating, jitter, ...) per file."""
from __future__ import annotations

import argparse
import json
import math
from typing import Any

HELP = "physical plausibility metrics (foot skating, floating, penetration, jitter, dynamics) of motion files"


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..metrics.physical import VARIANTS

    p = subparsers.add_parser(
        "physics", help=HELP,
        description="Print per-file physical metrics computed on joint positions (y up, metres). FILE: a "
                    "motioneval .npz sample file, a sample folder, MDM's results.npy (--allow-pickle), or a "
                    "plain .npy array of joints (T, J, 3) / (N, T, J, 3) or raw 263/251-d features. Values are "
                    "means over clips (clips without a value, e.g. no floor contact for skating, are skipped "
                    "and counted). Variants: " + "; ".join(f"{k}: {v.source}" for k, v in VARIANTS.items()),
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="motion files (see above)")
    p.add_argument("--variant", default="default", choices=sorted(VARIANTS),
                   help="named rule set (default: motioneval's); each states its source and differences")
    p.add_argument("--fps", type=float, default=None,
                   help="frames per second of the motions (default: the file's metadata, else the skeleton's: "
                        "HumanML3D 20, KIT-ML 12.5)")
    p.add_argument("--unit", choices=["m", "dm", "cm", "mm"], default=None,
                   help="unit of the joint positions (default: the file's metadata, else the dataset's: HumanML3D "
                        "metres, KIT-ML millimetres); metrics are always reported in metres")
    p.add_argument("--floor", default=None,
                   help="floor height in metres, 'clip' (each clip's lowest joint) or 'dataset' (median over the "
                        "file's clips); default: the variant's (y = 0)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow reading MDM's pickled results.npy (unpickling runs code from the file: trusted files only)")
    p.add_argument("--mean", default=None, metavar="NPY", help="Mean.npy to de-normalize normalized features")
    p.add_argument("--std", default=None, metavar="NPY", help="Std.npy to de-normalize normalized features")
    p.add_argument("--per-row", action="store_true", help="with --json: include every row's values")
    p.add_argument("--json", action="store_true", help="print one JSON object per file (one per line)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.physical import physical_metrics_from_file
    from ._output import Output

    if (args.mean is None) != (args.std is None):
        raise ValueError("--mean and --std go together (the statistics the features were normalized with)")
    stats = None
    if args.mean is not None:
        from ..representation.normalization import FeatureStats

        stats = FeatureStats.load(args.mean, args.std)
    floor: Any = None
    if args.floor is not None:
        try:
            floor = float(args.floor)
        except ValueError:
            if args.floor not in ("clip", "dataset"):
                raise ValueError(f"--floor must be a height in metres, 'clip' or 'dataset'; got {args.floor!r}") from None
            floor = args.floor
    if args.json:  # one JSON object per file, one per line, as the files are done
        for path in args.files:
            report = physical_metrics_from_file(path, variant=args.variant, fps=args.fps,
                                                allow_pickle=args.allow_pickle, stats=stats, unit=args.unit,
                                                floor=floor)
            print(json.dumps(report.to_dict(per_row=args.per_row)))
        return 0
    with Output("physics", progress=not args.no_progress) as out:  # warnings grouped at the end
        for i, path in enumerate(args.files):
            with out.phase(f"physical metrics of {path}"):
                report = physical_metrics_from_file(path, variant=args.variant, fps=args.fps,
                                                    allow_pickle=args.allow_pickle, stats=stats, unit=args.unit,
                                                    floor=floor)
            out.table(("\n" if i else "") + format_report(report))
    return 0


def format_report(report: Any) -> str:
    """Human-readable per-file summary."""
    from ..metrics.physical import METRICS

    header = (f"{report.source}: {report.num_rows} clip(s), {report.kind} -> joints ({report.skeleton}), "
              f"{report.fps:g} fps ({report.fps_source}), positions in {report.unit} ({report.unit_source}), "
             f"variant {report.variant.name}")
    lines = [header]
    width = max(len(m.label) for m in METRICS.values())
    for key, s in report.summary().items():
        info = METRICS[key]
        mean = "n/a" if not math.isfinite(s["mean"]) else f"{s['mean']:.4g}"
        std = "" if not math.isfinite(s["std"]) or report.num_rows < 2 else f" ± {s['std']:.3g}"
        skipped = report.num_rows - s["rows"]
        note = f"  ({skipped} clip(s) without a value)" if skipped else ""
        lines.append(f"  {info.label:<{width}}  {mean}{std} {info.unit}{note}")
    return "\n".join(lines)
