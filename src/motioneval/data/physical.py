"""Physical metrics (:mod:`motioneval.metrics.physical`) of sample sets, MDM results and motion files.

Joint positions come from the source as they are (joints sample sets, MDM ``results.npy``, ``(T, J, 3)``
``.npy`` files) or from raw 263/251-d features through ``features_to_joints`` (``L`` feature rows give ``L``
joint frames). Normalized features are de-normalized with the statistics the caller passes; nothing is
guessed. The frame rate is, in this order, the ``fps`` argument, the sample set's ``metadata["fps"]``, or the
skeleton's (HumanML3D 20, KIT-ML 12.5); :attr:`PhysicsReport.fps_source` says which. Likewise the unit of
the positions: the ``unit`` argument, ``metadata["unit"]``, or the dataset's (HumanML3D metres, KIT-ML
millimetres: its features hold a root height around 560); :attr:`PhysicsReport.unit_source`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from ..constants import HUMANML3D_DATASET, KIT_DATASET
from ..metrics.physical import METRICS, PhysicalConfig, get_variant, physical_metrics
from .samples import SampleSet

PathLike = str | os.PathLike

__all__ = [
    "PhysicsReport",
    "physical_columns_for_motions",
    "physical_metrics_from_file",
    "physical_metrics_from_samples",
    "reference_ratios",
    "samples_to_joints",
]


@dataclass
class PhysicsReport:
    """Per-row physical metrics of one source, with what was assumed to compute them."""

    source: str
    variant: PhysicalConfig
    fps: float
    fps_source: str  # "argument" | "metadata" | "skeleton <name>"
    unit: str  # unit of the source's positions (metrics are always in metres)
    unit_source: str  # "argument" | "metadata" | "skeleton <name>"
    kind: str  # what the source held: "joints" or "features"
    skeleton: str
    ids: list[str]
    lengths: np.ndarray  # joint frames per row
    values: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return len(self.ids)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per metric: mean and std over rows (NaN rows skipped) and the number of rows with a value."""
        out: dict[str, dict[str, float]] = {}
        for key, v in self.values.items():
            finite = v[np.isfinite(v)]
            out[key] = {
                "mean": float(finite.mean()) if finite.size else float("nan"),
                "std": float(finite.std()) if finite.size else float("nan"),
                "rows": int(finite.size),
            }
        return out

    def to_dict(self, *, per_row: bool = False) -> dict[str, Any]:
        """JSON-ready: settings, summary, and optionally the per-row values (NaN as None)."""
        cfg = self.variant
        out: dict[str, Any] = {
            "source": self.source,
            "variant": cfg.name,
            "variant_source": cfg.source,
            "settings": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__ if k not in ("name", "source", "notes")},
            "fps": self.fps,
            "fps_source": self.fps_source,
            "unit": self.unit,
            "unit_source": self.unit_source,
            "kind": self.kind,
            "skeleton": self.skeleton,
            "rows": self.num_rows,
            "units": {k: METRICS[k].unit for k in self.values},
            "summary": _nan_to_none(self.summary()),
        }
        if per_row:
            out["ids"] = list(self.ids)
            out["per_row"] = {k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in self.values.items()}
        return out


def samples_to_joints(samples: SampleSet, *, skeleton: Any = None, stats: Any = None) -> tuple[np.ndarray, np.ndarray, Any]:
    """Joint positions ``(N, T, J, 3)``, lengths and skeleton of a sample set (features through the inverse).

    Features normalized with ``"dataset"`` or ``"evaluator"`` statistics need those statistics as ``stats``
    (a :class:`~motioneval.representation.normalization.FeatureStats`).
    """
    from ..representation.skeleton import skeleton_for_dim, skeleton_for_joints

    if samples.kind == "joints":
        num_joints = samples.motions.shape[2]
        skel = skeleton or skeleton_for_joints(num_joints)
        return samples.motions, samples.lengths, skel
    from ..representation.inverse import features_to_joints

    feats = samples.motions
    if samples.normalization != "raw":
        if stats is None:
            raise ValueError(
                f"these features are normalized ({samples.normalization!r}); physical metrics need raw features. "
                f"Pass the statistics they were normalized with (stats=FeatureStats...; CLI: --mean/--std), or "
                f"store raw features")
        feats = np.asarray(stats.denormalize(feats), dtype=np.float32)
        feats[np.arange(feats.shape[1])[None, :] >= samples.lengths[:, None]] = 0.0
    skel = skeleton or skeleton_for_dim(feats.shape[-1])
    joints = features_to_joints(feats.astype(np.float64), skeleton=skel)
    return joints, samples.lengths, skel


def physical_metrics_from_samples(samples: SampleSet, *, variant: str | PhysicalConfig | None = None,
                                  fps: float | None = None, unit: str | None = None, skeleton: Any = None,
                                  stats: Any = None, source: str = "samples", **kwargs: Any) -> PhysicsReport:
    """Per-row physical metrics of a :class:`SampleSet` (features or joints). ``kwargs`` go to ``physical_metrics``.

    ``fps`` / ``unit`` default to the set's metadata, else the dataset's (see the module docstring).
    """
    cfg = get_variant(variant)
    joints, lengths, skel = samples_to_joints(samples, skeleton=skeleton, stats=stats)
    rate, rate_source = _resolve_fps(fps, samples.metadata, skel)
    unit_name, unit_source = _resolve_unit(unit, samples.metadata, skel)
    values = physical_metrics(joints, rate, lengths, variant=cfg, skeleton=skel, unit=unit_name, **kwargs)
    return PhysicsReport(source=source, variant=cfg, fps=rate, fps_source=rate_source, unit=unit_name,
                         unit_source=unit_source, kind=samples.kind,
                         skeleton=skel.name, ids=list(samples.ids or []), lengths=np.asarray(lengths),
                         values=values)  # type: ignore[arg-type]


def physical_metrics_from_file(path: PathLike, *, variant: str | PhysicalConfig | None = None,
                               fps: float | None = None, allow_pickle: bool = False, skeleton: Any = None,
                               stats: Any = None, **kwargs: Any) -> PhysicsReport:
    """Physical metrics of a file: a motioneval ``.npz`` sample set, a sample folder, MDM's ``results.npy``
    (``allow_pickle=True``), or a plain ``.npy`` array: joints ``(T, J, 3)`` / ``(N, T, J, 3)`` or raw features
    ``(T, 263|251)`` / ``(N, T, 263|251)`` (plain feature arrays are taken as raw, unnormalized features)."""
    from .samples import load_samples

    path = Path(path)
    if path.suffix == ".npy" and path.is_file():
        try:
            arr = _npio.load(path, allow_pickle=False)
        except ValueError:  # a pickle: MDM's results.npy
            arr = None
        except Exception as exc:
            raise ValueError(f"{path}: cannot read as a NumPy file: {exc}") from exc
        if arr is not None:
            samples = _array_to_samples(arr, path)
            return physical_metrics_from_samples(samples, variant=variant, fps=fps, skeleton=skeleton,
                                                 stats=stats, source=str(path), **kwargs)
    samples = load_samples(path, allow_pickle=allow_pickle)
    return physical_metrics_from_samples(samples, variant=variant, fps=fps, skeleton=skeleton, stats=stats,
                                         source=str(path), **kwargs)


def physical_columns_for_motions(motions: Any, lengths: Any, *, kind: str = "features", normalization: str = "raw",
                                 stats: Any = None, fps: float | None = None, skeleton: Any = None,
                                 variant: str | PhysicalConfig | None = None, **kwargs: Any) -> dict[str, np.ndarray]:
    """Per-row ``{"phys_<metric>": (N,)}`` of a generator's output or a ground-truth batch (for results tables).

    ``motions``: ``(N, T, D)`` features (``normalization`` "raw", or "dataset"/"evaluator" with ``stats``) or
    ``(N, T, J, 3)`` joints (``kind="joints"``), numpy or torch; ``lengths``: ``(N,)``. ``fps`` defaults to the
    skeleton's (HumanML3D 20, KIT-ML 12.5). Labels, units and directions: ``METRICS[key[5:]]``.
    """
    from .._arrays import to_numpy

    arr = to_numpy(motions)
    n = arr.shape[0]
    samples = SampleSet(captions=[""] * n, lengths=to_numpy(lengths), motions=arr, kind=kind,
                        normalization=normalization if kind == "features" else "raw")
    report = physical_metrics_from_samples(samples, variant=variant, fps=fps, skeleton=skeleton, stats=stats,
                                           **kwargs)
    return {f"phys_{k}": v for k, v in report.values.items()}


def reference_ratios(values: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, float]:
    """``nanmean(values[k]) / nanmean(reference[k])`` per shared key (e.g. "jitter 4x ground truth");
    NaN where the reference mean is 0 or undefined."""
    out: dict[str, float] = {}
    for key in values.keys() & reference.keys():
        a, b = np.asarray(values[key], np.float64), np.asarray(reference[key], np.float64)
        ma = float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")
        mb = float(np.nanmean(b)) if np.isfinite(b).any() else float("nan")
        out[key] = ma / mb if np.isfinite(mb) and mb != 0 else float("nan")
    return out


def _array_to_samples(arr: np.ndarray, path: Path) -> SampleSet:
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{path}: expected a numeric array of joints or features; got dtype {arr.dtype}")
    if arr.ndim in (3, 4) and arr.shape[-1] == 3:
        kind, batch = "joints", arr if arr.ndim == 4 else arr[None]
    elif arr.ndim in (2, 3) and arr.shape[-1] in (HUMANML3D_DATASET.dim, KIT_DATASET.dim):
        kind, batch = "features", arr if arr.ndim == 3 else arr[None]
    else:
        raise ValueError(f"{path}: array of shape {arr.shape} is neither joints (T, J, 3) / (N, T, J, 3) nor "
                         f"{HUMANML3D_DATASET.dim}/{KIT_DATASET.dim}-d features (T, D) / (N, T, D)")
    n, t = batch.shape[:2]
    bad = np.flatnonzero(~np.isfinite(batch.reshape(n, -1)).all(axis=1))
    if bad.size:
        raise ValueError(f"{path}: clip {int(bad[0])} contains NaN or Inf; a plain array has no lengths, so every "
                         f"frame counts (use a sample file with lengths for padded clips)")
    stem = path.stem
    return SampleSet(captions=[""] * n, lengths=np.full(n, t), motions=batch, kind=kind, normalization="raw",
                     ids=[stem] if n == 1 else [f"{stem}[{i}]" for i in range(n)])


def _resolve_fps(fps: float | None, metadata: dict[str, Any], skeleton: Any) -> tuple[float, str]:
    if fps is not None:
        return float(fps), "argument"
    meta = metadata.get("fps") if isinstance(metadata, dict) else None
    if meta is not None:
        try:
            value = float(meta)
        except (TypeError, ValueError):
            raise ValueError(f"sample metadata 'fps' is {meta!r}, not a number; pass fps explicitly") from None
        return value, "metadata"
    return float(skeleton.fps), f"skeleton {skeleton.name}"


_DATASET_UNITS = {"humanml3d": "m", "kit": "mm"}


def _resolve_unit(unit: str | None, metadata: dict[str, Any], skeleton: Any) -> tuple[str, str]:
    if unit is not None:
        return unit, "argument"
    meta = metadata.get("unit") if isinstance(metadata, dict) else None
    if meta is not None:
        return str(meta), "metadata"
    name = getattr(skeleton, "name", None)
    if name not in _DATASET_UNITS:
        raise ValueError(f"the unit of positions for skeleton {name!r} is unknown; pass unit= ('m', 'cm', 'mm')")
    return _DATASET_UNITS[name], f"skeleton {name}"


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
