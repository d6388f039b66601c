"""``motioneval doctor SAMPLES``: explain why evaluation numbers may be wrong (see ``diagnostics.doctor``)."""
from __future__ import annotations

import argparse
import json

from ._output import Output, add_output_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="diagnose a sample set: normalization, NaN clips, lengths, evaluator files, FID reliability, collapse",
        description="Check generated samples (and optionally the dataset and evaluator folders) and explain in "
                    "plain words what would make the evaluation wrong, with the numbers behind each finding. "
                    "Exit status: 0 nothing wrong, 1 warnings, 2 errors.",
    )
    p.add_argument("samples", help="sample set: our .npz, a sample folder with a manifest, or MDM results.npy "
                                   "(with --allow-pickle)")
    p.add_argument("--dataset", metavar="DIR", help="dataset folder with Mean.npy/Std.npy (and test.txt, "
                                                    "new_joint_vecs/ for a ground-truth reference)")
    p.add_argument("--evaluator", metavar="DIR", help="evaluator folder (checkpoint, glove/, t2m_mean/t2m_std); a TMR "
                                                      "run folder is checked as the TMR evaluator")
    p.add_argument("--tmr-evaluator", metavar="DIR", help="a TMR run folder to check (config.json, last_weights/, "
                                                          "its statistics and text model)")
    p.add_argument("--tmr-stats", metavar="DIR", help="folder of TMR's motion statistics (mean/std .pt or .npy)")
    p.add_argument("--tmr-text-model", metavar="DIR", help="local transformers folder of TMR's text model")
    p.add_argument("--physical", default="default", metavar="VARIANT",
                   help="variant of the physical check against the dataset's clips (default, kimodo, motionlcm, "
                        "physdiff-joints)")
    p.add_argument("--no-physical", action="store_true", help="skip the physical check")
    p.add_argument("--checksums", metavar="FILE", help="known sha256 sums of the evaluator files "
                                                       "(sha256sum format or a JSON {path: sha256})")
    p.add_argument("--normalization", choices=["raw", "dataset", "evaluator"], default=None,
                   help="override the normalization the samples declare")
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow reading MDM results.npy (unpickling runs code from the file: trusted files only)")
    p.add_argument("--device", default=None, help="torch device for the evaluator (default: cuda if available)")
    p.add_argument("--details", action="store_true", help="show the numbers behind every finding, not only "
                                                          "behind warnings and errors")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the text report")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    add_output_options(p, json_option=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..diagnostics.doctor import doctor
    from ._errors import check_device

    check_device(args.device)
    with Output.from_args("doctor", args, json_indent=2) as out:  # --json: indented, as before
        out.header(str(args.samples), [("dataset", args.dataset), ("evaluator", args.evaluator),
                                       ("device", args.device if args.evaluator else None)])
        out.show_header()  # the doctor's own progress lines follow
        report = doctor(args.samples, dataset=args.dataset, evaluator=args.evaluator, checksums=args.checksums,
                        normalization=args.normalization, allow_pickle=args.allow_pickle, device=args.device,
                        progress=out.show_progress, physical=False if args.no_physical else args.physical,
                        tmr_evaluator=args.tmr_evaluator, tmr_stats=args.tmr_stats,
                        tmr_text_model=args.tmr_text_model)
        if args.json:
            out.set(**json.loads(report.to_json()))
        else:
            out.table(report.to_text(details=args.details))
    return report.exit_code
