"""``motioneval check-dataset PATH``: validate a HumanML3D / KIT-ML folder in one pass, before any long run."""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check-dataset",
        help="report missing files, NaN clips, bad captions and filtered items of a dataset split",
        description="Validate one split of a HumanML3D / KIT-ML dataset folder (new_joint_vecs/, texts/, "
                    "Mean.npy, Std.npy, <split>.txt) in one pass. Exit status 1 when there are errors.",
    )
    p.add_argument("path", help="dataset folder (containing new_joint_vecs/, texts/, test.txt, ...)")
    p.add_argument("--split", default="test", help="split name (<path>/<split>.txt) or a split file (default: test)")
    p.add_argument("--kind", choices=["humanml3d", "kit"], default=None,
                   help="dataset kind (default: inferred from the feature dimension)")
    p.add_argument("--joints", action="store_true", help="also check new_joints/ (shapes)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--max-per-kind", type=int, default=10, metavar="N",
                   help="examples listed per problem kind in the text report (default: 10)")
    p.add_argument("--show-filtered", action="store_true",
                   help="also list clips and segments outside the protocol's length bounds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.dataset import check_dataset

    report = check_dataset(args.path, args.split, kind=args.kind, check_joints=args.joints,
                           progress=sys.stderr.isatty())
    from ..data.fingerprints import known_bad_clips, summarize, verify_dataset_folder

    verdicts = verify_dataset_folder(args.path, dataset=report.kind)
    if args.json:
        import json

        data = report.to_dict()
        data["fingerprints"] = [v.to_dict() for v in verdicts]
        print(json.dumps(data, indent=2))
    else:
        print(report.summary(max_per_kind=args.max_per_kind, include_filtered=args.show_filtered))
        if verdicts:
            print("public reference files (sha256; per-dim statistics where they differ):")
            print(summarize(verdicts))
        bad = [i for i in known_bad_clips(report.kind) if i in report.bad_ids]
        if bad:
            print(f"known-bad clips {', '.join(bad)} are broken here as in many re-processings of the dataset "
                  f"(protocol.md): regenerate them or evaluate with on_problem='skip' and say so.")
    return 0 if report.ok else 1
