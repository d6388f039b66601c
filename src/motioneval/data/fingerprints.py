"""Fingerprints of the public reference files that move evaluation numbers, and per-file verdicts.

``assets/fingerprints.json`` (built by ``scripts/build_fingerprints.py`` from byte-exact exports of the public
repositories; see each entry's ``source`` and ``git_blob``) holds the sha256, size, shape and dtype of the
HumanML3D ``Mean.npy``/``Std.npy`` and split lists, the evaluator statistics ``t2m_mean/std`` and
``kit_mean/std`` and the GloVe vocabulary pickles, plus the values of the small statistics arrays so that a
drifted copy is reported per dimension, and the known-bad clip ids.

A file gets one of four verdicts (:class:`FileVerdict`):

- ``"match"``: byte-identical to the public file;
- ``"values_match"``: same numbers (within float32 rounding) or same ids, different bytes (dtype, order);
- ``"differs"``: a public counterpart exists and the file differs from it; ``relation`` says whether it looks
  like a *drift* of the same data (per-dim values correlate with the public ones, r > 0.9) or an
  *unrelated* file (a custom or synthetic dataset); ``details`` carries per-dim statistics;
- ``"not_verified"``: no public digest is known (e.g. the evaluator checkpoint) -- never reported as verified.

For a mean file, dimension ``d`` moves by ``z_d = (yours_d - public_d) / public_std_d`` (in units of the public
std); for a std file by ``log(yours_d / public_d)``. Dims are named with the groups of
:class:`~motioneval.representation.layout.FeatureLayout` (``ric[5] (dim 9)``).
"""
from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._io import read_text, sha256_file
from ..constants import HUMANML3D_DATASET, KIT_DATASET, get_dataset_spec
from ..representation.layout import FeatureLayout

STATUSES = ("match", "values_match", "differs", "not_verified")
#: relative tolerance under which two statistics arrays count as the same numbers (float32 rounding is 6e-8)
VALUES_RTOL = 1e-6
#: correlation across dims above which a differing statistics file is called a drift of the public one
DRIFT_CORRELATION = 0.9
#: ``|z|`` (mean, in public stds) or ``|log ratio|`` (std) above which a dim counts as moved
MOVED_THRESHOLD = 1e-3


@functools.lru_cache(maxsize=1)
def load_fingerprints() -> dict[str, Any]:
    """The packaged fingerprint table (``assets/fingerprints.json``)."""
    text = (resources.files("motioneval") / "assets" / "fingerprints.json").read_text(encoding="utf-8")
    return json.loads(text)


def public_digests() -> dict[str, str]:
    """``{sha256: public file name}`` of every fingerprinted file."""
    return {e["sha256"]: name for name, e in load_fingerprints()["files"].items()}


def known_bad_clips(dataset: str = "humanml3d") -> list[str]:
    """Clip ids known to come out NaN in many re-processings (``protocol.md``); empty for other datasets."""
    entry = load_fingerprints()["known_bad_clips"].get(dataset)
    return list(entry["ids"]) if entry else []


@dataclass
class FileVerdict:
    """What one file is, compared with the public reference files."""

    path: str
    status: str
    reference: str | None = None  # public file name (``HumanML3D/Mean.npy``) or None
    sha256: str | None = None
    relation: str | None = None  # for "differs": "drift" or "unrelated"
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """``ok`` (verified), ``warning`` (drift of a public file), ``info`` (unverifiable or unrelated)."""
        if self.status in ("match", "values_match") and not self.details.get("order_differs"):
            return "ok"
        if (self.status == "differs" and self.relation == "drift") or self.details.get("order_differs"):
            return "warning"
        return "info"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "reference": self.reference, "sha256": self.sha256,
                "relation": self.relation, "severity": self.severity, "message": self.message,
                "details": self.details}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# ----------------------------------------------------------------------------------------- candidates
def _candidate(path: Path, dim: int | None, dataset: str | None) -> str | None:
    """The public file ``path`` should be, from its name, the array dimension and the dataset kind."""
    name, parent = path.name, path.parent.name
    if name in ("Mean.npy", "Std.npy") and dim in (None, HUMANML3D_DATASET.dim) and dataset in (None, "humanml3d"):
        return f"HumanML3D/{name}"
    if name in ("test.txt", "train.txt", "val.txt") and dataset in (None, "humanml3d"):
        return f"HumanML3D/{name}"
    if name in ("our_vab_words.pkl", "our_vab_idx.pkl"):
        return f"glove/{name}"
    stat = {"t2m_mean.npy": ("t2m", "mean"), "t2m_std.npy": ("t2m", "std"), "kit_mean.npy": ("kit", "mean"),
            "kit_std.npy": ("kit", "std")}.get(name)
    if stat is None and parent == "meta" and name in ("mean.npy", "std.npy"):
        stat = ({s.dim: s.evaluator_name for s in (HUMANML3D_DATASET, KIT_DATASET)}.get(dim or 0, "kit" if "kit" in str(path).lower() else "t2m"),
                name[:-4])
    if stat is not None:
        want = get_dataset_spec(stat[0]).dim
        if dim in (None, want):
            return f"dataset/{stat[0]}_{stat[1]}.npy"
    return None


def verify_file(path: str | Path, *, dataset: str | None = None, sha256: str | None = None) -> FileVerdict:
    """Compare one file with its public counterpart (chosen by name, dimension and ``dataset`` kind).

    ``sha256``: the digest recorded for the file (a result's provenance); the file itself is read when it
    exists (for the digest, if not given, and for per-dim statistics)."""
    p = Path(path)
    table = load_fingerprints()["files"]
    exists = p.is_file()
    digest = sha256 or (sha256_file(p) if exists else None)
    by_digest = public_digests()
    if digest is not None and digest in by_digest:
        name = by_digest[digest]
        return FileVerdict(str(p), "match", name, digest, message=f"matches the public file {name} "
                           f"({table[name]['source']})")
    dim = None
    arr = None
    if exists and p.suffix == ".npy":
        try:
            arr = _npio.load(p, allow_pickle=False)
            dim = int(arr.shape[-1]) if arr.ndim >= 1 else None
        except (ValueError, OSError):
            arr = None
    ref = _candidate(p, dim, dataset)
    if ref is None:
        what = "no public digest is known for this file"
        return FileVerdict(str(p), "not_verified", None, digest, message=f"not verified ({what})")
    entry = table[ref]
    if not exists:
        return FileVerdict(str(p), "differs", ref, digest, "unknown",
                           f"differs from the public {ref} (sha256 {digest[:12] if digest else '?'}... vs "
                           f"{entry['sha256'][:12]}...); the file is not here, so the dims that moved are unknown")
    if ref.endswith(".npy"):
        return _compare_array(p, digest, ref, entry, arr)
    if ref.endswith(".txt"):
        return _compare_split(p, digest, ref, entry)
    return FileVerdict(str(p), "differs", ref, digest, "unknown",
                       f"differs from the public {ref} (sha256 {digest[:12] if digest else '?'}... vs "
                       f"{entry['sha256'][:12]}...): a different vocabulary changes which words the evaluator "
                       f"sees as unknown")


def _compare_array(p: Path, digest: str | None, ref: str, entry: Mapping[str, Any],
                   arr: np.ndarray | None) -> FileVerdict:
    pub = np.asarray(entry["values"], dtype=np.float64)
    if arr is None or arr.shape != pub.shape:
        shape = None if arr is None else list(arr.shape)
        return FileVerdict(str(p), "differs", ref, digest, "unrelated",
                           f"differs from the public {ref}: shape {shape} vs {entry['shape']}",
                           {"shape": shape, "public_shape": entry["shape"]})
    yours = arr.astype(np.float64)
    if not np.isfinite(yours).all():
        bad = np.flatnonzero(~np.isfinite(yours))[:10].tolist()
        return FileVerdict(str(p), "differs", ref, digest, "unrelated",
                           f"differs from the public {ref}: non-finite values in dims {bad}", {"nonfinite_dims": bad})
    if np.allclose(yours, pub, rtol=VALUES_RTOL, atol=1e-12):
        return FileVerdict(str(p), "values_match", ref, digest,
                           message=f"same values as the public {ref} (within float32 rounding) but different bytes "
                                   f"(dtype {arr.dtype} vs {entry['dtype']})",
                           details={"dtype": str(arr.dtype), "max_abs_difference": float(np.abs(yours - pub).max())})
    is_std = "std" in ref.lower()
    if is_std:
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.log(np.where(yours > 0, yours, np.nan) / pub)
        unit = "log(yours / public)"
        corr_a, corr_b = np.log(np.clip(yours, 1e-12, None)), np.log(pub)
    else:
        scale = np.asarray(load_fingerprints()["files"][entry["paired_std"]]["values"], dtype=np.float64)
        score = (yours - pub) / scale
        unit = "(yours - public) / public std"
        corr_a, corr_b = yours, pub
    score = np.where(np.isfinite(score), score, np.inf)
    corr = float(np.corrcoef(corr_a, corr_b)[0, 1]) if np.std(corr_a) > 0 else 0.0
    relation = "drift" if corr > DRIFT_CORRELATION else "unrelated"
    details = per_dim_report(score, yours, pub, unit=unit)
    details.update(correlation_with_public=corr, dtype=str(arr.dtype))
    top = ", ".join(f"{d['name']} ({d['score']:+.3g})" for d in details["largest"][:5])
    if relation == "drift":
        msg = (f"differs from the public {ref}: your processing drifted; {details['moved_dims']} of "
               f"{len(pub)} dims moved (by {unit}), largest in {top}; groups: "
               + ", ".join(f"{g} {s['moved']}/{s['dims']}" for g, s in details["groups"].items() if s["moved"]))
    else:
        msg = (f"differs from the public {ref} and does not look like a drift of it (correlation {corr:.2f} "
               f"across dims): a different dataset or representation; numbers will not be comparable with "
               f"published ones")
    return FileVerdict(str(p), "differs", ref, digest, relation, msg, details)


def per_dim_report(score: np.ndarray, yours: np.ndarray, public: np.ndarray, *, unit: str,
                   top: int = 10) -> dict[str, Any]:
    """Per-dim drift statistics: the ``top`` dims by ``|score|`` (named by layout group) and per-group counts."""
    score = np.asarray(score, dtype=np.float64)
    dim = len(score)
    try:
        groups = FeatureLayout.for_dim(dim).groups()
    except ValueError:
        groups = {"dims": slice(0, dim)}
    names = [""] * dim
    for g, sl in groups.items():
        for i, d in enumerate(range(sl.start, sl.stop)):
            names[d] = f"{g}[{i}] (dim {d})"
    mag = np.abs(score)
    order = np.argsort(-mag, kind="stable")[:top]
    largest = [{"dim": int(d), "name": names[d], "score": float(score[d]), "yours": float(yours[d]),
                "public": float(public[d])} for d in order if mag[d] > MOVED_THRESHOLD]
    moved = mag > MOVED_THRESHOLD
    group_stats = {g: {"dims": sl.stop - sl.start, "moved": int(moved[sl].sum()),
                       "max_abs_score": float(mag[sl].max()), "mean_abs_score": float(mag[sl].mean())}
                   for g, sl in groups.items()}
    return {"unit": unit, "moved_dims": int(moved.sum()), "max_abs_score": float(mag.max()),
            "largest": largest, "groups": group_stats}


def _compare_split(p: Path, digest: str | None, ref: str, entry: Mapping[str, Any]) -> FileVerdict:
    import hashlib

    ids = [s.strip() for s in read_text(p, expected="a split list with one clip id per line").splitlines() if s.strip()]
    sorted_sha = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
    details: dict[str, Any] = {"num_ids": len(ids), "public_num_ids": entry["num_ids"]}
    if sorted_sha == entry["sorted_ids_sha256"]:
        same_order = "ids" in entry and ids == entry["ids"]
        details["order_differs"] = not same_order if "ids" in entry else None
        how = ("the same ids in the same order (only line endings or whitespace differ)" if same_order else
               "the same ids in a different order: the seeded draws (shuffles, crops) follow the item order, "
               "so numbers differ from a run on the public list" if "ids" in entry else "the same set of ids")
        return FileVerdict(str(p), "values_match", ref, digest, message=f"{ref}: {how}", details=details)
    if "ids" in entry:
        pub = set(entry["ids"])
        mine = set(ids)
        missing, extra = sorted(pub - mine), sorted(mine - pub)
        details.update(missing=missing[:50], num_missing=len(missing), extra=extra[:50], num_extra=len(extra))
        overlap = len(pub & mine) / max(len(mine), 1)  # a subset of the public ids is a drift of it
        relation = "drift" if overlap > 0.9 else "unrelated"
        details["share_of_ids_in_public"] = overlap
        msg = (f"differs from the public {ref}: {len(ids)} ids vs {entry['num_ids']}; {len(missing)} public ids "
               f"missing" + (f" (e.g. {', '.join(missing[:5])})" if missing else "") + f", {len(extra)} extra"
               + (f" (e.g. {', '.join(extra[:5])})" if extra else ""))
    else:
        relation = "unknown"
        msg = f"differs from the public {ref}: {len(ids)} ids vs {entry['num_ids']}"
    return FileVerdict(str(p), "differs", ref, digest, relation, msg, details)


# ----------------------------------------------------------------------------------------- folders
def verify_dataset_folder(root: str | Path, *, dataset: str | None = None,
                          splits: Iterable[str] = ("test", "train", "val")) -> list[FileVerdict]:
    """Verdicts for ``Mean.npy``, ``Std.npy`` and the split lists present in a dataset folder."""
    root = Path(root)
    out = []
    for name in ["Mean.npy", "Std.npy"] + [f"{s}.txt" for s in splits]:
        if (root / name).is_file():
            out.append(verify_file(root / name, dataset=dataset or _kind_of(root)))
    return in_context(out)


def in_context(verdicts: list[FileVerdict]) -> list[FileVerdict]:
    """Statistics that differ from the public ones beside evidence that the whole dataset or evaluator is
    another one are not a drift of the public files: their "drift" becomes "unrelated" (info, not a warning).

    - dataset statistics (``Mean.npy``/``Std.npy``) when the split lists are *not* the public ones (nor subsets);
    - evaluator statistics (``t2m_mean``/``kit_std``, ...) when the evaluator's GloVe vocabulary differs from the
      public one: the official evaluator was trained with that vocabulary, so this is another evaluator."""
    splits = [v for v in verdicts if v.reference and v.reference.endswith(".txt") and v.status != "not_verified"
              and v.relation != "unknown"]
    if splits and all(v.status == "differs" and v.relation == "unrelated" for v in splits):
        _unrelated(verdicts, "HumanML3D/", "the split list here is not the public one, so this is a different dataset")
    if any(v.status == "differs" and v.reference and v.reference.startswith("glove/") for v in verdicts):
        _unrelated(verdicts, "dataset/", "the evaluator's vocabulary is not the public one, so this is another "
                                         "evaluator than the official one")
    return verdicts


def _unrelated(verdicts: list[FileVerdict], prefix: str, why: str) -> None:
    for v in verdicts:
        if (v.status == "differs" and v.relation == "drift" and v.reference and v.reference.startswith(prefix)
                and v.reference.endswith(".npy")):
            v.relation = "unrelated"
            v.message = (f"differs from the public {v.reference}, as expected: {why} (correlation with the public "
                         f"values {v.details.get('correlation_with_public', float('nan')):.2f}); numbers will not "
                         f"be comparable with published ones")


def verify_evaluator_folder(folder: str | Path) -> list[FileVerdict]:
    """Verdicts for the statistics, vocabulary and checkpoint files found in an evaluator folder."""
    folder = Path(folder)
    if folder.is_file():
        return [verify_file(folder)]
    patterns = ("**/*mean.npy", "**/*std.npy", "**/our_vab_*.pkl", "**/*.tar", "**/*.pt", "**/*.pth")
    seen: dict[Path, None] = {}
    for pat in patterns:
        for p in sorted(folder.glob(pat)):
            seen.setdefault(p, None)
    return in_context([verify_file(p) for p in seen])


def _kind_of(root: Path) -> str | None:
    mean = root / "Mean.npy"
    try:
        dim = _npio.load(mean, mmap_mode="r", allow_pickle=False).shape[-1]
    except (OSError, ValueError, IndexError):  # absent or unreadable: the other checks report it
        return None
    return {s.dim: s.name for s in (HUMANML3D_DATASET, KIT_DATASET)}.get(int(dim))


def verify_provenance(provenance: Mapping[str, Any], *, dataset: str | None = None) -> list[FileVerdict]:
    """Verdicts for every ``{path: sha256}`` pair found anywhere in a result's provenance.

    Paths that still exist are read for per-dim statistics; the recorded digest is what is verified."""
    if dataset is None:
        ds = provenance.get("dataset") if isinstance(provenance, Mapping) else None
        dataset = ds.get("kind") if isinstance(ds, Mapping) else None
    pairs: dict[str, str] = {}

    def walk(obj: Any) -> None:
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                if isinstance(v, str) and _is_sha256(v) and k not in ("sha256", "content_sha256"):
                    pairs.setdefault(str(k), v)
                else:
                    walk(v)

    walk(provenance)
    return in_context([verify_file(path, dataset=dataset, sha256=digest) for path, digest in pairs.items()])


def provenance_fingerprints(provenance: Mapping[str, Any], *, dataset: str | None = None) -> dict[str, Any]:
    """``{path: verdict dict}`` to store as ``provenance["fingerprints"]`` of a result (see module docstring)."""
    return {v.path: {k: x for k, x in v.to_dict().items() if k != "path"}
            for v in verify_provenance(provenance, dataset=dataset)}


def _is_sha256(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s.lower())


def summarize(verdicts: Iterable[FileVerdict]) -> str:
    """One line per verdict, status first."""
    labels = {"match": "MATCH", "values_match": "SAME VALUES", "differs": "DIFFERS", "not_verified": "NOT VERIFIED"}
    return "\n".join(f"  {labels.get(v.status, v.status):12s} {v}" for v in verdicts)


def worst_severity(verdicts: Iterable[FileVerdict]) -> str:
    rank = {"ok": 0, "info": 1, "warning": 2}
    return max((v.severity for v in verdicts), key=rank.__getitem__, default="info")


def drifted_dataset_files(root: str | Path, split_path: str | Path | None,
                          dataset: str | None) -> list[FileVerdict]:
    """Verdicts of the dataset folder's ``Mean.npy``/``Std.npy`` and split list that drifted from their public
    counterparts (unrelated or unverifiable files are not drift)."""
    root = Path(root)
    paths = [root / "Mean.npy", root / "Std.npy"] + ([Path(split_path)] if split_path is not None else [])
    return [v for v in in_context([verify_file(p, dataset=dataset) for p in paths if p.is_file()])
            if v.severity == "warning"]
