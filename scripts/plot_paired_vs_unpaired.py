"""Figure for the README: paired vs unpaired 95% CIs of B - A on a demo result.

Usage: ``python scripts/plot_paired_vs_unpaired.py DEMO_OUT/results.json docs/figures/paired_vs_unpaired.png``.
Every model row of the (merged) demo result is compared with the ground-truth resampling row, once paired
(shared ground-truth draws) and once with pairing switched off (Welch).
"""
from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from motioneval.protocol.compare import compare_rows  # noqa: E402
from motioneval.protocol.results import Result  # noqa: E402


def main(src: str, dst: str, base: str = "ground-truth resampling") -> None:
    res = Result.load(src)
    others = [r.name for r in res.rows if r.kind == "model" and r.name != base]
    metrics = ["fid", "r_precision_top1", "matching_score"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 0.75 * len(others) + 1.6))
    for ax, metric in zip(axes, metrics):
        for i, name in enumerate(others):
            p = compare_rows(res, base, res, name, metrics=[metric])[metric]
            u = compare_rows(res, base, res, name, metrics=[metric], pair="never")[metric]
            ax.errorbar(p.difference, i + 0.12, xerr=p.ci95, fmt="o", color="C0", capsize=3,
                        label="paired" if i == 0 else None)
            ax.errorbar(u.difference, i - 0.12, xerr=u.ci95, fmt="s", color="C3", capsize=3,
                        label="unpaired (Welch)" if i == 0 else None)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_yticks(range(len(others)))
        ax.set_yticklabels(others if ax is axes[0] else [""] * len(others))
        ax.set_title(f"{p.label}: B - A (95% CI)")
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(f"B = each demo model, A = {base}; {res.replications} replications, seed {res.seed}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=100)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
