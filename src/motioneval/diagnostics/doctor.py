"""``doctor``: explain why evaluation numbers may be wrong, in plain words with the numbers behind each finding.

Checks (each gives :class:`~motioneval.diagnostics.findings.Finding` objects, severity ok/info/warning/error):

``load``             the sample source reads and validates;
``dimensions``       feature dimension against the dataset and evaluator statistics (and the evaluator);
``values``           NaN/Inf per sample id;
``lengths``          lengths within the protocol's bounds (HumanML3D 40..196 frames, KIT-ML 24..196);
``normalization``    raw, dataset-, evaluator- or double-normalized (:mod:`.normalization`), against what the
                     sample set declares; "wrong statistics file" when normalized with the other file;
``range``            physically impossible values (:mod:`.values`);
``evaluator_files``  the evaluator's files against user-provided sha256 checksums (:mod:`.evaluator_files`);
``fid_reliability``  samples against dimension, numerical rank, reference failure risk (:mod:`.fid_reliability`);
``collapse``         near-duplicates and diversity far below the ground truth's (:mod:`.collapse`);
``physical``         jitter, foot skating, floating, penetration and dynamics against the dataset's clips
                     (:mod:`.physical`: "jitter 10x ground truth", "dynamics 0.5x: frozen motion?");
``tmr_*``            a TMR evaluator's run folder, config, weights, statistics and text model (:mod:`.tmr_files`),
                     when ``evaluator`` is a TMR run or ``tmr_evaluator`` is given.

Library code never prints: the report's ``to_text()`` / ``to_json()`` are for the CLI.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._arrays import to_numpy
from .._io import read_text
from .._progress import phase
from ..constants import HUMANML3D_DATASET, KIT_DATASET, MAX_MOTION_FRAMES, UNIT_LENGTH
from ..data.fingerprints import STATUSES, FileVerdict, verify_dataset_folder, verify_evaluator_folder, worst_severity
from ..representation.layout import FeatureLayout
from ..representation.normalization import FeatureStats
from . import collapse as _collapse
from . import fid_reliability as _fid
from . import values as _values
from .evaluator_files import check_checksums, find_evaluator_stats, read_checksums
from .findings import DoctorReport, Finding
from .normalization import (
    HYPOTHESES,
    STATE,
    MomentSummary,
    NormalizationVerdict,
    _implied_raw_affine,
    detect_normalization,
)
from .physical import samples_physical_findings
from .tmr_files import check_tmr_folder

log = logging.getLogger(__name__)
PathLike = str | os.PathLike

#: a normalization verdict is trusted when the best hypothesis fits this well (mean per-group score) ...
FIT_LIMIT = 1.5
#: ... and beats every hypothesis of another state by at least this much
STATE_MARGIN = 0.5
EMBEDDING_DIM = 512
#: protocol length bounds (min inclusive, max inclusive for generated motions: the evaluator pads to 196)
LENGTH_BOUNDS = {spec.num_joints: (spec.min_length, MAX_MOTION_FRAMES) for spec in (HUMANML3D_DATASET, KIT_DATASET)}


@dataclass
class _Samples:
    motions: np.ndarray  # (N, T, D) features or (N, T, J, 3) joints
    lengths: np.ndarray
    ids: list[str]
    kind: str
    normalization: str | None  # declared; None when unknown
    num_repetitions: int = 1
    source: str = "array"


# ----------------------------------------------------------------------------------------------- inputs


def _row_ids(ids: list[str], num_repetitions: int) -> list[str]:
    if num_repetitions <= 1:
        return list(ids)
    s = len(ids) // num_repetitions
    return [f"{ids[r]} (repetition {r // s})" for r in range(len(ids))]


def _from_sample_set(sset: Any, source: str) -> _Samples:
    r = int(getattr(sset, "num_repetitions", 1) or 1)
    ids = list(getattr(sset, "ids", None) or [str(i) for i in range(len(sset.lengths))])
    norm = getattr(sset, "normalization", None) if sset.kind == "features" else None
    return _Samples(np.asarray(to_numpy(sset.motions)), np.asarray(to_numpy(sset.lengths), dtype=np.int64),
                    _row_ids(ids, r), sset.kind, norm, r, source)


def _read_npz_unvalidated(path: Path) -> _Samples:
    """Read our ``.npz`` sample format without validation, so that a set with NaN rows can be diagnosed."""
    with _npio.load(path, allow_pickle=False) as npz:
        motions, lengths = npz["motions"], npz["lengths"]
        meta = json.loads(npz["meta"].tobytes().decode("utf-8"))
    r = int(meta.get("num_repetitions", 1) or 1)
    ids = list(meta.get("ids") or [str(i) for i in range(motions.shape[0])])
    kind = meta.get("kind", "features")
    return _Samples(motions, np.asarray(lengths, dtype=np.int64), _row_ids(ids, r), kind,
                    meta.get("normalization") if kind == "features" else None, r, str(path))


def _load_samples(samples: Any, *, lengths: Any, ids: Any, kind: str | None, normalization: str | None,
                  allow_pickle: bool, findings: list[Finding]) -> _Samples | None:
    if isinstance(samples, (str, os.PathLike)):
        path = Path(samples)
        from ..data.samples import SampleSetError, load_samples

        try:
            s = _from_sample_set(load_samples(path, allow_pickle=allow_pickle, normalization=normalization,
                                              kind=kind), str(path))
        except SampleSetError as exc:
            if path.suffix != ".npz":
                findings.append(Finding("load", "error", "the samples could not be read", str(exc),
                                        "Fix the file as the message says and run the doctor again."))
                return None
            try:
                s = _read_npz_unvalidated(path)
            except Exception:  # noqa: BLE001 - the validation error is the one to show
                findings.append(Finding("load", "error", "the samples could not be read", str(exc),
                                        "Fix the file as the message says and run the doctor again."))
                return None
            findings.append(Finding("load", "error", "the sample file fails validation", str(exc),
                                    "The checks below explain the problem; fix it and save the set again."))
        else:
            findings.append(Finding("load", "ok", "samples read", f"{path}: {len(s.ids)} rows, {s.kind}",
                                    numbers={"rows": len(s.ids), "repetitions": s.num_repetitions}))
        if normalization is not None and s.kind == "features":
            s.normalization = normalization
        return s
    if all(hasattr(samples, a) for a in ("motions", "lengths", "kind")):
        s = _from_sample_set(samples, type(samples).__name__)
        if normalization is not None and s.kind == "features":
            s.normalization = normalization
        return s
    arr = np.asarray(to_numpy(samples))
    if kind in (None, "auto"):
        kind = "joints" if arr.ndim == 4 and arr.shape[-1] == 3 else "features"
    if kind == "features" and arr.ndim == 2:
        arr = arr[None]
    if kind == "joints" and arr.ndim == 3:
        arr = arr[None]
    want = 3 if kind == "features" else 4
    if arr.ndim != want:
        raise ValueError(f"samples: {kind} must have shape {'(N, T, D)' if want == 3 else '(N, T, J, 3)'}; "
                         f"got {arr.shape}")
    n, t = arr.shape[:2]
    lens = np.full(n, t, dtype=np.int64) if lengths is None else np.asarray(to_numpy(lengths), dtype=np.int64).ravel()
    if lens.shape != (n,):
        raise ValueError(f"samples: {n} motions but lengths has shape {lens.shape}")
    row_ids = [str(i) for i in range(n)] if ids is None else [str(i) for i in ids]
    if len(row_ids) != n:
        raise ValueError(f"samples: {n} motions but {len(row_ids)} ids")
    return _Samples(arr, lens, row_ids, kind, normalization if kind == "features" else None)


def _dataset_stats(dataset: Any) -> FeatureStats | None:
    if dataset is None:
        return None
    if isinstance(dataset, FeatureStats):
        return dataset
    if hasattr(dataset, "stats"):
        return dataset.stats
    root = Path(dataset)
    mean, std = root / "Mean.npy", root / "Std.npy"
    if not (mean.is_file() and std.is_file()):
        raise FileNotFoundError(f"dataset statistics not found: expected {mean} and {std}")
    return FeatureStats.load(mean, std, name="dataset")


def _dataset_reference_clips(dataset: Any, dim: int, bounds: tuple[int, int], max_clips: int,
                             rng: np.random.Generator) -> list[np.ndarray]:
    """Raw ground-truth feature clips of the test split (files that exist, within the length bounds)."""
    if dataset is None or isinstance(dataset, FeatureStats):
        return []
    if hasattr(dataset, "features") and hasattr(dataset, "__len__"):
        n = len(dataset)
        pick = rng.permutation(n)[:max_clips]
        return [np.asarray(dataset.features(int(i)), dtype=np.float64) for i in pick]
    root = Path(dataset)
    split = root / "test.txt"
    feat_dir = root / "new_joint_vecs"
    if not (split.is_file() and feat_dir.is_dir()):
        return []
    ids = [line.strip() for line in read_text(split, expected="a split list with one clip id per line").splitlines()
           if line.strip()]
    clips = []
    for i in rng.permutation(len(ids)):
        p = feat_dir / f"{ids[i]}.npy"
        if not p.is_file():
            continue
        try:
            x = _npio.load(p, allow_pickle=False)
        except (OSError, ValueError):
            continue
        if x.ndim == 2 and x.shape[1] == dim and bounds[0] <= x.shape[0] < HUMANML3D_DATASET.max_length and np.isfinite(x).all():
            clips.append(x.astype(np.float64))
            if len(clips) >= max_clips:
                break
    return clips


def _load_evaluator(evaluator: Any, findings: list[Finding], device: Any) -> tuple[Any, Path | None]:
    """``(loaded evaluator or None, evaluator folder or None)``."""
    if evaluator is None:
        return None, None
    if hasattr(evaluator, "embed_motion"):
        return evaluator, None
    folder = Path(evaluator)
    if not folder.exists():
        raise FileNotFoundError(f"evaluator folder not found: {folder}")
    if not any(p.suffix in (".tar", ".pt", ".pth", ".ckpt") for p in folder.rglob("*") if p.is_file()):
        findings.append(Finding("evaluator", "info", "no evaluator checkpoint in the folder",
                                f"{folder} holds no checkpoint (e.g. t2m/text_mot_match/model/finest.tar), so "
                                f"embedding-space checks are skipped; its statistics files were still checked.",
                                "Point --evaluator at the downloaded evaluator folder to enable them."))
        return None, folder
    try:
        from ..evaluators.t2m import T2MEvaluator
    except ImportError as exc:
        findings.append(Finding("evaluator", "info", "evaluator not loaded",
                                f"Embedding checks need PyTorch and the T2M evaluator ({exc}); only the evaluator's "
                                f"files and statistics were checked.", "pip install 'motioneval[torch]'"))
        return None, folder
    try:
        return T2MEvaluator.load(folder, device=device), folder
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as exc:
        findings.append(Finding("evaluator", "info", "evaluator weights not loaded",
                                f"{exc}. Embedding-space checks (FID rank, collapse in embedding space) are skipped; "
                                f"the statistics files were still checked.",
                                "Point --evaluator at the folder holding the evaluator checkpoint to enable them."))
        return None, folder


# ----------------------------------------------------------------------------------------------- checks
def _fingerprint_finding(dataset: Any, evaluator: Path | None) -> Finding | None:
    """One :class:`~motioneval.diagnostics.findings.Finding` ``"fingerprints"`` over the dataset
    folder and the evaluator folder (whichever are paths); ``None`` when neither is a folder."""
    verdicts: list[FileVerdict] = []
    root = dataset if isinstance(dataset, (str, Path)) else getattr(dataset, "root", None)
    if isinstance(root, (str, Path)) and Path(root).is_dir():
        verdicts += verify_dataset_folder(root)
    if isinstance(evaluator, (str, Path)) and Path(evaluator).exists():
        verdicts += verify_evaluator_folder(evaluator)
    if not verdicts:
        return None
    severity = worst_severity(verdicts)
    counts = {s: sum(v.status == s for v in verdicts) for s in STATUSES}
    drifted = [v for v in verdicts if v.severity == "warning"]
    if severity == "ok":
        title = f"all {len(verdicts)} reference files match the public ones"
    elif drifted:
        title = f"{len(drifted)} file(s) differ from the public reference files"
    else:
        title = (f"{counts['match'] + counts['values_match']} of {len(verdicts)} files match public ones; "
                 f"the others are not verified or not the public files")
    return Finding(
        "fingerprints", severity, title,
        " ".join(str(v) + "." for v in verdicts),
        ("Regenerate or re-download the drifted files (or state the difference beside your numbers): drifted "
         "statistics change normalization and every metric." if drifted else ""),
        numbers={"counts": counts, "files": {v.path: v.status for v in verdicts},
                 "largest_differences": {v.path: v.details.get("largest", [])[:5] for v in drifted}},
    )



def _dimension_findings(dim: int, dstats: FeatureStats | None, estats: FeatureStats | None,
                        evaluator: Any) -> list[Finding]:
    problems, numbers = [], {"features": dim}
    for name, st in (("dataset statistics", dstats), ("evaluator statistics", estats)):
        if st is not None:
            numbers[name] = st.dim
            if st.dim != dim:
                problems.append(f"the {name} have {st.dim} dims")
    ev_layout = getattr(evaluator, "layout", None)
    if ev_layout is not None:
        numbers["evaluator"] = int(ev_layout.dim)
        if int(ev_layout.dim) != dim:
            problems.append(f"the evaluator expects {ev_layout.dim}-d features")
    try:
        FeatureLayout.for_dim(dim)
    except ValueError:
        problems.append(f"{dim} is not a HumanML3D-style dimension (12J - 1: 263 HumanML3D, 251 KIT-ML)")
    if problems:
        return [Finding("dimensions", "error", "feature dimensions do not match",
                        f"The samples have {dim}-d features but " + "; ".join(problems) + ". Mixing HumanML3D "
                        "(263) and KIT-ML (251) files is the usual cause.",
                        "Use the dataset and evaluator files of the dataset the samples come from.",
                        numbers=numbers)]
    return [Finding("dimensions", "ok", "dimensions match", f"{dim}-d features everywhere.", numbers=numbers)]


def _normalization_findings(verdict: NormalizationVerdict,
                            declared: str | None) -> tuple[list[Finding], str, bool]:
    """Findings, the state to use downstream (the detected one when trusted, else the declared one), trusted."""
    best = verdict.best
    state = STATE[best]
    other = [v for k, v in verdict.scores.items() if STATE[k] != state]
    state_margin = (min(other) - verdict.scores[best]) if other else float("inf")
    trusted = verdict.scores[best] <= FIT_LIMIT and state_margin >= STATE_MARGIN
    scale = verdict.group_scale_ratio[best]
    numbers: dict[str, Any] = {
        "detected": best,
        "declared": declared,
        "scores": {k: round(v, 3) for k, v in sorted(verdict.scores.items(), key=lambda kv: kv[1])},
        "state_margin": state_margin,
        "implied_raw_std_over_dataset_std": {g: round(v, 3) for g, v in scale.items()},
        "implied_raw_mean_error_in_std": {g: round(v, 3) for g, v in verdict.group_mean_err[best].items()},
        "reference_statistics": verdict.reference,
    }
    how = HYPOTHESES[best][1]
    evidence = (
        f"Undoing '{best}' gives features whose per-group spread is "
        + ", ".join(f"{g} {scale[g]:.2f}x" for g in scale)
        + f" the dataset's, the best fit of {len(verdict.scores)} hypotheses (score {verdict.scores[best]:.2f}, "
        f"next other state {state_margin:+.2f}; lower is better)."
    )
    used = {c for k in verdict.scores for c in HYPOTHESES[k][0]}
    if not trusted:
        best_by_state: dict[str, float] = {}
        for k, v in verdict.scores.items():
            best_by_state[STATE[k]] = min(v, best_by_state.get(STATE[k], float("inf")))
        tied = sorted(st for st, v in best_by_state.items() if v - verdict.scores[best] < STATE_MARGIN)
        numbers["indistinguishable_states"] = tied
        if verdict.scores[best] <= FIT_LIMIT and declared in tied:
            why = ("only one statistics file was given" if len(used) < 2 else
                   "the two statistics files are too similar in the features' groups")
            return [Finding(
                "normalization", "info", f"features are consistent with the declared '{declared}' normalization",
                f"The features fit the declared normalization, but also {', '.join(t for t in tied if t != declared)} "
                f"about as well, because {why}; the check cannot tell them apart. {evidence}",
                "" if len(used) == 2 else "Give both --dataset (Mean.npy/Std.npy) and --evaluator "
                "(t2m_mean/t2m_std) for a decisive check.", numbers=numbers)], declared, False
        msg = ("The features match none of the normalization hypotheses well" if verdict.scores[best] > FIT_LIMIT
               else f"The normalization states {', '.join(tied)} fit about equally well")
        return [Finding(
            "normalization", "warning", "normalization could not be determined",
            f"{msg} (best: {how}). {evidence} Either the samples are far from the data distribution, or they use "
            f"statistics other than the ones given." + (" Only one statistics file was given, so dataset- and "
            "evaluator-normalized features cannot be told apart." if len(used) < 2 else ""),
            "Check how the samples were saved (which statistics, how many times)"
            + (", and give both --dataset (Mean.npy/Std.npy) and --evaluator (t2m_mean/t2m_std)." if len(used) < 2
               else "."), numbers=numbers)], declared or state, False
    if state == "double":
        return [Finding(
            "normalization", "error", "features are normalized twice",
            f"The features look {how}. {evidence} The evaluator then sees whole feature groups shifted and "
            f"scaled by large factors, and every metric is wrong.",
            "Normalize exactly once: de-normalize the generator's output with the dataset statistics, then "
            "normalize with the evaluator's (or save raw features and declare normalization='raw').",
            numbers=numbers)], state, True
    if declared is None:
        return [Finding("normalization", "info", f"features look {state}" + ("" if state == "raw" else "-normalized"),
                        f"The features look {how}. {evidence} The sample source does not declare a normalization.",
                        f"Declare normalization='{state}' when saving the samples so the evaluation converts them "
                        f"correctly.", numbers=numbers)], state, True
    if declared == state:
        return [Finding("normalization", "ok", f"features are {how}, as declared",
                        evidence, numbers=numbers)], state, True
    if state == "raw":
        title, why = "features look raw but are declared normalized", (
            f"The sample set says '{declared}', but the features look raw (not normalized). {evidence} The "
            f"evaluation would de-normalize them once more and every metric would be wrong.")
        action = "Declare normalization='raw' (or normalize the features before saving)."
    elif declared == "raw":
        title, why = f"features look {state}-normalized but are declared raw", (
            f"The sample set says 'raw', but the features look {how}. {evidence} The evaluation would normalize "
            f"them again: double normalization.")
        action = f"Declare normalization='{state}', or save de-normalized (raw) features."
    else:
        title, why = "wrong statistics file", (
            f"The sample set says the features are {declared}-normalized, but they are {how}. {evidence} The "
            f"root and foot-contact groups differ about 25x between the two files, so the evaluator sees these "
            f"groups 25x too {'small' if state == 'dataset' else 'large'}.")
        action = (f"Normalize with the {declared} statistics "
                  f"({'t2m_mean.npy / t2m_std.npy' if declared == 'evaluator' else 'Mean.npy / Std.npy'}), or "
                  f"declare normalization='{state}' and let the evaluation convert them.")
    return [Finding("normalization", "error", title, why, action, numbers=numbers)], state, True


_STATE_CHAIN = {"raw": (), "dataset": ("dataset",), "evaluator": ("evaluator",)}


def _standard_affine(chain: tuple[str, ...], stats: dict[str, FeatureStats],
                     summary: MomentSummary) -> tuple[np.ndarray, np.ndarray, str]:
    """``(scale, offset, unit)`` with ``z = x * scale + offset``: features in standard deviations of raw data.

    With statistics: undo ``chain`` to raw features, then standardize with the dataset statistics (or the
    evaluator's, leaving out its root and contact groups, whose std is deliberately ~25x too small). Without:
    standardize by the samples' own pooled mean and spread (scale-free).
    """
    dim = summary.mean.shape[0]
    if stats:
        a, b = _implied_raw_affine(chain, stats)
        ref_name = "dataset" if "dataset" in stats else "evaluator"
        ref = stats[ref_name]
        m, sd = np.asarray(ref.mean, np.float64), np.asarray(ref.std, np.float64)
        scale, offset = a / sd, (b - m) / sd
        if ref_name == "evaluator":
            lay = FeatureLayout.for_dim(dim)
            for sl in (lay.root, lay.contacts):
                scale[sl], offset[sl] = 0.0, 0.0
        return scale, offset, f"{ref_name} standard deviations"
    sd = np.where(summary.std > 0, summary.std, np.inf)
    return 1.0 / sd, -summary.mean / sd, "standard deviations of the samples themselves"


def _joint_descriptors(samples: _Samples, lens: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Joints at the descriptor instants, relative to each clip's start (root x, z of frame 0), standardized per
    coordinate by the spread over all these instants of the usable samples."""
    pos = _collapse.instant_positions(np.maximum(lens, 1), samples.motions.shape[1])
    n = len(lens)
    j = np.asarray(samples.motions[np.arange(n)[:, None], pos], dtype=np.float64)  # (N, K, J, 3)
    j = np.where(np.isfinite(j), j, 0.0)
    start = np.asarray(samples.motions[:, 0, 0, :], dtype=np.float64) * np.array([1.0, 0.0, 1.0])
    j = (j - np.where(np.isfinite(start), start, 0.0)[:, None, None, :]).reshape(n, pos.shape[1], -1)
    pooled = j[usable].reshape(-1, j.shape[-1])
    sd = pooled.std(axis=0) if len(pooled) else np.ones(j.shape[-1])
    return ((j - (pooled.mean(axis=0) if len(pooled) else 0.0)) / np.where(sd > 0, sd, np.inf)).reshape(n, -1)


# ----------------------------------------------------------------------------------------------- doctor


def doctor(
    samples: Any,
    dataset: Any = None,
    evaluator: Any = None,
    *,
    lengths: Any = None,
    ids: Any = None,
    kind: str | None = None,
    normalization: str | None = None,
    dataset_stats: FeatureStats | None = None,
    evaluator_stats: FeatureStats | None = None,
    checksums: PathLike | dict[str, str] | None = None,
    embeddings: Any = None,
    gt_embeddings: Any = None,
    length_bounds: tuple[int, int] | None = None,
    max_reference_clips: int = 500,
    allow_pickle: bool = False,
    device: Any = None,
    seed: int = 0,
    progress: bool = False,
    physical: Any = True,
    tmr_evaluator: Any = None,
    tmr_stats: PathLike | None = None,
    tmr_text_model: PathLike | None = None,
) -> DoctorReport:
    """Check a sample set (and optionally the dataset and evaluator folders) and explain what is wrong.

    ``samples``: a ``SampleSet``, a path (``.npz``, a sample folder, or MDM ``results.npy`` with
    ``allow_pickle=True``), or an array ``(N, T, D)`` features / ``(N, T, J, 3)`` joints with ``lengths``,
    ``ids``, ``kind`` and the declared ``normalization`` (``"raw"``, ``"dataset"``, ``"evaluator"`` or None).
    ``dataset``: a dataset folder (``Mean.npy``/``Std.npy``, ``test.txt``, ``new_joint_vecs/``) or a
    ``MotionDataset``; ``evaluator``: an evaluator folder or a loaded ``T2MEvaluator``. Statistics may be
    given directly as ``dataset_stats``/``evaluator_stats``. ``checksums``: a ``sha256sum``-style file or a
    ``{path: sha256}`` dict for the evaluator folder. ``embeddings``/``gt_embeddings``: precomputed
    ``(N, 512)`` motion embeddings of the samples and of the ground truth. ``physical``: compare the physical
    metrics with the dataset's clips (``True``: the default variant, a variant name, or ``False``).
    ``tmr_evaluator``: a TMR run folder to check (an ``evaluator`` folder holding a TMR run is checked as one,
    and the T2M-space checks then run without an evaluator); ``tmr_stats`` / ``tmr_text_model`` as for
    :meth:`~motioneval.evaluators.tmr.TMREvaluator.load`.

    ``progress``: a progress line on stderr for each step that can take seconds (reading the samples,
    loading the evaluator, embedding).

    Returns a :class:`DoctorReport`; ``report.exit_code`` is 0 (fine), 1 (warnings) or 2 (errors).
    """
    findings: list[Finding] = []
    rng = np.random.default_rng(seed)
    evaluator, tmr_folder = _split_evaluators(evaluator, tmr_evaluator)
    inp = _load_inputs(samples, dataset, evaluator, findings, lengths=lengths, ids=ids, kind=kind,
                       normalization=normalization, dataset_stats=dataset_stats, evaluator_stats=evaluator_stats,
                       checksums=checksums, allow_pickle=allow_pickle, device=device, progress=progress)
    if tmr_folder is not None:
        findings.extend(check_tmr_folder(tmr_folder, stats=tmr_stats, text_model=tmr_text_model))
    if inp is None:
        return DoctorReport(findings, {"samples": str(samples)})
    rows = _check_rows(inp, findings, length_bounds)
    space = _check_values(inp, rows, findings, max_reference_clips, rng)
    emb, gt_emb = _embeddings(inp, rows, space, embeddings, gt_embeddings, max_reference_clips, rng,
                              progress=progress)
    _check_embeddings(inp, rows, space, emb, gt_emb, findings, rng)
    if physical is not False:
        findings.extend(_check_physical(inp, rows, space, None if physical is True else physical,
                                        max_reference_clips, rng))
    report = DoctorReport(findings, inp.summary)
    inp.summary["status"] = report.worst
    return report


def _split_evaluators(evaluator: Any, tmr_evaluator: Any) -> tuple[Any, Any]:
    """``(T2M evaluator or None, TMR run folder or None)``: an ``evaluator`` folder holding a TMR run is the TMR one."""
    if isinstance(evaluator, (str, os.PathLike)) and Path(evaluator).is_dir() and tmr_evaluator is None:
        from ..evaluators.kind import detect_evaluator_kind

        try:
            if detect_evaluator_kind(Path(evaluator)) == "tmr":
                return None, evaluator
        except ValueError:  # neither layout: the T2M checks report the folder as they always did
            pass
    return evaluator, tmr_evaluator


def _check_physical(inp: _Inputs, rows: _Rows, space: _Space, variant: Any, max_reference_clips: int,
                    rng: np.random.Generator) -> list[Finding]:
    """Physical metrics of the usable rows (raw features or joints) against the dataset's clips."""
    s = inp.s
    idx = np.flatnonzero(rows.usable)
    if not idx.size or (s.kind == "features" and not rows.dims_ok):
        return []
    state = inp.summary.get("normalization", s.normalization or "raw")
    if s.kind == "features" and not space.chain and state not in (None, "raw"):
        return [Finding("physical", "info", "physical metrics not computed",
                        f"The samples look {state}-normalized and the statistics to undo it are missing.",
                        "Pass --dataset DIR and --evaluator DIR (their statistics files).")]
    num_joints = s.motions.shape[2] if s.kind == "joints" else (s.motions.shape[-1] + 1) // 12
    clips = _dataset_reference_clips(inp.dataset, 12 * num_joints - 1, rows.bounds, max_reference_clips, rng)
    return samples_physical_findings(s.motions[idx], rows.lens[idx], [s.ids[i] for i in idx], kind=s.kind,
                                     chain=space.chain, stats=inp.stats(), reference_clips=clips, variant=variant)


# ------------------------------------------------------------------------------------- doctor: the inputs
@dataclass
class _Inputs:
    """What the checks read: the samples, the evaluator (loaded or only a folder), the statistics."""

    s: _Samples
    dataset: Any
    ev: Any
    ev_folder: Path | None
    dstats: FeatureStats | None
    estats: FeatureStats | None
    summary: dict[str, Any]

    def stats(self) -> dict[str, FeatureStats]:
        """The statistics given, by name (``"dataset"``, ``"evaluator"``)."""
        return {k: v for k, v in (("dataset", self.dstats), ("evaluator", self.estats)) if v is not None}


def _load_inputs(samples: Any, dataset: Any, evaluator: Any, findings: list[Finding], *, lengths: Any, ids: Any,
                 kind: str | None, normalization: str | None, dataset_stats: FeatureStats | None,
                 evaluator_stats: FeatureStats | None, checksums: PathLike | dict[str, str] | None,
                 allow_pickle: bool, device: Any, progress: bool = False) -> _Inputs | None:
    """Read the samples, the evaluator and the statistics; report how the files were found and verified.
    ``None`` when the samples cannot be read at all (the finding says why)."""
    with phase("reading the samples", enable=progress and isinstance(samples, (str, os.PathLike))):
        s = _load_samples(samples, lengths=lengths, ids=ids, kind=kind, normalization=normalization,
                          allow_pickle=allow_pickle, findings=findings)
    if s is None:
        return None
    summary: dict[str, Any] = {"rows": s.motions.shape[0], "kind": s.kind, "declared_normalization": s.normalization}
    with phase("loading the evaluator", enable=progress and isinstance(evaluator, (str, os.PathLike))):
        ev, ev_folder = _load_evaluator(evaluator, findings, device)
    dstats = dataset_stats if dataset_stats is not None else _dataset_stats(dataset)
    estats = evaluator_stats
    if estats is None and ev is not None:
        estats = getattr(ev, "stats", None)
    if estats is None and ev_folder is not None:
        dim_hint = s.motions.shape[-1] if s.kind == "features" else None
        pair = find_evaluator_stats(ev_folder, dim_hint)
        if pair is None:
            findings.append(Finding("evaluator_files", "warning", "no evaluator statistics found",
                                    f"No t2m_mean.npy/t2m_std.npy (or meta/mean.npy, std.npy) under {ev_folder}.",
                                    "Point --evaluator at the folder holding the evaluator's statistics."))
        else:
            estats = FeatureStats.load(*pair, name="evaluator")
    if checksums is not None:
        if ev_folder is None:
            findings.append(Finding("evaluator_files", "info", "checksums not checked",
                                    "Checksums were given without an evaluator folder.", "Pass --evaluator DIR."))
        else:
            expected = checksums if isinstance(checksums, dict) else read_checksums(checksums)
            findings.append(check_checksums(ev_folder, expected))
    elif ev_folder is not None:
        findings.append(Finding("evaluator_files", "info", "evaluator files not verified",
                                "No known checksums were given, so the evaluator's version is not verified.",
                                "Pass --checksums FILE (sha256sum format) with the sums published for the evaluator."))
    fingerprints = _fingerprint_finding(dataset, ev_folder)  # public-file digests (data/fingerprints.py)
    if fingerprints is not None:
        findings.append(fingerprints)
    return _Inputs(s, dataset, ev, ev_folder, dstats, estats, summary)


# ------------------------------------------------------------------------------------- doctor: the checks
@dataclass
class _Rows:
    """Per-row facts every later check uses."""

    dims_ok: bool  # features: the dimension matches the statistics and the evaluator (joints: always)
    bounds: tuple[int, int]  # protocol length bounds used
    lens: np.ndarray  # lengths clipped to the array's frames
    bad: np.ndarray  # rows with NaN/Inf in their valid frames
    usable: np.ndarray  # finite rows with at least one frame


def _check_rows(inp: _Inputs, findings: list[Finding], length_bounds: tuple[int, int] | None) -> _Rows:
    """Dimensions against the statistics and the evaluator, lengths against the protocol bounds, finiteness."""
    s, t = inp.s, inp.s.motions.shape[1]
    if s.kind == "features":
        dim = s.motions.shape[-1]
        findings.extend(_dimension_findings(dim, inp.dstats, inp.estats, inp.ev))
        num_joints = (dim + 1) // 12
        dims_ok = findings[-1].severity == "ok"
    else:
        num_joints = s.motions.shape[2]
        dims_ok = True
    bounds = length_bounds or LENGTH_BOUNDS.get(num_joints, LENGTH_BOUNDS[HUMANML3D_DATASET.num_joints])
    if s.kind == "joints":  # L joint frames give L - 1 feature rows, as `evaluate` converts and counts them
        length_finding = _values.check_lengths(np.asarray(s.lengths) - 1, s.ids, min_length=bounds[0],
                                               max_length=bounds[1], t_max=t - 1)
        length_finding.numbers["counted_as"] = "feature rows: L joint frames give L - 1 rows"
    else:
        length_finding = _values.check_lengths(s.lengths, s.ids, min_length=bounds[0], max_length=bounds[1], t_max=t)
    findings.append(length_finding)
    lens = np.clip(s.lengths, 0, t)
    finite_finding, bad = _values.check_finite(s.motions, lens, s.ids)
    findings.append(finite_finding)
    inp.summary["nonfinite_rows"] = int(bad.sum())
    return _Rows(dims_ok, bounds, lens, bad, ~bad & (lens > 0))


@dataclass
class _Space:
    """Where the collapse check measures without embeddings: per-row descriptors and a reference distance;
    ``chain``: the normalization steps that turn the samples into raw features."""

    chain: tuple[str, ...] = ()
    desc: np.ndarray | None = None
    name: str = ""
    ref_dist: float = float(np.sqrt(2.0))
    ref_src: str = ""


def _check_values(inp: _Inputs, rows: _Rows, findings: list[Finding], max_reference_clips: int,
                  rng: np.random.Generator) -> _Space:
    """Normalization state and value range (features) or joint range, and the descriptors of each row."""
    s, lens, usable = inp.s, rows.lens, rows.usable
    out = _Space()
    if s.kind == "features" and rows.dims_ok:
        stats = inp.stats()
        out.chain = _STATE_CHAIN.get(s.normalization or "raw", ())
        summ = MomentSummary.from_features(s.motions[usable], lens[usable]) if usable.sum() > 0 else None
        if stats and summ is not None:
            verdict = detect_normalization(summ, dataset_stats=inp.dstats, evaluator_stats=inp.estats)
            norm_findings, state, trusted = _normalization_findings(verdict, s.normalization)
            findings.extend(norm_findings)
            inp.summary["normalization"] = state
            out.chain = HYPOTHESES[verdict.best][0] if trusted else _STATE_CHAIN.get(state, ())
            if any(c not in stats for c in out.chain):
                out.chain = ()
        elif not stats:
            findings.append(Finding("normalization", "info", "normalization not checked",
                                    "Neither dataset nor evaluator statistics were given.",
                                    "Pass --dataset DIR (Mean.npy/Std.npy) and --evaluator DIR (t2m_mean/t2m_std)."))
        if summ is not None:
            scale, offset, unit = _standard_affine(out.chain, stats, summ)
            if stats:
                findings.append(_values.check_feature_range(s.motions, scale, offset, lens, s.ids, rows.bad, unit))
            else:
                findings.append(Finding("range", "info", "value range not checked",
                                        "Without statistics there is no physical unit to judge values by."))
            out.desc = _collapse.time_descriptors(s.motions, np.maximum(lens, 1), scale=scale, offset=offset)
            out.name = f"features ({unit}, {_collapse.DESCRIPTOR_INSTANTS} instants per motion)"
            out.ref_src = "two independent draws from the data distribution"
            if stats and "dataset" in stats:
                clips = _dataset_reference_clips(inp.dataset, s.motions.shape[-1], rows.bounds, max_reference_clips,
                                                 rng)
                if len(clips) >= 10:
                    assert inp.dstats is not None  # "dataset" in stats
                    m, sd = np.asarray(inp.dstats.mean, np.float64), np.asarray(inp.dstats.std, np.float64)
                    gt_desc = np.stack([_collapse.time_descriptors(c[None], np.array([len(c)]), scale=1.0 / sd,
                                                                   offset=-m / sd)[0] for c in clips])
                    out.ref_dist = _collapse.mean_pair_distance(gt_desc, rng)
                    out.ref_src = f"{len(clips)} ground-truth test clips"
            elif not stats:
                out.ref_src = "two independent samples of a set with this per-dimension spread"
    elif s.kind == "joints":
        findings.append(_values.check_joint_range(s.motions, lens, s.ids, rows.bad))
        out.desc = _joint_descriptors(s, lens, usable)
        out.name = "joint positions (standardized per coordinate, relative to the start position)"
        out.ref_src = "two independent samples of a set with this per-coordinate spread"
    return out


def _embeddings(inp: _Inputs, rows: _Rows, space: _Space, embeddings: Any, gt_embeddings: Any,
                max_reference_clips: int, rng: np.random.Generator, *,
                progress: bool = False) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Motion embeddings of the samples and of ground-truth clips: given, or computed with a loaded evaluator."""
    s, ev = inp.s, inp.ev
    emb = None if embeddings is None else np.asarray(to_numpy(embeddings), dtype=np.float64)
    if emb is None and ev is not None and s.kind == "features" and rows.dims_ok and rows.usable.any():
        emb = _embed(ev, s, space.chain, {k: v for k, v in (("dataset", inp.dstats), ("evaluator", inp.estats)) if v},
                     rows.usable, rows.lens, progress=progress)
    gt_emb = None if gt_embeddings is None else np.asarray(to_numpy(gt_embeddings), dtype=np.float64)
    if gt_emb is None and ev is not None and inp.dataset is not None and rows.dims_ok and inp.estats is not None:
        clips = _dataset_reference_clips(inp.dataset, s.motions.shape[-1] if s.kind == "features" else 0,
                                         rows.bounds, max_reference_clips, rng)
        if len(clips) >= 10:
            gt_emb = _embed_clips(ev, clips, inp.estats, progress=progress)
    return emb, gt_emb


def _check_embeddings(inp: _Inputs, rows: _Rows, space: _Space, emb: np.ndarray | None, gt_emb: np.ndarray | None,
                      findings: list[Finding], rng: np.random.Generator) -> None:
    """FID reliability for this many rows, embedding sanity, and collapse (in embedding or descriptor space)."""
    s, usable = inp.s, rows.usable
    emb_dim = emb.shape[1] if emb is not None else _embedding_dim(inp.ev)
    findings.append(_fid.count_finding(int(usable.sum()), emb_dim))
    if emb is not None:
        findings.extend(_fid.embedding_findings(emb, gt_emb=gt_emb))
    if emb is not None and gt_emb is not None:
        findings.extend(_collapse.check_collapse(
            emb, [s.ids[i] for i in np.flatnonzero(usable)] if emb.shape[0] == usable.sum() else
            [str(i) for i in range(emb.shape[0])],
            reference_distance=_collapse.mean_pair_distance(gt_emb, rng),
            reference_source=f"{gt_emb.shape[0]} ground-truth embeddings", space="evaluator embedding space",
            rng=rng, num_repetitions=s.num_repetitions))
    elif space.desc is not None:
        idx = np.flatnonzero(usable)
        findings.extend(_collapse.check_collapse(space.desc[idx], [s.ids[i] for i in idx],
                                                 reference_distance=space.ref_dist, reference_source=space.ref_src,
                                                 space=space.name, rng=rng, num_repetitions=s.num_repetitions))


def _embedding_dim(ev: Any) -> int:
    """The loaded evaluator's embedding size (``dim_embedding``); the T2M evaluator's 512 without one."""
    dim = getattr(ev, "dim_embedding", None)
    return int(dim) if isinstance(dim, (int, np.integer)) and dim > 0 else EMBEDDING_DIM


#: rows converted and embedded at once by the doctor: bounds the float64 copies (and paces the progress line)
EMBED_CHUNK = 256


def _embed(ev: Any, s: _Samples, chain: tuple[str, ...], stats: dict[str, FeatureStats], usable: np.ndarray,
           lens: np.ndarray, *, progress: bool = False) -> np.ndarray:
    """Motion embeddings of the usable rows, after converting them to evaluator normalization (in chunks of
    :data:`EMBED_CHUNK` rows, so that the float64 copies stay small)."""
    rows = np.flatnonzero(usable)
    affine = _implied_raw_affine(chain, stats) if chain else None
    parts = []
    with phase(f"embedding {len(rows)} samples", total=len(rows), unit="sample", enable=progress) as bar:
        for lo in range(0, len(rows), EMBED_CHUNK):
            idx = rows[lo:lo + EMBED_CHUNK]
            x = s.motions[idx].astype(np.float64)
            if affine is not None:
                x = x * affine[0] + affine[1]
            x = ev.stats.normalize(x).astype(np.float32)
            parts.append(np.asarray(to_numpy(ev.embed_motion(x, lens[idx])), dtype=np.float64))
            bar.advance(len(idx))
    return np.concatenate(parts, axis=0)


def _embed_clips(ev: Any, clips: list[np.ndarray], estats: FeatureStats, *, progress: bool = False) -> np.ndarray:
    lens = np.array([min(c.shape[0], MAX_MOTION_FRAMES) // UNIT_LENGTH * UNIT_LENGTH for c in clips])
    x = np.zeros((len(clips), MAX_MOTION_FRAMES, clips[0].shape[1]), np.float32)
    for i, c in enumerate(clips):
        x[i, : lens[i]] = estats.normalize(c[: lens[i]])
    parts = []
    with phase(f"embedding {len(clips)} ground-truth clips", total=len(clips), unit="clip", enable=progress) as bar:
        for lo in range(0, len(clips), EMBED_CHUNK):
            parts.append(np.asarray(to_numpy(ev.embed_motion(x[lo:lo + EMBED_CHUNK], lens[lo:lo + EMBED_CHUNK])),
                                    dtype=np.float64))
            bar.advance(len(parts[-1]))
    return np.concatenate(parts, axis=0)
