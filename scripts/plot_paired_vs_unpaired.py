"""Figure for the README: width of the paired 95% CI of B - A relative to the unpaired (Welch) one.

Usage: ``python scripts/plot_paired_vs_unpaired.py OUT.png RESULTS.json [RESULTS.json ...]``. In each
(merged, demo-style) result every model row B is compared with the first model row A, once paired (shared
ground-truth draws and generator seeds) and once with pairing switched off. A ratio below 1 means pairing
narrowed the interval.
"""
from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from motioneval.protocol.compare import compare_rows
from motioneval.protocol.results import Result

METRICS = [("r_precision_top1", "R@1"), ("fid", "FID"), ("matching_score", "MM Dist")]


def ratios(paths: list[str]) -> tuple[list[str], np.ndarray]:
    labels, rows = [], []
    for path in paths:
        res = Result.load(path)
        models = [r.name for r in res.rows if r.kind == "model"]
        for other in models[1:]:
            p = compare_rows(res, models[0], res, other, metrics=[m for m, _ in METRICS])
            u = compare_rows(res, models[0], res, other, metrics=[m for m, _ in METRICS], pair="never")
            labels.append(f"{other}\nvs {models[0]}")
            rows.append([p[m].ci95 / u[m].ci95 for m, _ in METRICS])
    return labels, np.asarray(rows)


def main(dst: str, paths: list[str]) -> None:
    labels, r = ratios(paths)
    fig, ax = plt.subplots(figsize=(7.5, 0.62 * len(labels) + 1.3))
    y = np.arange(len(labels))
    h = 0.8 / len(METRICS)
    for j, (_, name) in enumerate(METRICS):
        ax.barh(y + (j - (len(METRICS) - 1) / 2) * h, r[:, j], height=h, label=name)
    ax.axvline(1.0, color="0.3", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("paired 95% CI half-width / unpaired (Welch) half-width")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Pairing on the demo (10 replications, seed 0)", fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=100)
    for lab, row in zip(labels, r):
        print(lab.replace("\n", " "), " ".join(f"{name}={v:.2f}" for (_, name), v in zip(METRICS, row)))
    print(f"wrote {dst}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
