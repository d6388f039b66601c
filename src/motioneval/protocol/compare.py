"""Is model B really better than model A? Paired comparison of per-replication values, and replication planning.

Two rows are **paired** when their replications share the ground-truth draws: both rows of one result, or
two results with the same seed, the same ground-truth settings of the preset, the same dataset content and
evaluator files, and -- checked directly -- identical per-replication ground-truth values. Replication ``r``
of both then saw the same crops, captions and groups, so the per-replication differences
``d_r = b_r - a_r`` cancel the draw-to-draw noise they share. For each metric:

- mean difference ``d̄`` and its 95% CI ``d̄ ± t_{0.975, n-1} · s_d / √n`` (sample std ``s_d``, ddof 1);
- paired t-test p-value (two-sided, ``t = d̄ / (s_d / √n)`` with ``n - 1`` degrees of freedom);
- sign-flip permutation p-value: the share of the ``2^n`` sign patterns (exact for ``n <= 16``, else
  ``permutations`` random ones, ``p = (k + 1) / (B + 1)``) whose ``|mean|`` reaches the observed one;
- ``resolved``: both p-values below ``alpha``.

Otherwise the comparison is **unpaired** and says why (:attr:`Comparison.reason`): Welch's t-test
(``se = √(s_a²/n_a + s_b²/n_b)``, Welch-Satterthwaite degrees of freedom) and a label-permutation test.

Diversity is compared as the distance to the ground truth's diversity in the same replication,
``|diversity - diversity_gt|`` (lower is better), as the protocol judges it ("closer to ground truth").

Replication planning (:func:`replications_for_halfwidth`, :func:`replications_to_resolve`) and the early-stop
rule :func:`should_stop` use the same per-replication values.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import metric_info
from .results import Result, Row

#: preset settings that only concern the generated side; results differing in them still share ground-truth draws
MODEL_SIDE_SETTINGS = frozenset({"name", "base", "description", "differences", "generated_length",
                                 "generated_padding", "mm_replications", "mm_captions", "mm_selection",
                                 "mm_repeats", "mm_pairs"})
#: ground-truth per-replication values must agree to this relative tolerance for pairing
GT_RTOL = 1e-9


@dataclass
class MetricComparison:
    """One metric of a comparison; ``difference`` is ``B - A`` in the metric's own units (for diversity:
    in ``|diversity - ground truth|``)."""

    metric: str
    label: str
    direction: str  # "higher" | "lower" (what is better for the compared quantity)
    method: str  # "paired" | "welch"
    n: int
    mean_a: float
    mean_b: float
    difference: float
    ci95: float  # half-width
    p_t: float
    p_permutation: float
    resolved: bool
    better: str | None  # "A", "B" or None (not resolved)
    n_b: int | None = None  # unpaired: replications of B (``n`` is A's)

    @property
    def ci_low(self) -> float:
        return self.difference - self.ci95

    @property
    def ci_high(self) -> float:
        return self.difference + self.ci95

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "label": self.label, "direction": self.direction, "method": self.method,
                "n": self.n, "n_b": self.n_b, "mean_a": self.mean_a, "mean_b": self.mean_b,
                "difference": self.difference, "ci95": self.ci95, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "p_t": self.p_t, "p_permutation": self.p_permutation, "resolved": self.resolved,
                "better": self.better}


@dataclass
class Comparison:
    """B against A, metric by metric. ``paired`` is False when the rows do not share ground-truth draws;
    ``reason`` then names why, and every metric uses Welch's test."""

    a: str
    b: str
    paired: bool
    reason: str | None
    alpha: float
    metrics: list[MetricComparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, metric: str) -> MetricComparison:
        for m in self.metrics:
            if m.metric == metric:
                return m
        raise KeyError(f"comparison has no metric {metric!r}; it has {[m.metric for m in self.metrics]}")

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "paired": self.paired, "reason": self.reason, "alpha": self.alpha,
                "metrics": [m.to_dict() for m in self.metrics], "notes": list(self.notes)}

    def to_text(self, digits: int = 4) -> str:
        """A plain-text table: means, B - A with its 95% CI, both p-values and the verdict per metric."""
        how = ("paired: same ground-truth draws, per-replication differences" if self.paired
               else f"UNPAIRED (Welch): {self.reason}")
        lines = [f"B = {self.b!r} vs A = {self.a!r} -- {how}; alpha = {self.alpha}"]
        head = ["metric", "A", "B", "B - A", "95% CI", "p (t)", "p (perm)", "resolved", "better"]
        rows = [head]
        for m in self.metrics:
            rows.append([m.label, f"{m.mean_a:.{digits}g}", f"{m.mean_b:.{digits}g}", f"{m.difference:+.{digits}g}",
                         f"[{m.ci_low:+.{digits}g}, {m.ci_high:+.{digits}g}]", _p(m.p_t), _p(m.p_permutation),
                         "yes" if m.resolved else "no", m.better or "-"])
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        for r in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)))
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _p(p: float) -> str:
    return "<1e-16" if p < 1e-16 else f"{p:.3g}"


# ----------------------------------------------------------------------------------------------- pairing
def pairing_reason(a: Result, b: Result) -> str | None:
    """``None`` when rows of ``a`` and ``b`` share ground-truth draws, else the first reason they do not."""
    if a is b:
        return None
    if a.seed != b.seed:
        return (f"seeds differ ({a.seed} vs {b.seed}): the ground-truth crops, captions and groups of each "
                f"replication were drawn differently")
    if a.replications != b.replications:
        return f"replication counts differ ({a.replications} vs {b.replications})"
    pa = {k: v for k, v in a.preset.items() if k not in MODEL_SIDE_SETTINGS}
    pb = {k: v for k, v in b.preset.items() if k not in MODEL_SIDE_SETTINGS}
    changed = sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k))
    if changed:
        return "ground-truth settings of the preset differ: " + ", ".join(
            f"{k} ({pa.get(k)!r} vs {pb.get(k)!r})" for k in changed)
    for key in ("split",):
        if a.settings.get(key) != b.settings.get(key):
            return f"{key} differs ({a.settings.get(key)!r} vs {b.settings.get(key)!r})"
    da = (a.provenance.get("dataset") or {}).get("content_sha256")
    db = (b.provenance.get("dataset") or {}).get("content_sha256")
    if da != db:
        return f"dataset content differs (sha256 {str(da)[:12]}... vs {str(db)[:12]}...)"
    ea = sorted((a.provenance.get("evaluator") or {}).values())
    eb = sorted((b.provenance.get("evaluator") or {}).values())
    if ea != eb:
        return "evaluator files differ (their sha256 digests in the provenance do not match)"
    try:
        ga, gb = a.ground_truth, b.ground_truth
    except KeyError:
        return "a result has no ground-truth row, so shared draws cannot be verified"
    for metric in sorted(set(ga.metrics) & set(gb.metrics)):
        va, vb = ga.metrics[metric].values, gb.metrics[metric].values
        if len(va) != len(vb) or any(
                (x is None) != (y is None) or (x is not None and y is not None
                                               and not math.isclose(x, y, rel_tol=GT_RTOL, abs_tol=1e-12))
                for x, y in zip(va, vb)):
            return (f"the ground-truth rows differ per replication ({metric}), so the draws were not the same "
                    f"although the recorded settings match")
    return None


# ----------------------------------------------------------------------------------------------- statistics
def paired_test(a: Sequence[float], b: Sequence[float], *, alpha: float = 0.05, permutations: int = 20000,
                seed: int = 0) -> dict[str, float]:
    """Paired comparison of ``b - a`` (equal-length, aligned replications): mean, 95% CI half-width (Student
    t), paired t p-value and sign-flip permutation p-value (exact for n <= 16)."""
    from scipy import stats

    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    n = len(d)
    if n < 2:
        raise ValueError(f"a paired comparison needs at least 2 replications with both values; got {n}")
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    if sd == 0.0 or sd <= 1e-15 * max(1.0, abs(mean)):
        p = 1.0 if mean == 0.0 else 0.0
        return {"n": n, "difference": mean, "ci95": 0.0, "p_t": p, "p_permutation": 1.0 if mean == 0.0 else
                _sign_flip_p(d, permutations, seed)}
    se = sd / math.sqrt(n)
    t = mean / se
    p_t = float(2.0 * stats.t.sf(abs(t), n - 1))
    half = float(stats.t.ppf(0.975, n - 1) * se)
    return {"n": n, "difference": mean, "ci95": half, "p_t": p_t, "p_permutation": _sign_flip_p(d, permutations,
                                                                                                 seed)}


def _sign_flip_p(d: np.ndarray, permutations: int, seed: int) -> float:
    n = len(d)
    observed = abs(d.mean())
    tol = 1e-12 * max(1.0, observed)
    if n <= 16:
        signs = ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1) * 2 - 1
        means = np.abs(signs @ d) / n
        return float(np.mean(means >= observed - tol))
    rng = np.random.default_rng(seed)
    hits = 0
    done = 0
    while done < permutations:
        m = min(4096, permutations - done)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(m, n))
        hits += int(np.sum(np.abs(signs @ d) / n >= observed - tol))
        done += m
    return (hits + 1) / (permutations + 1)


def welch_test(a: Sequence[float], b: Sequence[float], *, permutations: int = 20000, seed: int = 0
               ) -> dict[str, float]:
    """Unpaired comparison of ``mean(b) - mean(a)``: Welch's t-test, its 95% CI half-width and a
    label-permutation p-value (``permutations`` random relabellings)."""
    from scipy import stats

    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"an unpaired comparison needs at least 2 replications per side; got {len(x)} and {len(y)}")
    diff = float(y.mean() - x.mean())
    va, vb = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(va + vb)
    if se == 0.0:
        p = 1.0 if diff == 0.0 else 0.0
        return {"n": len(x), "n_b": len(y), "difference": diff, "ci95": 0.0, "p_t": p, "p_permutation": p}
    df = (va + vb) ** 2 / (va ** 2 / (len(x) - 1) + vb ** 2 / (len(y) - 1))
    t = diff / se
    p_t = float(2.0 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(0.975, df) * se)
    pooled = np.concatenate([x, y])
    rng = np.random.default_rng(seed)
    hits = 0
    done = 0
    while done < permutations:
        m = min(4096, permutations - done)
        perm = pooled[np.argsort(rng.random((m, len(pooled))), axis=1)]
        stat = np.abs(perm[:, len(x):].mean(axis=1) - perm[:, :len(x)].mean(axis=1))
        hits += int(np.sum(stat >= abs(diff) - 1e-12 * max(1.0, abs(diff))))
        done += m
    return {"n": len(x), "n_b": len(y), "difference": diff, "ci95": half, "p_t": p_t,
            "p_permutation": (hits + 1) / (permutations + 1)}


# ----------------------------------------------------------------------------------------------- compare
def _values(result: Result, row: Row, metric: str) -> list[float | None]:
    vals = list(row.metrics[metric].values)
    if metric != "diversity":
        return vals
    gt = result.ground_truth.metrics.get("diversity")
    if gt is None:
        return vals
    return [None if v is None or g is None else abs(v - g) for v, g in zip(vals, gt.values)]


def compare_rows(a: Result, row_a: str, b: Result, row_b: str, *, alpha: float = 0.05,
                 metrics: Sequence[str] | None = None, pair: str = "auto", permutations: int = 20000,
                 seed: int = 0) -> Comparison:
    """Compare row ``row_b`` of ``b`` with row ``row_a`` of ``a`` (see the module docstring).

    ``pair``: ``"auto"`` (paired when the draws are shared, else Welch with the reason), ``"never"``."""
    if pair not in ("auto", "never"):
        raise ValueError(f"pair must be 'auto' or 'never'; got {pair!r}")
    ra, rb = a.row(row_a), b.row(row_b)
    reason = pairing_reason(a, b)
    if pair == "never":
        reason = reason or "pairing switched off (pair='never')"
    paired = reason is None
    keys = [k for k in (metrics or a.metric_keys()) if k in ra.metrics and k in rb.metrics]
    if metrics:
        missing = [k for k in metrics if k not in keys]
        if missing:
            raise ValueError(f"metric(s) {missing} are not in both rows ({ra.name!r}, {rb.name!r})")
    out = Comparison(ra.name if a is b else f"{ra.name} ({_origin(a)})",
                     rb.name if a is b else f"{rb.name} ({_origin(b)})", paired, reason, alpha)
    for k in keys:
        va, vb = _values(a, ra, k), _values(b, rb, k)
        info = metric_info(k)
        direction, label = (info.direction, info.label) if info is not None else ("higher", k)
        if k == "diversity":
            direction, label = "lower", "|Diversity - GT|"
        if direction not in ("higher", "lower"):
            continue
        if paired:
            both = [(x, y) for x, y in zip(va, vb) if x is not None and y is not None]
            if len(both) < 2:
                out.notes.append(f"{label}: fewer than 2 replications with both values; skipped")
                continue
            xa, xb = [x for x, _ in both], [y for _, y in both]
            s = paired_test(xa, xb, alpha=alpha, permutations=permutations, seed=seed)
            method = "paired"
        else:
            xa, xb = [x for x in va if x is not None], [y for y in vb if y is not None]
            if len(xa) < 2 or len(xb) < 2:
                out.notes.append(f"{label}: fewer than 2 replications per side; skipped")
                continue
            s = welch_test(xa, xb, permutations=permutations, seed=seed)
            method = "welch"
        if not all(math.isfinite(v) for v in xa + xb):
            out.notes.append(f"{label}: non-finite values; skipped")
            continue
        resolved = bool(s["p_t"] < alpha and s["p_permutation"] < alpha)
        better = None
        if resolved:
            b_better = (s["difference"] > 0) == (direction == "higher")
            better = "B" if b_better else "A"
        out.metrics.append(MetricComparison(k, label, direction, method, int(s["n"]), float(np.mean(xa)),
                                            float(np.mean(xb)), float(s["difference"]), float(s["ci95"]),
                                            float(s["p_t"]), float(s["p_permutation"]), resolved, better,
                                            None if s.get("n_b") is None else int(s["n_b"])))
    if paired and any(m.n < 5 for m in out.metrics):
        out.notes.append("fewer than 5 paired replications: the t-test leans on normality and the exact sign-flip "
                         "test cannot go below 2/2^n; run more replications for a firm verdict")
    return out


def compare(a: Result | str | Path, b: Result | str | Path, *, row_a: str = "model", row_b: str = "model",
            alpha: float = 0.05, metrics: Sequence[str] | None = None, pair: str = "auto",
            permutations: int = 20000, seed: int = 0) -> Comparison:
    """Compare the model row of result ``b`` with that of ``a`` (results or ``results.json`` paths)."""
    ra = a if isinstance(a, Result) else Result.load(a)
    rb = b if isinstance(b, Result) else Result.load(b)
    return compare_rows(ra, row_a, rb, row_b, alpha=alpha, metrics=metrics, pair=pair,
                        permutations=permutations, seed=seed)


def _origin(r: Result) -> str:
    return f"seed {r.seed}"


# ----------------------------------------------------------------------------------------------- planning
def _clean(values: Sequence[float | None]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if arr.size < 2:
        raise ValueError(f"need at least 2 replications with a value to estimate the spread; got {arr.size}")
    if not np.isfinite(arr).all():
        raise ValueError("values contain NaN or Inf")
    return arr


def replications_for_halfwidth(values: Sequence[float | None], target: float, *, z: float = 1.96) -> int:
    """Replications ``n`` for which the protocol's half-width ``z · σ / √n`` is at most ``target``, with ``σ``
    estimated by the sample std of the replications so far: ``n = ceil((z · s / target)²)`` (at least 2)."""
    if not target > 0:
        raise ValueError(f"target half-width must be positive; got {target}")
    s = float(_clean(values).std(ddof=1))
    return max(2, math.ceil((z * s / target) ** 2 - 1e-12))


def replications_to_resolve(differences: Sequence[float | None], delta: float | None = None, *,
                            alpha: float = 0.05, power: float = 0.8, max_n: int = 100_000) -> int:
    """Paired replications needed to resolve a mean difference ``delta`` (default: the observed mean of the
    per-replication ``differences``) with a two-sided paired t-test at ``alpha`` and the given ``power``,
    with the std of the differences estimated from ``differences``. Power uses the noncentral t
    distribution: ``P(|T| > t_{1-α/2, n-1})`` with noncentrality ``delta · √n / s``."""
    from scipy import stats

    d = _clean(differences)
    s = float(d.std(ddof=1))
    delta = float(d.mean()) if delta is None else float(delta)
    if delta == 0:
        raise ValueError("a zero difference cannot be resolved; pass the difference you want to detect as delta")
    if s == 0:
        return 2

    def achieved(n: int) -> float:
        crit = stats.t.ppf(1 - alpha / 2, n - 1)
        nc = abs(delta) * math.sqrt(n) / s
        return float(stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc))

    zsum = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    n = max(2, math.ceil((zsum * s / abs(delta)) ** 2))
    while n > 2 and achieved(n - 1) >= power:
        n -= 1
    while achieved(n) < power:
        n += 1
        if n > max_n:
            raise ValueError(f"more than {max_n} replications would be needed; the difference is too small to "
                             f"resolve against this noise")
    return n


def should_stop(per_replication_values: Mapping[str, Sequence[float | None]] | Sequence[float | None],
                target: float | Mapping[str, float], *, min_replications: int = 5, z: float = 1.96) -> bool:
    """Early-stop rule for an evaluation loop: True when every metric with a target has at least
    ``min_replications`` values and its protocol half-width ``z · std(ddof=0) / √n`` is at most its target.

    ``per_replication_values``: ``{metric: values so far}`` or one metric's values; ``target``: one half-width
    for all metrics or ``{metric: half-width}`` (metrics without a target are not waited for). A run stopped
    by this rule is no longer the preset's protocol: record it as ``custom`` with the reason."""
    if not isinstance(per_replication_values, Mapping):
        per_replication_values = {"value": per_replication_values}
    targets = dict(target) if isinstance(target, Mapping) else {k: float(target) for k in per_replication_values}
    if not targets:
        raise ValueError("no target half-width given")
    for metric, half in targets.items():
        if metric not in per_replication_values:
            raise KeyError(f"no values for metric {metric!r}; have {sorted(per_replication_values)}")
        vals = np.asarray([v for v in per_replication_values[metric] if v is not None], dtype=np.float64)
        if len(vals) < max(2, min_replications) or not np.isfinite(vals).all():
            return False
        if z * float(vals.std()) / math.sqrt(len(vals)) > half:
            return False
    return True


def replication_plan(result: Result, *, row: str = "model", targets: Mapping[str, float] | None = None,
                     resolve: Mapping[str, float] | None = None, other: Result | None = None,
                     other_row: str = "model", alpha: float = 0.05, power: float = 0.8) -> list[dict[str, Any]]:
    """Per metric: current half-width, replications for each target half-width (``targets``) and, with
    ``other`` sharing the draws (or another row of the same result), paired replications to resolve the
    differences in ``resolve`` (``{metric: delta}``)."""
    r = result.row(row)
    out: list[dict[str, Any]] = []
    for metric, half in (targets or {}).items():
        if metric not in r.metrics:
            raise KeyError(f"row {r.name!r} has no metric {metric!r}")
        vals = _values(result, r, metric)
        present = [v for v in vals if v is not None]
        current = r.metrics[metric].ci95
        out.append({"metric": metric, "kind": "halfwidth", "replications_so_far": len(present),
                    "current_ci95": current, "target_ci95": half,
                    "replications_needed": replications_for_halfwidth(r.metrics[metric].values, half)})
    if resolve:
        b = other if other is not None else result
        reason = pairing_reason(result, b)
        if reason is not None:
            raise ValueError(f"cannot plan a paired resolution: {reason}")
        rb = b.row(other_row)
        for metric, delta in resolve.items():
            va, vb = _values(result, r, metric), _values(b, rb, metric)
            diffs = [y - x for x, y in zip(va, vb) if x is not None and y is not None]
            out.append({"metric": metric, "kind": "resolve", "replications_so_far": len(diffs),
                        "observed_difference": float(np.mean(diffs)) if diffs else None, "delta": delta,
                        "alpha": alpha, "power": power,
                        "replications_needed": replications_to_resolve(diffs, delta, alpha=alpha, power=power)})
    return out
