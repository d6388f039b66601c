"""HumanML3D / KIT-ML dataset folders: the protocol's ground-truth items and a validation report.

A folder holds ``new_joint_vecs/<id>.npy`` (T, 263) features (KIT: 251), ``new_joints/<id>.npy`` joint
positions, ``texts/<id>.txt`` captions, ``Mean.npy``/``Std.npy`` and split lists (``test.txt``, one id per
line). Items are built as the reference loader builds them (``protocol.md``, "Ground-truth items"):

1. a clip is skipped unless ``min_length <= T < max_length`` (40 <= T < 200; KIT 24 <= T < 200), before its
   captions are read, so segments of a skipped clip are never used either;
2. the captions with ``from == to == 0`` together form the whole-clip item, with id ``<clip id>``; it exists
   only if there is at least one such caption;
3. every other caption becomes its own item, frames ``[int(from*fps), int(to*fps))`` of the clip (Python
   slice semantics), kept if its length is within the same bounds. The reference names it with a random
   letter, ``X_<clip id>``; here the letter is deterministic: ``A_`` for the clip's first segment line,
   ``B_`` for the second, ... (``Z_``, ``AA_``, ...).

Items are listed in the reference's insertion order (per clip: its segment items, then the whole item);
:meth:`MotionDataset.length_order` gives the reference's stable sort by length. Per-access randomness
(crops, caption choice) belongs to the protocol, not here.

Everything is checked in one pass over the split before any long work, into a :class:`DatasetReport`:
missing or unreadable files, wrong feature dimensions, NaN/Inf frames (naming the clip and the items they
reach), missing or empty caption files, malformed caption lines (naming file and line), and, as *filtered*
notices, clips and segments outside the length bounds.
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import _npio
from .._arrays import nonfinite_rows
from .._io import utf8_error_where
from .._progress import progress as _progress
from ..constants import HUMANML3D_DATASET, KIT_DATASET, DatasetSpec, dataset_spec_for_dim, get_dataset_spec
from ..representation.normalization import FeatureStats
from .captions import Caption, parse_captions
from .fingerprints import drifted_dataset_files

PathLike = str | os.PathLike

#: Severities: ``error`` makes a clip or item unusable; ``warning`` is harmless but worth knowing;
#: ``filtered`` is the protocol's own length filter at work (not a fault in the data).
SEVERITIES = ("error", "warning", "filtered")


# DatasetSpec, HUMANML3D_DATASET, KIT_DATASET and get_dataset_spec live in motioneval.constants (re-exported
# here). KIT-ML is recorded at 12.5 fps, but text-to-motion's loader (reused by MDM and MoMask) converts caption
# times with 20: `evaluate` reads the dataset with the preset's ``fps`` (``presets.KIT_TIME_RATE``), not this default.

#: Largest magnitude a ground-truth feature may have. Real HumanML3D features stay within a few units and
#: KIT-ML's (millimetres) within a few thousand; finite values beyond this (1e38, say) are corrupt data
#: that would overflow to inf after normalization, so the scan reports them as errors of the clip.
MAX_ABS_FEATURE = 1e6


@dataclass(frozen=True)
class Problem:
    """One finding of the validation pass. ``id`` is the clip id (``None`` for folder-level findings)."""

    kind: str
    severity: str
    id: str | None
    message: str
    path: str | None = None
    line: int | None = None
    items: tuple[str, ...] = ()  # item ids affected (nonfinite frames)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["items"] = list(self.items)
        return out


@dataclass(frozen=True)
class DatasetReport:
    """Result of the one-pass validation of a split. ``ok`` is true when there is no error."""

    root: str
    split: str
    kind: str
    num_ids: int
    num_clips: int  # clips that give at least one item
    num_items: int
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def filtered(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "filtered"]

    @property
    def bad_ids(self) -> list[str]:
        """Clip ids with at least one error, in split order."""
        return list(dict.fromkeys(p.id for p in self.errors if p.id is not None))

    def counts(self) -> dict[str, dict[str, int]]:
        """``{severity: {kind: count}}``."""
        out: dict[str, dict[str, int]] = {s: {} for s in SEVERITIES}
        for p in self.problems:
            out[p.severity][p.kind] = out[p.severity].get(p.kind, 0) + 1
        return out

    def summary(self, *, max_per_kind: int = 10, include_filtered: bool = False) -> str:
        """Human-readable report: totals, then each problem kind with up to ``max_per_kind`` examples."""
        counts = self.counts()
        n_err, n_warn, n_filt = (sum(counts[s].values()) for s in SEVERITIES)
        lines = [
            f"{self.kind} dataset {self.root}, split {self.split!r}: {self.num_ids} ids -> {self.num_items} items "
            f"from {self.num_clips} clips",
            f"{'OK' if self.ok else 'PROBLEMS'}: {n_err} error(s), {n_warn} warning(s), {n_filt} clip(s)/segment(s) "
            f"outside the protocol's length bounds (skipped, as the protocol does)",
        ]
        for severity in SEVERITIES:
            if severity == "filtered" and not include_filtered:
                continue
            for kind in counts[severity]:
                found = [p for p in self.problems if p.severity == severity and p.kind == kind]
                lines.append(f"{severity} {kind} ({len(found)}):")
                lines.extend(f"  {p.message}" for p in found[:max_per_kind])
                if len(found) > max_per_kind:
                    more = [p.id for p in found[max_per_kind:] if p.id is not None]
                    lines.append(f"  ... and {len(found) - max_per_kind} more" +
                                 (f" (ids {', '.join(more[:50])}{', ...' if len(more) > 50 else ''})" if more else ""))
        if not self.ok:
            lines.append("Fix or regenerate these files, or skip the affected items: `motioneval evaluate "
                         "--skip-bad-items ...` (in Python: MotionDataset(..., on_problem='skip')).")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "split": self.split,
            "kind": self.kind,
            "ok": self.ok,
            "num_ids": self.num_ids,
            "num_clips": self.num_clips,
            "num_items": self.num_items,
            "counts": self.counts(),
            "bad_ids": self.bad_ids,
            "problems": [p.to_dict() for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


class DatasetError(ValueError):
    """The dataset has errors and ``on_problem='raise'``; ``.report`` holds the full report."""

    def __init__(self, report: DatasetReport) -> None:
        super().__init__(report.summary())
        self.report = report


@dataclass(frozen=True)
class ItemInfo:
    """A ground-truth item: frames ``[start, end)`` of clip ``clip_id`` with its captions."""

    id: str
    clip_id: str
    start: int
    end: int
    captions: tuple[Caption, ...]

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def is_segment(self) -> bool:
        return self.id != self.clip_id


@dataclass(frozen=True, eq=False)
class DatasetItem(ItemInfo):
    """An :class:`ItemInfo` with its features, float32 ``(length, D)`` (not normalized)."""

    features: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment,arg-type]


@dataclass
class _Scan:
    report: DatasetReport
    items: list[ItemInfo]
    spec: DatasetSpec
    stats: FeatureStats | None
    clips: dict[str, np.ndarray]  # preloaded features of the clips that give items


class MotionDataset:
    """The ground-truth items of one split of a HumanML3D / KIT-ML folder, validated on construction.

    ``dataset[i]`` is a :class:`DatasetItem` (id, clip id, frame range, all captions with tokens, features
    ``(length, D)`` float32 as stored, not normalized). ``dataset.items`` lists the items without features.

    Parameters: ``split`` is a split name (``<root>/<split>.txt``) or a path to a split file; ``kind`` is
    ``"humanml3d"``, ``"kit"``, a :class:`DatasetSpec` or ``None`` to infer it from ``Mean.npy`` or the first
    feature file; ``on_problem="raise"`` raises :class:`DatasetError` when the report has errors,
    ``"skip"`` drops the affected items with a warning; ``preload`` keeps the features in memory (about
    0.15 MB per HumanML3D clip), otherwise each access reads its file; ``check_joints`` also checks
    ``new_joints/`` (shapes only); ``progress`` shows a bar on stderr.
    """

    def __init__(
        self,
        root: PathLike,
        split: str | PathLike = "test",
        *,
        kind: str | DatasetSpec | None = None,
        on_problem: Literal["raise", "skip"] = "raise",
        preload: bool = True,
        check_joints: bool = False,
        progress: bool = False,
        features_dir: str = "new_joint_vecs",
        joints_dir: str = "new_joints",
        texts_dir: str = "texts",
    ) -> None:
        if on_problem not in ("raise", "skip"):
            raise ValueError(f"on_problem must be 'raise' or 'skip'; got {on_problem!r}")
        self.root = Path(root)
        self._features_dir = self.root / features_dir
        self._joints_dir = self.root / joints_dir
        scan = _scan(self.root, split, kind=kind, preload=preload, check_joints=check_joints,
                     progress=progress, features_dir=features_dir, joints_dir=joints_dir, texts_dir=texts_dir)
        self.report: DatasetReport = scan.report
        self.spec: DatasetSpec = scan.spec
        self.stats: FeatureStats | None = scan.stats  # the dataset's Mean.npy / Std.npy, if readable
        items = scan.items
        if not scan.report.ok:
            if on_problem == "raise":
                raise DatasetError(scan.report)
            dropped = {i for p in scan.report.errors for i in p.items}
            items = [it for it in items if it.id not in dropped]
            warnings.warn(
                f"{self.root}: skipping {len(scan.report.bad_ids)} clip(s) with errors "
                f"({', '.join(scan.report.bad_ids[:10])}{', ...' if len(scan.report.bad_ids) > 10 else ''}); "
                f"{len(items)} items remain. Run `motioneval check-dataset {self.root}` for details.",
                stacklevel=2,
            )
        self.items: tuple[ItemInfo, ...] = tuple(items)
        used = {it.clip_id for it in self.items}
        self._clips = {k: v for k, v in scan.clips.items() if k in used} if preload else {}
        self._index = {it.id: n for n, it in enumerate(self.items)}

    @property
    def ids(self) -> list[str]:
        return [it.id for it in self.items]

    @property
    def lengths(self) -> np.ndarray:
        """Item lengths in frames, int64 ``(N,)``."""
        return np.array([it.length for it in self.items], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int | str) -> DatasetItem:
        if not isinstance(index, (int, np.integer, str)):
            raise TypeError(f"items are indexed by position or item id; got {type(index).__name__}")
        info = self.items[self.index_of(index) if isinstance(index, str) else index]
        return DatasetItem(**{k: getattr(info, k) for k in ("id", "clip_id", "start", "end", "captions")},
                           features=self._features(info))

    def __iter__(self) -> Iterator[DatasetItem]:
        for n in range(len(self)):
            yield self[n]

    def index_of(self, item_id: str) -> int:
        try:
            return self._index[item_id]
        except KeyError:
            raise KeyError(f"no item {item_id!r} in {self.root} (it may have been filtered or skipped)") from None

    def features(self, index: int | str) -> np.ndarray:
        """Features of one item, float32 ``(length, D)``; a view into the preloaded clip when preloaded."""
        return self[index].features

    def joints(self, index: int | str) -> np.ndarray:
        """Joint positions of one item from ``new_joints/<clip>.npy``, the item's frame range, float32."""
        info = self.items[self.index_of(index) if isinstance(index, str) else index]
        path = self._joints_dir / f"{info.clip_id}.npy"
        if not path.is_file():
            raise FileNotFoundError(f"joints of clip {info.clip_id} not found: {path}")
        joints = _npio.load(path, mmap_mode="r", allow_pickle=False)
        return np.array(joints[info.start:info.end], dtype=np.float32)

    def length_order(self) -> np.ndarray:
        """Item indices stably sorted by length: the order the reference loader keeps its items in."""
        return np.argsort(self.lengths, kind="stable")

    def _features(self, info: ItemInfo) -> np.ndarray:
        clip = self._clips.get(info.clip_id)
        if clip is None:
            path = self._features_dir / f"{info.clip_id}.npy"
            clip = _npio.load(path, mmap_mode="r", allow_pickle=False)
            return np.array(clip[info.start:info.end], dtype=np.float32)
        return clip[info.start:info.end]

    def __repr__(self) -> str:
        return (f"MotionDataset({str(self.root)!r}, split={self.report.split!r}, kind={self.spec.name!r}, "
                f"items={len(self)})")


def check_dataset(
    root: PathLike,
    split: str | PathLike = "test",
    *,
    kind: str | DatasetSpec | None = None,
    check_joints: bool = False,
    progress: bool = False,
    features_dir: str = "new_joint_vecs",
    joints_dir: str = "new_joints",
    texts_dir: str = "texts",
) -> DatasetReport:
    """Validate one split of a dataset folder in one pass and return the report (never raises on bad data)."""
    return _scan(Path(root), split, kind=kind, preload=False, check_joints=check_joints, progress=progress,
                 features_dir=features_dir, joints_dir=joints_dir, texts_dir=texts_dir).report


def segment_item_id(clip_id: str, segment_number: int) -> str:
    """Id of a clip's ``segment_number``-th (0-based) segment line: ``A_<id>``, ``B_<id>``, ..., ``AA_<id>``."""
    n = segment_number + 1
    letters = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return f"{letters}_{clip_id}"


# --------------------------------------------------------------------------------------------- the scan


def _read_split(root: Path, split: str | PathLike) -> tuple[str, Path, list[str]]:
    split_path = Path(split)
    if split_path.is_dir() and not (root / f"{split}.txt").is_file():
        raise IsADirectoryError(f"split {split_path} is a folder; pass a split name (e.g. test, for "
                                f"<dataset>/test.txt) or a split list file")
    if split_path.suffix != ".txt" or not split_path.exists():
        split_path = root / f"{split}.txt"
    if not root.is_dir():
        raise (NotADirectoryError if root.exists() else FileNotFoundError)(
            f"dataset folder {'is a file, not a folder' if root.exists() else 'not found'}: {root}")
    if split_path.is_dir():
        raise IsADirectoryError(f"split file {split_path} is a folder; the split list must be a text file with one "
                                f"clip id per line")
    if not split_path.is_file():
        found = sorted(p.name for p in root.glob("*.txt") if p.is_file())
        raise FileNotFoundError(
            f"split file not found: {split_path} (split lists in {root}: {', '.join(found) or 'none'})")
    try:
        text = split_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = split_path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ValueError(f"{split_path}, line {line}: not UTF-8 text (byte {exc.object[exc.start]:#04x}); a split "
                         f"list holds one clip id per line") from None
    ids = [line.strip() for line in text.splitlines()]
    for number, clip_id in enumerate(ids, start=1):
        if "/" in clip_id or "\\" in clip_id or clip_id in (".", "..") or "\x00" in clip_id:
            raise ValueError(f"{split_path}, line {number}: {clip_id!r} is not a clip id (ids name files in "
                             f"new_joint_vecs/ and texts/; no path separators)")
    name = split_path.stem if split_path.parent.resolve() == root.resolve() else str(split_path)
    return name, split_path, [i for i in ids if i]


def _infer_spec(kind: str | DatasetSpec | None, root: Path, features: Path, ids: list[str]) -> DatasetSpec:
    if kind is not None:
        return get_dataset_spec(kind)
    dim = None
    mean = root / "Mean.npy"
    candidates = [features / f"{i}.npy" for i in ids[:50]] + [mean]  # the data first: Mean.npy may be wrong
    for path in candidates:
        try:
            arr = _npio.load(path, mmap_mode="r", allow_pickle=False)
        except Exception:  # missing or unreadable: the scan reports it; try the next file
            continue
        if arr.ndim in (1, 2):
            dim = arr.shape[-1]
            break
    if dim is not None:
        try:
            return dataset_spec_for_dim(dim)
        except ValueError:
            pass
    raise ValueError(
        f"cannot tell whether {root} is HumanML3D ({HUMANML3D_DATASET.dim}-d) or KIT-ML ({KIT_DATASET.dim}-d) "
        "features"
        + (f": found {dim}-d" if dim is not None else ": no readable Mean.npy or feature file")
        + "; pass kind='humanml3d' or kind='kit'"
    )


def _scan(root: Path, split: str | PathLike, *, kind: str | DatasetSpec | None, preload: bool,
          check_joints: bool, progress: bool, features_dir: str, joints_dir: str, texts_dir: str) -> _Scan:
    split_name, split_path, ids = _read_split(root, split)
    feat_dir, joint_dir, text_dir = root / features_dir, root / joints_dir, root / texts_dir
    for folder, what in ((feat_dir, "features"), (text_dir, "captions")):
        if not folder.is_dir():
            raise FileNotFoundError(f"{what} folder not found: {folder} (expected a HumanML3D/KIT-ML folder layout)")
    spec = _infer_spec(kind, root, feat_dir, ids)
    problems: list[Problem] = []
    stats = _load_stats(root, spec, problems)
    problems.extend(_fingerprint_problems(root, split_path, spec.name))
    if check_joints and not joint_dir.is_dir():
        problems.append(Problem("missing_joints_folder", "warning", None, f"joints folder not found: {joint_dir}",
                                path=str(joint_dir)))
        check_joints = False

    seen: set[str] = set()
    items: list[ItemInfo] = []
    clips: dict[str, np.ndarray] = {}
    clips_with_items = 0
    for clip_id in _progress(ids, total=len(ids), desc="checking dataset", enable=progress, unit="clip"):
        if clip_id in seen:
            problems.append(Problem("duplicate_id", "warning", clip_id,
                                    f"{clip_id}: listed more than once in {split_path.name}; used once"))
            continue
        seen.add(clip_id)
        clip_items, data = _scan_clip(clip_id, spec, feat_dir, text_dir, joint_dir, check_joints, problems)
        if clip_items:
            clips_with_items += 1
            items.extend(clip_items)
            if preload and data is not None:
                data.setflags(write=False)  # items are views into it: protect the cache from callers
                clips[clip_id] = data
    report = DatasetReport(root=str(root), split=split_name, kind=spec.name, num_ids=len(ids),
                           num_clips=clips_with_items, num_items=len(items), problems=tuple(problems))
    return _Scan(report=report, items=items, spec=spec, stats=stats, clips=clips)


def _load_stats(root: Path, spec: DatasetSpec, problems: list[Problem]) -> FeatureStats | None:
    mean, std = root / "Mean.npy", root / "Std.npy"
    if not (mean.is_file() and std.is_file()):
        problems.append(Problem(
            "missing_stats", "warning", None,
            f"Mean.npy/Std.npy not found in {root}: generators that read dataset-normalized features need them",
            path=str(root)))
        return None
    try:
        stats = FeatureStats.load(mean, std, name=f"{spec.name} dataset")
    except (ValueError, OSError) as exc:
        problems.append(Problem("bad_stats", "error", None, f"{exc}", path=str(mean)))
        return None
    if stats.dim != spec.dim:
        other = {s.dim: s.name for s in (HUMANML3D_DATASET, KIT_DATASET)}.get(stats.dim)
        which = f" ({other} statistics?)" if other and other != spec.name else ""
        problems.append(Problem("bad_stats", "error", None,
                                f"{mean} has {stats.dim} dims{which} but the features of this {spec.name} folder "
                                f"have {spec.dim}: put this dataset's own Mean.npy/Std.npy here", path=str(mean)))
        return None
    too_big = [p for p, a in ((mean, stats.mean), (std, stats.std)) if not np.all(np.abs(a) <= MAX_ABS_FEATURE)]
    if too_big or not np.all(stats.std > 0):
        problems.append(Problem("bad_stats", "error", None,
                                f"{too_big[0] if too_big else std}: "
                                + (f"values beyond {MAX_ABS_FEATURE:g} in magnitude" if too_big
                                   else "a standard deviation that is not positive") + ": corrupt statistics",
                                path=str(too_big[0] if too_big else std)))
        return None
    return stats


def _scan_clip(clip_id: str, spec: DatasetSpec, feat_dir: Path, text_dir: Path, joint_dir: Path,
               check_joints: bool, problems: list[Problem]) -> tuple[list[ItemInfo], np.ndarray | None]:
    """Check one clip and build its items; append what is found to ``problems``."""
    fpath = feat_dir / f"{clip_id}.npy"
    rel = f"{feat_dir.name}/{clip_id}.npy"
    if not fpath.is_file():
        problems.append(Problem("missing_features", "error", clip_id, f"{clip_id}: features file {rel} not found",
                                path=str(fpath)))
        return [], None
    try:
        data = _npio.load(fpath, allow_pickle=False)
    except Exception as exc:  # truncated download, pickle, not an .npy
        problems.append(Problem("unreadable_features", "error", clip_id,
                                f"{clip_id}: cannot read {rel}: {exc}", path=str(fpath)))
        return [], None
    real = np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.integer)
    if data.ndim != 2 or data.shape[1] != spec.dim or not real:  # complex would lose its imaginary part silently
        problems.append(Problem("wrong_shape", "error", clip_id,
                                f"{clip_id}: {rel} has shape {data.shape} dtype {data.dtype}; expected "
                                f"(T, {spec.dim}) real numbers for {spec.name}", path=str(fpath)))
        return [], None
    length = data.shape[0]
    if not spec.min_length <= length < spec.max_length:
        problems.append(Problem("length_out_of_range", "filtered", clip_id,
                                f"{clip_id}: {length} frames, outside [{spec.min_length}, {spec.max_length})",
                                path=str(fpath)))
        return [], None
    data = np.asarray(data, dtype=np.float32)

    if check_joints:
        _check_joints(clip_id, length, spec, joint_dir, problems)

    items = _clip_items(clip_id, length, spec, text_dir, problems)

    bad_frames = nonfinite_rows(data)
    if bad_frames.size:
        hit = tuple(it.id for it in items
                    if np.any((bad_frames >= it.start) & (bad_frames < it.end)))
        shown = ", ".join(str(int(f)) for f in bad_frames[:5]) + (", ..." if bad_frames.size > 5 else "")
        msg = (f"{clip_id}: {bad_frames.size} of {length} frames contain NaN or Inf (frames {shown}) in {rel}")
        if items and not hit:
            problems.append(Problem("nonfinite", "warning", clip_id, msg + "; no item uses these frames",
                                    path=str(fpath)))
        else:
            items_txt = f"; items {', '.join(hit)}" if hit else ""
            problems.append(Problem("nonfinite", "error", clip_id, msg + items_txt, path=str(fpath), items=hit))
    with np.errstate(invalid="ignore"):
        huge = np.flatnonzero((np.abs(np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)) > MAX_ABS_FEATURE)
                              .any(axis=1))
    if huge.size:
        shown = ", ".join(str(int(f)) for f in huge[:5]) + (", ..." if huge.size > 5 else "")
        peak = float(np.max(np.abs(np.nan_to_num(data[huge], nan=0.0, posinf=0.0, neginf=0.0))))
        problems.append(Problem("absurd_values", "error", clip_id,
                                f"{clip_id}: ground-truth clip {rel} has finite but absurd values (up to {peak:.3g}, "
                                f"beyond {MAX_ABS_FEATURE:g}) in {huge.size} frame(s) ({shown}): a corrupt dataset "
                                f"file; restore it from the original dataset", path=str(fpath)))
    return items, data


def _clip_items(clip_id: str, length: int, spec: DatasetSpec, text_dir: Path,
                problems: list[Problem]) -> list[ItemInfo]:
    tpath = text_dir / f"{clip_id}.txt"
    rel = f"{text_dir.name}/{clip_id}.txt"
    if not tpath.is_file():
        problems.append(Problem("missing_captions", "error", clip_id, f"{clip_id}: caption file {rel} not found",
                                path=str(tpath)))
        return []
    try:
        text = tpath.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem("unreadable_captions", "error", clip_id,
                                f"{clip_id}: {rel}: not UTF-8 text at {utf8_error_where(exc)}; save the file as UTF-8",
                                path=str(tpath)))
        return []
    except OSError as exc:
        problems.append(Problem("unreadable_captions", "error", clip_id, f"{clip_id}: cannot read {rel}: {exc}",
                                path=str(tpath)))
        return []
    captions, issues = parse_captions(text)
    if not text.strip():
        problems.append(Problem("empty_captions", "error", clip_id, f"{clip_id}: caption file {rel} is empty",
                                path=str(tpath)))
        return []
    for issue in issues:
        kind = "bad_caption_line" if issue.severity == "error" else "caption_warning"
        problems.append(Problem(kind, issue.severity, clip_id, f"{clip_id}: {rel}, line {issue.line}: {issue.message}",
                                path=str(tpath), line=issue.line))
    if any(issue.severity == "error" for issue in issues):
        return []  # a file with a malformed line is suspect: no item from it (the reference drops it too)

    items: list[ItemInfo] = []
    whole: list[Caption] = []
    frames = range(length)
    segment_number = 0
    for caption in captions:
        if caption.is_whole:
            whole.append(caption)
            continue
        a, b = caption.frame_range(spec.fps)
        window = frames[a:b]  # exactly the reference's motion[a:b]
        item_id = segment_item_id(clip_id, segment_number)
        segment_number += 1
        if not spec.min_length <= len(window) < spec.max_length:
            problems.append(Problem(
                "segment_out_of_range", "filtered", clip_id,
                f"{clip_id}: {rel}, line {caption.line}: segment {caption.start:g}-{caption.end:g} s gives "
                f"{len(window)} frames, outside [{spec.min_length}, {spec.max_length})",
                path=str(tpath), line=caption.line))
            continue
        items.append(ItemInfo(item_id, clip_id, window.start, window.stop, (caption,)))
    if whole:
        items.append(ItemInfo(clip_id, clip_id, 0, length, tuple(whole)))
    elif not items:
        problems.append(Problem("no_items", "filtered", clip_id,
                                f"{clip_id}: no whole-clip caption and no segment within the length bounds",
                                path=str(tpath)))
    return items


def _check_joints(clip_id: str, length: int, spec: DatasetSpec, joint_dir: Path, problems: list[Problem]) -> None:
    jpath = joint_dir / f"{clip_id}.npy"
    rel = f"{joint_dir.name}/{clip_id}.npy"
    if not jpath.is_file():
        problems.append(Problem("missing_joints", "warning", clip_id, f"{clip_id}: joints file {rel} not found",
                                path=str(jpath)))
        return
    try:
        joints = _npio.load(jpath, mmap_mode="r", allow_pickle=False)
    except Exception as exc:
        problems.append(Problem("unreadable_joints", "warning", clip_id, f"{clip_id}: cannot read {rel}: {exc}",
                                path=str(jpath)))
        return
    if joints.ndim != 3 or joints.shape[1:] != (spec.num_joints, 3) or joints.shape[0] not in (length, length + 1):
        problems.append(Problem("wrong_joints_shape", "warning", clip_id,
                                f"{clip_id}: {rel} has shape {joints.shape}; expected ({length} or {length + 1}, "
                                f"{spec.num_joints}, 3)", path=str(jpath)))


def _fingerprint_problems(root: Path, split_path: Path, kind: str) -> list[Problem]:
    """Warnings for Mean.npy/Std.npy/the split list drifted from the public files (data/fingerprints.py)."""
    return [Problem("split_drift" if Path(v.path).suffix == ".txt" else "stats_drift", "warning", None, v.message,
                    path=str(v.path)) for v in drifted_dataset_files(root, split_path, kind)]
