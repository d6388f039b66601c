"""``motioneval fid A B``: the Fréchet distance between two feature sets or saved statistics (see ``INPUTS``)."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._messages import warning_lines

HELP = "Fréchet distance (FID) between two feature sets or saved statistics"
INPUTS = """A and B are each one of
- a .npy file holding an (N, D) feature array (one row per sample);
- an .npz written by GaussianStats.save (keys format, n, mean, cov);
- an .npz with mu and sigma (pytorch-fid statistics) or mean and cov;
- an .npz holding a single (N, D) array, or several with --key naming the one to use."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fid", help=HELP, description=HELP + ".\n\n" + INPUTS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", metavar="A", help="ground truth: .npy features or .npz features/statistics")
    p.add_argument("b", metavar="B", help="generated: .npy features or .npz features/statistics")
    p.add_argument("--method", choices=("exact", "procrustes", "reference"), default="exact",
                   help="exact (default); procrustes (always the cancellation-free residual); reference (the "
                        "value of the reference code's scipy sqrtm route, never raising)")
    p.add_argument("--eps", type=float, default=1e-6, help="diagonal offset of the reference's retry (1e-6)")
    p.add_argument("--key", default=None, help="array name inside .npz feature files that hold several arrays")
    p.add_argument("--no-reference-check", action="store_true",
                   help="skip running the reference route beside the exact one (faster for large D)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics.frechet import fid

    a = load_side(args.a, key=args.key)
    b = load_side(args.b, key=args.key)
    result = fid(a, b, method=args.method, return_diagnostics=True, eps=args.eps,
                 reference_check=not args.no_reference_check or args.method == "reference")
    if args.json:
        out = {"a": str(args.a), "b": str(args.b), "fid": None} | result.to_dict()
        out["fid"] = out["value"]
        print(json.dumps(out))
        return 0
    print(format_result(result, args.a, args.b))
    return 0


def load_side(path_str: str, *, key: str | None = None) -> Any:
    """Features ``(N, D)`` or a ``GaussianStats`` / ``(mean, cov)`` pair from a .npy/.npz file."""
    from ..metrics.stats import FORMAT_NAME, GaussianStats

    path = Path(path_str)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        data = _npio.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"could not read {path} as .npy/.npz (pickled files are refused): {exc}") from exc
    if isinstance(data, np.ndarray):
        return _features(data, path)
    with data:
        files = list(data.files)
        if "format" in files and str(data["format"]) == FORMAT_NAME:
            return GaussianStats.load(path)
        for mk, ck in (("mu", "sigma"), ("mean", "cov")):
            if mk in files and ck in files:
                return _named_pair(data[mk], data[ck], path, mk, ck)
        if key is not None:
            if key not in files:
                raise ValueError(f"{path} has no array {key!r}; it has {files}")
            return _features(data[key], path, key)
        if len(files) == 1:
            return _features(data[files[0]], path, files[0])
        raise ValueError(f"{path} holds several arrays {files} and none of the known statistics keys "
                         "(mu/sigma, mean/cov); name the feature array with --key")


def _features(arr: np.ndarray, path: Path, key: str | None = None) -> np.ndarray:
    where = f"{path}" + (f" [{key}]" if key else "")
    if arr.ndim != 2:
        raise ValueError(f"{where}: expected an (N, D) feature array (one row per sample); got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{where}: expected numeric features; got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{where}: complex features (dtype {arr.dtype}); features are real numbers, and dropping "
                         f"the imaginary part would change the result silently")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{where} has NaN or Inf in {len(rows)} row(s): row index "
                         f"{', '.join(map(str, rows[:10].tolist()))}{' and more' if len(rows) > 10 else ''}. "
                         "Remove or regenerate these samples.")
    if arr.shape[0] < 2:
        raise ValueError(f"{where}: needs at least 2 rows (samples); got {arr.shape[0]}")
    return arr


def _named_pair(mean: np.ndarray, cov: np.ndarray, path: Path, mk: str, ck: str) -> tuple[np.ndarray, np.ndarray]:
    if mean.ndim != 1 or cov.ndim != 2 or cov.shape != (mean.shape[0], mean.shape[0]):
        raise ValueError(f"{path}: {mk} must be (D,) and {ck} (D, D); got {mean.shape} and {cov.shape}")
    for name, a in ((mk, mean), (ck, cov)):
        if not np.isfinite(a).all():
            raise ValueError(f"{path}: {name} contains NaN or Inf; recompute the statistics from finite features")
    return mean, cov


def format_result(result: Any, a: str, b: str) -> str:
    """Human-readable report of a FrechetResult."""
    d = result.diagnostics
    lines = [f"FID = {result.value:.6f}  ({result.method})"]
    if result.method != "exact":
        lines.append(f"  exact value      {result.exact_value:.10g}")
    if result.reference_value is not None and result.method != "reference":
        ref = result.reference_value
        lines.append(f"  reference value  {ref:.10g}" if math.isfinite(ref) else f"  reference value  {ref}")
    lines.append(f"  A: {a}  (n = {_n(d['n1'])}, D = {d['dim']}, rank {d['rank1']})")
    lines.append(f"  B: {b}  (n = {_n(d['n2'])}, D = {d['dim']}, rank {d['rank2']})")
    lines.append(f"  mean term {d['mean_term']:.6g} + covariance term {d['trace_term']:.6g}  "
                 f"[route: {d['route']}, error bound {d['error_bound']:.2g}]")
    for k in ("1", "2"):
        if f"condition_number{k}" in d:
            side = "A" if k == "1" else "B"
            small = ", ".join(f"{v:.3g}" for v in d[f"smallest_eigenvalues{k}"][:3])
            lines.append(f"  {side}: largest eigenvalue {d[f'largest_eigenvalue{k}']:.4g}, smallest {small}, "
                         f"condition number {d[f'condition_number{k}']:.3g}")
    if "reference_would_raise" in d:
        lines.append(f"  reference route: complex={d['reference_complex']}, max imaginary part "
                     f"{d['reference_max_imag']:.2g} (diagonal {d['reference_max_imag_diag']:.2g}), eps retry="
                     f"{d['reference_used_eps_retry']}, would raise={d['reference_would_raise']}")
    lines += warning_lines(result.warnings)  # grouped like every command's ("side 1..2: ...")
    return "\n".join(lines)


def _n(n: Any) -> str:
    return "unknown" if n is None else f"{n:,}"


if __name__ == "__main__":  # pragma: no cover
    # `python -m motioneval.cli.fid ARGS` is `python -m motioneval fid ARGS`: run the package's entry point as a
    # program (no import of cli.main from a subcommand module, so the command table stays the only link).
    import runpy

    sys.argv = [sys.argv[0], "fid", *sys.argv[1:]]
    runpy.run_module("motioneval", run_name="__main__", alter_sys=True)
