"""Where a T2M evaluator's statistics (``mean.npy``/``std.npy``) live: the one search, torch-free.

Used by :meth:`~motioneval.evaluators.t2m.T2MEvaluator.load`, the doctor and ``motioneval render``. The layouts
users have (``docs/formats.md``), for a dataset ``<ds>`` (``t2m`` or ``kit``) below a root folder:

1. ``checkpoints/<ds>/<preferred>/meta`` or ``<ds>/<preferred>/meta``: the meta folder a preset names
   (``Preset.evaluator_statistics``), wherever it exists;
2. ``<ds>_mean.npy``, ``dataset/<ds>_mean.npy`` (MDM's copies), ``<ds>/meta/mean.npy``;
3. any ``checkpoints/<ds>/*/meta`` or ``<ds>/*/meta`` folder: ``Comp_v6_KLD01`` first (text-to-motion's
   evaluation lineage), then ``Comp_v6_KLD005``, then the others by name.

Never the dataset's own ``Mean.npy``/``Std.npy``: the evaluator was trained with different statistics.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from .. import _npio
from ..constants import HUMANML3D_DATASET, KIT_DATASET, dataset_spec_for_dim

logger = logging.getLogger(__name__)

__all__ = ["META_PREFERENCE", "meta_rank", "stats_candidates", "find_stats", "find_evaluator_stats"]

#: Meta folders (inside ``checkpoints/<dataset>/``) preferred when several exist, best first.
META_PREFERENCE = ("Comp_v6_KLD01", "Comp_v6_KLD005")


def meta_rank(path: Path) -> tuple[int, str]:
    """Sort key of a ``<name>/meta/mean.npy``: ``Comp_v6_KLD01`` first, then ``Comp_v6_KLD005``, then by name.
    (Sorting the names alone would put ``KLD005`` before ``KLD01``.)"""
    name = path.parent.parent.name
    rank = META_PREFERENCE.index(name) if name in META_PREFERENCE else len(META_PREFERENCE)
    return rank, str(path)


def _preferred_pairs(root: Path, dataset: str, preferred: str) -> list[tuple[Path, Path]]:
    return [(m, m.with_name("std.npy")) for m in (root / "checkpoints" / dataset / preferred / "meta" / "mean.npy",
                                                  root / dataset / preferred / "meta" / "mean.npy")]


def _plain_pairs(root: Path, dataset: str) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Step 2 and 3 candidates below ``root`` (existing or not), and the meta folders found (for the log)."""
    pairs = [
        (root / f"{dataset}_mean.npy", root / f"{dataset}_std.npy"),
        (root / "dataset" / f"{dataset}_mean.npy", root / "dataset" / f"{dataset}_std.npy"),
        (root / dataset / "meta" / "mean.npy", root / dataset / "meta" / "std.npy"),
    ]
    metas = sorted({*root.glob(f"checkpoints/{dataset}/*/meta/mean.npy"), *root.glob(f"{dataset}/*/meta/mean.npy")},
                   key=meta_rank)
    return pairs + [(m, m.with_name("std.npy")) for m in metas], metas


def stats_candidates(roots: Sequence[Path], dataset: str, *, preferred: str | None = None) -> list[tuple[Path, Path]]:
    """Every ``(mean, std)`` candidate below ``roots`` for ``dataset``, in the order of the module docstring
    (the preferred meta folder over all roots first, then each root's own order). Files may not exist."""
    out: list[tuple[Path, Path]] = []
    if preferred:
        for root in roots:
            out += _preferred_pairs(Path(root), dataset, preferred)
    for root in roots:
        out += _plain_pairs(Path(root), dataset)[0]
    return out


def find_stats(roots: Sequence[Path], dataset: str, *, preferred: str | None = None) -> tuple[Path, Path]:
    """The first existing ``(mean, std)`` pair of :func:`stats_candidates`; ``FileNotFoundError`` listing every
    place looked at when there is none."""
    tried: list[str] = []
    if preferred:  # the lineage's own meta folder wins wherever it exists
        for root in roots:
            for m, s in _preferred_pairs(Path(root), dataset, preferred):
                tried.append(str(m))
                if m.is_file() and s.is_file():
                    return m, s
    for root in roots:
        pairs, metas = _plain_pairs(Path(root), dataset)
        for m, s in pairs:
            tried.append(str(m))
            if m.is_file() and s.is_file():
                if len(metas) > 1 and m in metas:
                    logger.info("several meta statistics found for %s; using %s", dataset, m.parent)
                return m, s
    raise FileNotFoundError(
        f"no {dataset!r} evaluator statistics found; looked for " + ", ".join(tried)
        + f". They ship with MDM as dataset/{dataset}_mean.npy and dataset/{dataset}_std.npy, or with text-to-motion as "
        f"checkpoints/{dataset}/Comp_v6_KLD01/meta/mean.npy and std.npy; pass mean=<path>, std=<path>. "
        f"(Not the dataset's own Mean.npy/Std.npy: the evaluator was trained with different statistics.)"
    )


def find_evaluator_stats(folder: str | Path, dim: int | None = None, *,
                         preferred: str | None = None) -> tuple[Path, Path] | None:
    """The ``(mean, std)`` evaluator statistics in ``folder``, or ``None`` (a lookup for reports, not a load).

    Both datasets are searched (the one whose feature dimension is ``dim`` first), then a bare
    ``meta/mean.npy``; with ``dim``, the first pair whose mean has ``dim`` entries wins, else the first found.
    """
    folder = Path(folder)
    names = [HUMANML3D_DATASET.evaluator_name, KIT_DATASET.evaluator_name]
    if dim is not None:
        try:
            first = dataset_spec_for_dim(dim).evaluator_name
        except ValueError:  # an unknown size: the mean's shape decides below
            first = names[0]
        names.sort(key=lambda n: n != first)
    candidates = [pair for name in names for pair in stats_candidates([folder], name, preferred=preferred)]
    candidates.append((folder / "meta" / "mean.npy", folder / "meta" / "std.npy"))
    found = [(m, s) for m, s in candidates if m.is_file() and s.is_file()]
    if not found:
        return None
    if dim is None:
        return found[0]
    for m, s in found:
        try:
            if _npio.load(m, mmap_mode="r", allow_pickle=False).shape == (dim,):
                return m, s
        except (OSError, ValueError):
            continue
    return found[0]
