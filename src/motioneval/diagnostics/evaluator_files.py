"""Evaluator folder checks: files against user-provided checksums, statistics files and their dimensions."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .._io import read_text, sha256_file
from ..evaluators.files import find_evaluator_stats as find_evaluator_stats
from .findings import Finding

_SHA_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$")

#: (mean, std) file pairs that hold evaluator statistics, as users have them (formats.md); examples only: the
#: search itself is :func:`motioneval.evaluators.files.find_evaluator_stats` (re-exported here).
EVALUATOR_STATS_CANDIDATES = (
    ("t2m_mean.npy", "t2m_std.npy"),
    ("kit_mean.npy", "kit_std.npy"),
    ("dataset/t2m_mean.npy", "dataset/t2m_std.npy"),
    ("dataset/kit_mean.npy", "dataset/kit_std.npy"),
    ("checkpoints/t2m/Comp_v6_KLD01/meta/mean.npy", "checkpoints/t2m/Comp_v6_KLD01/meta/std.npy"),
    ("checkpoints/kit/Comp_v6_KLD005/meta/mean.npy", "checkpoints/kit/Comp_v6_KLD005/meta/std.npy"),
    ("t2m/Comp_v6_KLD01/meta/mean.npy", "t2m/Comp_v6_KLD01/meta/std.npy"),
    ("kit/Comp_v6_KLD005/meta/mean.npy", "kit/Comp_v6_KLD005/meta/std.npy"),
    ("meta/mean.npy", "meta/std.npy"),
)


def read_checksums(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{relative path: sha256}`` from a ``sha256sum``-style file (``<hex>  <path>``) or a JSON object."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checksums file not found: {path}")
    text = read_text(path, expected="a checksums file ('<sha256>  <path>' lines, or a JSON object)")
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON ({exc}); expected {{\"relative/path\": \"<sha256>\"}}") from exc
        if not all(isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]{64}", v) for v in data.values()):
            raise ValueError(f"{path}: every value must be a 64-hex-digit sha256")
        return {str(k): v.lower() for k, v in data.items()}
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _SHA_LINE.match(line)
        if not m:
            raise ValueError(f"{path}, line {n}: expected '<sha256>  <path>' (sha256sum format); got {line!r}")
        out[m.group(2)] = m.group(1).lower()
    if not out:
        raise ValueError(f"{path}: no checksum lines found")
    return out


def check_checksums(folder: str | Path, expected: dict[str, str]) -> Finding:
    """Compare the files of ``folder`` (paths relative to it, or absolute) with ``expected`` sha256 sums."""
    folder = Path(folder)
    missing, mismatched, matched = [], {}, []
    for rel, want in expected.items():
        p = Path(rel) if Path(rel).is_absolute() else folder / rel
        if not p.is_file():
            # sha256sum files often list bare names; try the name anywhere below the folder
            hits = sorted(folder.rglob(Path(rel).name)) if folder.is_dir() else []
            if len(hits) != 1:
                missing.append(rel)
                continue
            p = hits[0]
        got = sha256_file(p)
        if got == want:
            matched.append(rel)
        else:
            mismatched[rel] = {"expected": want, "found": got}
    numbers = {"matched": len(matched), "mismatched": len(mismatched), "missing": len(missing)}
    if mismatched or missing:
        parts = []
        if mismatched:
            parts.append(f"{len(mismatched)} file(s) differ from the expected checksums: " + ", ".join(mismatched))
        if missing:
            parts.append(f"{len(missing)} listed file(s) are missing: " + ", ".join(missing))
        return Finding(
            "evaluator_files", "error", "evaluator files do not match the known checksums",
            ". ".join(parts) + ". Another evaluator version (or a corrupted download) gives numbers that cannot be "
            "compared with published ones.",
            "Download the evaluator again from the source the checksums describe, or point --evaluator at the "
            "right folder.",
            numbers=numbers | {"differences": mismatched, "missing_files": missing})
    return Finding("evaluator_files", "ok", "evaluator files match the known checksums",
                   f"All {len(matched)} listed file(s) match.", numbers=numbers)
