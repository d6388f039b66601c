"""``motioneval compare``: is B really better than A, how many replications are enough, and how do my numbers
sit beside the published ones."""
from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="paired comparison of results, replication planning, and your row beside published rows",
        description="Compare the model rows of results.json files (each against the first). Results that share "
                    "the seed and ground-truth draws are compared per replication (paired t and sign-flip "
                    "tests); otherwise the comparison says why not and falls back to Welch's test. With one "
                    "file holding several model rows (a demo result), --rows picks the rows to compare. "
                    "--published prints your row beside published rows with the protocol differences.",
    )
    p.add_argument("results", nargs="+", help="results.json files (or folders holding one)")
    p.add_argument("--rows", default=None, metavar="A,B[,C...]",
                   help="row names to compare (one per file, or several rows of a single file)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--metrics", default=None, help="comma-separated metric keys (default: all shared)")
    p.add_argument("--unpaired", action="store_true", help="do not pair even when the draws are shared")
    p.add_argument("--permutations", type=int, default=20000,
                   help="random sign flips / relabellings when exact enumeration is too large (default 20000)")
    p.add_argument("--published", default=None, metavar="LINEAGES",
                   help="print your row beside published rows of these lineages, e.g. mdm,momask,t2m-gpt")
    p.add_argument("--target-halfwidth", default=None, metavar="METRIC=H[,...]",
                   help="replications needed for these 95%% CI half-widths (e.g. fid=0.01)")
    p.add_argument("--resolve", default=None, metavar="METRIC=DELTA[,...]",
                   help="paired replications needed to resolve these differences between the first two rows")
    p.add_argument("--power", type=float, default=0.8, help="power for --resolve (default 0.8)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _pairs(text: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"expected METRIC=VALUE; got {part!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = float(v)
    return out


def run(args: argparse.Namespace) -> int:
    from ..protocol.compare import compare_rows, replication_plan
    from ..protocol.results import Result

    results = [Result.load(p) for p in args.results]
    rows = [r.strip() for r in args.rows.split(",")] if args.rows else None
    if len(results) == 1:
        models = [r.name for r in results[0].rows if r.kind == "model"]
        names = rows or models
        pairs = [(results[0], n) for n in names]
    else:
        if rows is not None and len(rows) != len(results):
            raise ValueError(f"--rows names {len(rows)} rows for {len(results)} files; give one per file")
        pairs = [(res, rows[i] if rows else "model") for i, res in enumerate(results)]
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    report: dict = {"comparisons": [], "plans": [], "published": None}
    text: list[str] = []
    base_res, base_row = pairs[0]
    for res, row in pairs[1:]:
        c = compare_rows(base_res, base_row, res, row, alpha=args.alpha, metrics=metrics,
                         pair="never" if args.unpaired else "auto", permutations=args.permutations)
        report["comparisons"].append(c.to_dict())
        text += [c.to_text(), ""]
    targets, resolve = _pairs(args.target_halfwidth), _pairs(args.resolve)
    if targets or resolve:
        other = pairs[1] if len(pairs) > 1 else (None, "model")
        plan = replication_plan(base_res, row=base_row, targets=targets, resolve=resolve or None,
                                other=other[0], other_row=other[1], alpha=args.alpha, power=args.power)
        report["plans"] = plan
        for item in plan:
            if item["kind"] == "halfwidth":
                text.append(f"{item['metric']}: 95% CI half-width {item['current_ci95']} after "
                            f"{item['replications_so_far']} replications; {item['replications_needed']} "
                            f"replications for +-{item['target_ci95']}")
            else:
                text.append(f"{item['metric']}: {item['replications_needed']} paired replications to resolve a "
                            f"difference of {item['delta']} (alpha {item['alpha']}, power {item['power']}; "
                            f"observed {item['observed_difference']})")
        text.append("")
    if args.published:
        from ..protocol.published import beside_published

        beside = beside_published(base_res, args.published, row=base_row)
        report["published"] = beside
        text.append(beside)
    if len(pairs) < 2 and not (targets or resolve or args.published):
        raise ValueError("nothing to compare: give two results (or --rows with two rows of one result), "
                         "--published, --target-halfwidth or --resolve")
    if args.json:
        print(json.dumps(report, indent=2, default=float))
    else:
        sys.stdout.write("\n".join(text).rstrip() + "\n")
    return 0
