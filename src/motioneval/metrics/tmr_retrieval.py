"""TMR's retrieval protocols (Petrovich et al., ICCV 2023; ``Mathux/TMR`` ``retrieval.py`` and
``src/model/metrics.py``) on any pair of embedding sets, plus TMR-space FID and matching score.

Rows ``i`` of ``text_emb`` and ``motion_emb`` belong together. Similarity is the cosine of the raw embeddings
(TMR's ``get_sim_matrix``: both sides L2-normalized, ``max(|x|, 1e-12)``). For a query row ``i`` of the
similarity matrix (text->motion: rows are texts; motion->text: the transpose), with distances ``d = -sim`` and
the ground-truth distance ``g_i``:

- rank (0-based, TMR's default ``break_ties="averaging"``): the mean position of ``g_i`` among the row's
  sorted distances, ``r_i = #{j: d_ij < g_i} + (#{j: d_ij == g_i} - 1) / 2``; so a tie of the true item with one
  other counts as rank 0.5 (a hit for R@1), with two others as 1 (a miss);
- ``R@k = 100 * mean(r_i < k)`` for ``k`` in 1, 2, 3, 5, 10; ``MedR = median(r_i) + 1``;
- protocol (a) ``normal``: ``g_i = d_ii``;
- protocol (b) ``threshold``: ``g_i = min_j d_ij`` over the candidates ``j`` whose caption is a near-duplicate of
  caption ``i``: ``text_similarity[i, j] > 2 * threshold - 1`` (TMR: threshold 0.95 on the score scale
  ``(cos + 1) / 2``, i.e. cosine > 0.9, between sentence embeddings of ``sentence-transformers/all-mpnet-base-v2``
  (mean pooling, L2-normalized), ``text_similarity = E E^T``). The same caption-caption matrix serves both
  directions (for motion->text, candidate text ``j`` counts when it is close to text ``i``);
- protocol (c) ``nsim``: (a) on the dissimilar subset, TMR's fixed list of 100 test ids
  (``datasets/annotations/<dataset>/splits/nsim_test.txt``; read it with :func:`read_split`);
- protocol (d) ``guo``: (a) on batches of 32: the ids sorted, ``idx = arange(N)`` shuffled by the legacy
  ``numpy.random.seed(0); numpy.random.shuffle``, batch ``b`` = ``sorted_ids[idx[32 b : 32 (b + 1)]]`` for
  ``b < N // 32`` (the remainder is dropped); every metric is averaged over batches (unrounded), then rounded.

TMR prints and saves metrics rounded to 2 decimals (``rounding=2``); the functions here return unrounded values
unless asked. Exact ties need exactly equal similarities: identical embedding rows (e.g. duplicate captions)
are given bit-identical similarity columns here (computed once per distinct row). TMR computes the matrix with
torch in float32 (TF32 on recent GPUs); float noise there can break ties that are exact here.

TMR-space FID and matching score (:func:`tmr_embedding_scores`) live in TMR's 256-d latent space: they are *not*
comparable to the T2M-evaluator's FID / MM-Dist numbers (a different network, space and scale).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import to_numpy
from .._io import read_text

__all__ = [
    "DEFAULT_THRESHOLD",
    "GUO_BATCH_SIZE",
    "RECALL_KS",
    "SENTENCE_MODEL",
    "all_contrastive_metrics",
    "cosine_similarity",
    "guo_batches",
    "guo_metrics",
    "metrics_from_ranks",
    "query_ranks",
    "read_split",
    "retrieval_metrics",
    "subset_metrics",
    "tmr_embedding_scores",
    "tmr_protocols",
]

RECALL_KS = (1, 2, 3, 5, 10)
#: TMR's ``threshold`` of ``configs/retrieval.yaml`` (score scale; cosine > 2 * 0.95 - 1 = 0.9).
DEFAULT_THRESHOLD = 0.95
GUO_BATCH_SIZE = 32
#: Sentence-embedding model of TMR's near-duplicate filtering (``data.text_to_sent_emb.modelname``).
SENTENCE_MODEL = "sentence-transformers/all-mpnet-base-v2"
NOT_COMPARABLE = ("TMR embedding space (TMR's latent, cosine similarity): not comparable to the T2M evaluator's "
                  "R-precision, FID or matching score")


def _matrix(x: Any, name: str) -> np.ndarray:
    a = np.asarray(to_numpy(x))
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array; got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{name} must be numeric; got dtype {a.dtype}")
    bad = np.flatnonzero(~np.isfinite(a).all(axis=1))
    if bad.size:
        raise ValueError(f"{name} has NaN or Inf in rows {bad[:10].tolist()}")
    return a.astype(np.float64)


def cosine_similarity(x: Any, y: Any) -> np.ndarray:
    """``S[i, j] = <x_i / max(|x_i|, 1e-12), y_j / max(|y_j|, 1e-12)>`` in float64 (TMR's ``get_sim_matrix``).

    Identical rows of ``x`` (or ``y``) give bit-identical rows (columns) of ``S``, so ties are exact.
    """
    a, b = _matrix(x, "x"), _matrix(y, "y")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embeddings have different sizes: {a.shape[1]} and {b.shape[1]}")
    ua, ia = np.unique(a, axis=0, return_inverse=True)
    ub, ib = np.unique(b, axis=0, return_inverse=True)
    ua = ua / np.maximum(np.linalg.norm(ua, axis=1, keepdims=True), 1e-12)
    ub = ub / np.maximum(np.linalg.norm(ub, axis=1, keepdims=True), 1e-12)
    return np.asarray((ua @ ub.T)[np.ravel(ia)][:, np.ravel(ib)])


def query_ranks(sims: Any, text_similarity: Any = None, threshold: float | None = None) -> np.ndarray:
    """0-based tie-averaged ranks of the ground truth for every query row of a square ``sims`` (see module doc).

    With ``text_similarity`` (N, N) and ``threshold``, the best-scored near-duplicate counts as the ground truth.
    """
    s = np.asarray(to_numpy(sims), dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"the similarity matrix must be square (ground truth on the diagonal); got {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("the similarity matrix has NaN or Inf")
    d = -s
    n = s.shape[0]
    if (text_similarity is None) != (threshold is None):
        raise ValueError("pass both text_similarity and threshold (protocol b), or neither")
    if text_similarity is None:
        g = np.diag(d).copy()
    else:
        ts = np.asarray(to_numpy(text_similarity), dtype=np.float64)
        if ts.shape != (n, n):
            raise ValueError(f"text_similarity must be ({n}, {n}) (caption vs caption); got {ts.shape}")
        assert threshold is not None
        real = 2.0 * float(threshold) - 1.0
        near = ts > real
        missing = np.flatnonzero(~np.diag(near))
        if missing.size:
            raise ValueError(
                f"text_similarity[i, i] must exceed the threshold (2 * {threshold} - 1 = {real:g}) for every caption, "
                f"as for L2-normalized sentence embeddings; rows {missing[:10].tolist()} do not (normalize the "
                f"sentence embeddings, or pass cosine similarities)")
        g = np.where(near, d, np.inf).min(axis=1)
    less = (d < g[:, None]).sum(axis=1)
    equal = (d == g[:, None]).sum(axis=1)
    return np.asarray(less + (equal - 1) / 2.0)


def metrics_from_ranks(ranks: Any, rounding: int | None = None) -> dict[str, float]:
    """``{"R01", "R02", "R03", "R05", "R10": 100 * mean(rank < k), "MedR": median(rank) + 1}`` (TMR's ``cols2metrics``)."""
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"ranks must be a non-empty 1-D array; got shape {r.shape}")
    out = {f"R{k:02d}": 100.0 * float(np.sum(r < k)) / r.size for k in RECALL_KS}
    out["MedR"] = float(np.median(r) + 1)
    if rounding is not None:
        out = {k: round(v, rounding) for k, v in out.items()}
    return out


def all_contrastive_metrics(sims: Any, text_similarity: Any = None, threshold: float | None = None,
                            rounding: int | None = None) -> dict[str, float]:
    """Both directions from a text x motion similarity matrix: keys ``t2m/R01 ... t2m/MedR``, ``m2t/...``,
    ``t2m/len``, ``m2t/len`` (TMR's ``all_contrastive_metrics``)."""
    s = np.asarray(to_numpy(sims), dtype=np.float64)
    t2m = metrics_from_ranks(query_ranks(s, text_similarity, threshold), rounding)
    m2t = metrics_from_ranks(query_ranks(s.T, text_similarity, threshold), rounding)
    out: dict[str, float] = {}
    for key in t2m:
        out[f"t2m/{key}"] = t2m[key]
        out[f"m2t/{key}"] = m2t[key]
    out["t2m/len"] = float(s.shape[0])
    out["m2t/len"] = float(s.shape[1])
    return out


def _pair(text_emb: Any, motion_emb: Any) -> tuple[np.ndarray, np.ndarray]:
    t, m = _matrix(text_emb, "text_emb"), _matrix(motion_emb, "motion_emb")
    if t.shape[0] != m.shape[0]:
        raise ValueError(f"text_emb has {t.shape[0]} rows but motion_emb has {m.shape[0]}; rows must be pairs")
    return t, m


def _text_similarity(text_similarity: Any, sentence_emb: Any, n: int) -> np.ndarray | None:
    if text_similarity is not None and sentence_emb is not None:
        raise ValueError("pass text_similarity or sentence_emb, not both")
    if sentence_emb is not None:
        e = _matrix(sentence_emb, "sentence_emb")
        if e.shape[0] != n:
            raise ValueError(f"sentence_emb has {e.shape[0]} rows; expected one per caption ({n})")
        return np.asarray(e @ e.T)  # TMR: emb @ emb.T of L2-normalized sentence embeddings
    return None if text_similarity is None else np.asarray(to_numpy(text_similarity), dtype=np.float64)


def retrieval_metrics(text_emb: Any, motion_emb: Any, *, text_similarity: Any = None, sentence_emb: Any = None,
                      threshold: float | None = None, rounding: int | None = None) -> dict[str, float]:
    """Protocol (a) ``normal`` on all rows, or (b) ``threshold`` when a caption similarity is given.

    ``text_similarity``: precomputed caption x caption cosine similarities (offline); or ``sentence_emb``:
    L2-normalized sentence embeddings (``SENTENCE_MODEL``), whose Gram matrix is used. ``threshold`` defaults
    to TMR's 0.95 when either is given.
    """
    t, m = _pair(text_emb, motion_emb)
    ts = _text_similarity(text_similarity, sentence_emb, t.shape[0])
    if ts is not None and threshold is None:
        threshold = DEFAULT_THRESHOLD
    if ts is None and threshold is not None:
        raise ValueError("threshold needs text_similarity= or sentence_emb= (protocol b)")
    return all_contrastive_metrics(cosine_similarity(t, m), ts, threshold, rounding)


def subset_metrics(text_emb: Any, motion_emb: Any, subset: Sequence[int] | Sequence[str], *,
                   ids: Sequence[str] | None = None, rounding: int | None = None) -> dict[str, float]:
    """Protocol (c) ``nsim``: (a) on the rows ``subset`` (indices, or ids looked up in ``ids``), e.g. TMR's
    ``nsim_test.txt``. Every id must be present."""
    t, m = _pair(text_emb, motion_emb)
    rows = _rows(subset, ids, t.shape[0])
    return all_contrastive_metrics(cosine_similarity(t[rows], m[rows]), rounding=rounding)


def _rows(subset: Sequence[Any], ids: Sequence[str] | None, n: int) -> np.ndarray:
    items = list(subset)
    if not items:
        raise ValueError("the subset is empty")
    if ids is not None:
        ids = [str(i) for i in ids]
        if len(ids) != n:
            raise ValueError(f"ids has {len(ids)} entries but there are {n} rows")
        where = {k: i for i, k in enumerate(ids)}
        if len(where) != n:
            raise ValueError("ids must be unique")
        missing = [s for s in items if str(s) not in where]
        if missing:
            raise ValueError(f"{len(missing)} subset ids are not among the rows, e.g. {missing[:5]}; the protocol "
                             f"needs every one of them")
        rows = np.array([where[str(s)] for s in items], dtype=np.int64)
    else:
        rows = np.asarray(items, dtype=np.int64)
        if rows.ndim != 1 or (rows < 0).any() or (rows >= n).any():
            raise ValueError(f"subset indices must be in 0..{n - 1}")
    if np.unique(rows).size != rows.size:
        raise ValueError("the subset has repeated rows")
    return rows


def read_split(path: str | Path) -> list[str]:
    """Ids of a TMR split file (one per line, stripped; blank lines skipped)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"split file {p} not found (TMR: datasets/annotations/<dataset>/splits/nsim_test.txt)")
    text = read_text(p, expected="a split list with one id per line")
    return [line.strip() for line in text.splitlines() if line.strip()]


def guo_batches(n: int, ids: Sequence[str] | None = None, *, batch_size: int = GUO_BATCH_SIZE,
                seed: int = 0) -> list[np.ndarray]:
    """Row indices of TMR's protocol-(d) batches: rows ordered by sorted ``ids`` (row order when ``None``),
    ``arange(n)`` shuffled by ``RandomState(seed)`` (= ``np.random.seed(seed); np.random.shuffle``), cut in
    ``n // batch_size`` full batches."""
    if n < batch_size:
        raise ValueError(f"protocol (d) needs at least {batch_size} pairs; got {n}")
    if ids is not None:
        keys = [str(i) for i in ids]
        if len(keys) != n:
            raise ValueError(f"ids has {len(keys)} entries but there are {n} rows")
        if len(set(keys)) != n:
            raise ValueError("ids must be unique")
        order = np.array(sorted(range(n), key=lambda i: keys[i]), dtype=np.int64)
    else:
        order = np.arange(n, dtype=np.int64)
    idx = np.arange(n)
    np.random.RandomState(seed).shuffle(idx)
    return [order[idx[batch_size * b: batch_size * (b + 1)]] for b in range(n // batch_size)]


def guo_metrics(text_emb: Any, motion_emb: Any, *, ids: Sequence[str] | None = None, batch_size: int = GUO_BATCH_SIZE,
                seed: int = 0, rounding: int | None = None) -> dict[str, float]:
    """Protocol (d): protocol (a) on every batch of :func:`guo_batches`, each key averaged over batches."""
    t, m = _pair(text_emb, motion_emb)
    per = [all_contrastive_metrics(cosine_similarity(t[b], m[b])) for b in guo_batches(t.shape[0], ids,
                                                                                     batch_size=batch_size, seed=seed)]
    out = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
    if rounding is not None:
        out = {k: round(v, rounding) for k, v in out.items()}
    return out


def tmr_protocols(text_emb: Any, motion_emb: Any, *, ids: Sequence[str] | None = None,
                  text_similarity: Any = None, sentence_emb: Any = None, threshold: float = DEFAULT_THRESHOLD,
                  nsim_ids: Sequence[Any] | None = None, rounding: int | None = None) -> dict[str, dict[str, float]]:
    """All of TMR's protocols that the inputs allow: ``normal``, ``threshold_<thr>`` (with a caption similarity),
    ``nsim`` (with the subset), ``guo`` (with at least 32 pairs); keys as TMR's ``contrastive_metrics/*.yaml``."""
    out = {"normal": retrieval_metrics(text_emb, motion_emb, rounding=rounding)}
    if text_similarity is not None or sentence_emb is not None:
        out[f"threshold_{threshold}"] = retrieval_metrics(text_emb, motion_emb, text_similarity=text_similarity,
                                                          sentence_emb=sentence_emb, threshold=threshold,
                                                          rounding=rounding)
    if nsim_ids is not None:
        by_id = any(isinstance(s, str) for s in nsim_ids)  # ids (e.g. nsim_test.txt) or row indices
        if by_id and ids is None:
            raise ValueError("nsim_ids are ids: pass ids= (one per row) to find them")
        out["nsim"] = subset_metrics(text_emb, motion_emb, nsim_ids, ids=ids if by_id else None, rounding=rounding)
    if np.asarray(to_numpy(motion_emb)).shape[0] >= GUO_BATCH_SIZE:
        out["guo"] = guo_metrics(text_emb, motion_emb, ids=ids, rounding=rounding)
    return out


def tmr_embedding_scores(gt_motion_emb: Any, gen_motion_emb: Any, gen_text_emb: Any | None = None, *,
                         fid_method: str = "exact") -> dict[str, Any]:
    """TMR-space FID (Fréchet distance of the motion embeddings, :func:`motioneval.metrics.frechet.fid`, ground
    truth first) and, with the paired texts, the matching score ``mean_i |t_i - m_i|`` (Euclidean, raw latents,
    the T2M definition in TMR's space) and the mean TMR score ``mean_i (cos(t_i, m_i) + 1) / 2``.

    Labelled: these numbers are not comparable to the T2M evaluator's (``note``).
    """
    from .frechet import fid

    gt = _matrix(gt_motion_emb, "gt_motion_emb")
    gen = _matrix(gen_motion_emb, "gen_motion_emb")
    out: dict[str, Any] = {"evaluator": "tmr", "note": NOT_COMPARABLE,
                           "fid": float(fid(gt, gen, method=fid_method))}
    if gen_text_emb is not None:
        t, m = _pair(gen_text_emb, gen)
        out["matching_score"] = float(np.linalg.norm(t - m, axis=1).mean())
        tn = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
        mn = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
        out["mean_score"] = float(((tn * mn).sum(axis=1) / 2 + 0.5).mean())
    return out
