"""Scale-out of :func:`~motioneval.protocol.evaluate.evaluate` over ``torch.distributed`` (``torchrun``).

The evaluation is a list of units of work ``(replication, stage, chunk)``
(:meth:`~motioneval.protocol.evaluate.Evaluation.units`); a unit's embeddings depend only on the unit (its
rows and a seed derived from ``(seed, replication, stream, chunk)``), never on the process that computes
it. So the numbers of a run on any number of ranks are *bitwise* those of a single process with the same
``seed`` and ``chunk_size`` (given the same evaluator device type: a GPU and a CPU do not round alike).

:func:`run_distributed`, on every rank:

1. checks that all ranks prepared the same run (a digest of every unit's cache key: dataset content,
   evaluator files, generator name/version, preset, seed, chunk size), else stops with the ranks that differ;
2. finds the units already finished (an embedding entry in some rank's cache) and assigns the others with
   :func:`~motioneval.protocol._dist_plan.assign_units` (longest first, to the least loaded rank);
3. runs its own units; each is cached as soon as it is done (atomic files), so a rank that dies leaves its
   finished units behind and a relaunch computes only the missing ones, spread over all ranks;
4. exchanges a status (all-gather): if a rank failed, every rank stops with its error message;
5. reduces to rank 0 the embeddings rank 0 cannot read from its own cache (none with a shared file system;
   everything with ``cache_dir=None``), one ``gather_object`` per replication over a ``gloo`` group (the
   embeddings are numpy arrays on the CPU whatever the default backend; NCCL would only add copies to and
   from the GPU); rank 0 stores them in its cache, or in memory without one;
6. rank 0 computes every metric once, with :meth:`~motioneval.protocol.evaluate.Evaluation.score`, from
   exactly the arrays a single process would have; other ranks get ``None`` (or the result, with
   ``all_ranks=True``).

Launch with ``torchrun --nproc_per_node=N ...``: :func:`init_distributed` reads ``RANK``/``WORLD_SIZE``/
``LOCAL_RANK`` from the environment, initializes the default process group (``nccl`` with CUDA, else
``gloo``) and puts each rank's evaluator on ``cuda:LOCAL_RANK``. See ``docs/distributed.md``.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress as _progress
from ._dist_plan import assign_units, first_holders, unit_cost
from .embedding import EvaluatorSource
from .evaluate import DatasetSource, Evaluation, SamplesSource
from .generators import Generator
from .presets import Preset
from .results import Result

logger = logging.getLogger(__name__)

#: Seconds a collective waits for the slowest rank (ranks wait for each other after their share of units).
DEFAULT_TIMEOUT_S = 6 * 3600.0


class DistributedContext:
    """This process's place in the job and the collectives the evaluation needs.

    ``rank``/``world_size`` of the job, ``local_rank`` on the node, ``device`` for the evaluator
    (``cuda:<local_rank>`` when CUDA is available, else ``cpu``), ``backend`` of the default process group
    (``None`` for a single process without ``torch.distributed``), ``group`` the ``gloo`` group used for
    the object collectives. A world of one needs no ``torch.distributed``: every collective is the identity.
    Build with :func:`init_distributed`; ``close()`` (or ``with``) releases what it created.
    """

    def __init__(self, rank: int = 0, world_size: int = 1, *, local_rank: int = 0, device: str = "cpu",
                 backend: str | None = None, group: Any = None, owns_process_group: bool = False) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside a world of {world_size}")
        self.rank = rank
        self.world_size = world_size
        self.local_rank = local_rank
        self.device = device
        self.backend = backend
        self.group = group
        self.owns_process_group = owns_process_group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (picklable), in rank order, on every rank."""
        if self.world_size == 1:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self.group)
        return out

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """Rank ``src``'s ``obj`` on every rank."""
        if self.world_size == 1:
            return obj
        import torch.distributed as dist

        box = [obj if self.rank == src else None]
        dist.broadcast_object_list(box, src=src, group=self.group)
        return box[0]

    def gather(self, obj: Any, dst: int = 0) -> list[Any] | None:
        """Every rank's ``obj`` in rank order on rank ``dst``; ``None`` elsewhere."""
        if self.world_size == 1:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.world_size if self.rank == dst else None
        dist.gather_object(obj, out, dst=dst, group=self.group)
        return out

    def evaluator_device(self, requested: str | None) -> str | None:
        """The device for this rank's evaluator: ``requested``, with ``None`` and a bare ``"cuda"`` meaning this
        rank's own device (``cuda:<local_rank>`` or ``cpu``)."""
        if requested is None or (requested == "cuda" and self.device.startswith("cuda")):
            return self.device
        return requested

    def close(self) -> None:
        """Destroy the ``gloo`` group and, when :func:`init_distributed` created it, the default process group."""
        if self.world_size == 1 and not self.owns_process_group:
            return
        import torch.distributed as dist

        if not dist.is_initialized():
            return
        if self.group is not None:
            dist.destroy_process_group(self.group)
            self.group = None
        if self.owns_process_group:
            dist.destroy_process_group()
            self.owns_process_group = False

    def __enter__(self) -> "DistributedContext":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"DistributedContext(rank={self.rank}, world_size={self.world_size}, local_rank={self.local_rank}, "
                f"device={self.device!r}, backend={self.backend!r})")


def init_distributed(backend: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_S) -> DistributedContext:
    """Join the job ``torchrun`` launched (or the process group the caller already initialized).

    ``backend`` of the default process group: ``"nccl"`` when CUDA is available, else ``"gloo"``; the
    evaluation's own collectives always use a ``gloo`` group with ``timeout`` seconds. Each rank's device is
    ``cuda:<LOCAL_RANK>`` (made current) with CUDA, else ``cpu``. Without ``torchrun``'s environment
    (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``) and no initialized group, warns and returns a world of one.
    """
    import torch
    import torch.distributed as dist

    env = os.environ
    cuda = torch.cuda.is_available()
    owns = False
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed; install a build with it to use --distributed")
    if not dist.is_initialized():
        missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in env]
        if missing:
            warnings.warn(f"distributed evaluation requested but {', '.join(missing)} is not set (not launched by "
                          f"torchrun): running as a single process", stacklevel=2)
            return DistributedContext(device="cuda" if cuda else "cpu")
        backend = backend or ("nccl" if cuda and dist.is_nccl_available() else "gloo")
        if cuda:
            _set_cuda_device(int(env.get("LOCAL_RANK", 0)), strict="nccl" in backend)
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout))
        owns = True
    rank, world = dist.get_rank(), dist.get_world_size()
    device = f"cuda:{torch.cuda.current_device()}" if cuda else "cpu"  # set above, or by the caller
    group = dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout)) if world > 1 else None
    ctx = DistributedContext(rank, world, local_rank=int(env.get("LOCAL_RANK", rank)), device=device,
                             backend=dist.get_backend(), group=group, owns_process_group=owns)
    logger.info("joined %r", ctx)
    return ctx


def _set_cuda_device(local_rank: int, *, strict: bool) -> None:
    """Make ``cuda:<local_rank>`` current (GPUs shared round-robin when there are fewer, except with NCCL)."""
    import torch

    count = torch.cuda.device_count()
    if strict and local_rank >= count:
        raise RuntimeError(f"local rank {local_rank} has no GPU of its own (this node has {count}): NCCL needs one GPU "
                           f"per process; launch at most {count} processes per node (--nproc_per_node)")
    torch.cuda.set_device(local_rank % count)


def run_distributed(evaluation: Evaluation, context: DistributedContext | None = None, *, all_ranks: bool = False,
                    generation_weight: float = 10.0) -> Result | None:
    """Run ``evaluation``'s units sharded over the ranks, reduce to rank 0 and score there (module docstring).

    Every rank must call it with an :class:`~motioneval.protocol.evaluate.Evaluation` built from the same
    arguments. ``generation_weight``: estimated cost of generating a row relative to embedding one (for the
    balance only; it cannot change the numbers). Returns the :class:`~motioneval.protocol.results.Result` on
    rank 0 (on every rank with ``all_ranks``), ``None`` elsewhere.
    """
    ctx = context if context is not None else DistributedContext()
    t0 = time.perf_counter()
    units = evaluation.units()
    keys = [evaluation.embedding_key(u)[0] for u in units]
    _check_same_run(ctx, keys)

    holders = first_holders(ctx.all_gather([i for i, u in enumerate(units) if evaluation.is_cached(u)]))
    pending = [i for i in range(len(units)) if i not in holders]
    ranks = assign_units([unit_cost(units[i].stage, units[i].stop - units[i].start,
                                    generates=not evaluation.sample_mode, generation_weight=generation_weight)
                          for i in pending], ctx.world_size)
    owner = {**dict(zip(pending, ranks)), **holders}
    mine = [i for i, r in zip(pending, ranks) if r == ctx.rank]
    logger.info("rank %d/%d: %d of %d units to compute (%d finished before)", ctx.rank, ctx.world_size, len(mine),
                len(units), len(holders))

    kept, failure = _run_share(ctx, evaluation, units, mine)
    statuses = ctx.all_gather({"error": None if failure is None else f"{type(failure).__name__}: {failure}",
                               "units": len(mine), "seconds": round(time.perf_counter() - t0, 3)})
    if failure is not None:
        raise failure
    failed = [(r, s["error"]) for r, s in enumerate(statuses) if s["error"] is not None]
    if failed:
        raise RuntimeError(f"rank {failed[0][0]} failed: {failed[0][1]}. The units every rank finished are in the "
                           f"cache: fix the cause and relaunch to compute only the missing ones")

    received, sent = _reduce_to_main(ctx, evaluation, units, keys, owner, kept)
    outcome: tuple[str, Any] | None = None
    if ctx.is_main:
        try:
            with _preloaded(evaluation, received):
                result = evaluation.score()
            result.settings["distributed"] = {
                "world_size": ctx.world_size, "backend": ctx.backend, "units": len(units),
                "units_finished_before": len(holders), "units_per_rank": [s["units"] for s in statuses],
                "work_seconds_per_rank": [s["seconds"] for s in statuses], "units_sent_to_rank_0": sent,
                "assignment": "finished units are kept; the others longest first to the least loaded rank"}
            outcome = ("ok", result)
        except Exception as exc:
            if all_ranks:  # the other ranks wait for the result
                ctx.broadcast(("error", f"{type(exc).__name__}: {exc}"))
            raise
    if not all_ranks:
        return outcome[1] if outcome is not None else None
    kind, value = ctx.broadcast(outcome)
    if kind == "error":
        raise RuntimeError(f"rank 0 failed to score: {value}")
    return value


def _run_share(ctx: DistributedContext, evaluation: Evaluation, units: list[Any], mine: list[int]
               ) -> tuple[dict[int, dict[str, np.ndarray]], Exception | None]:
    """Run this rank's units ``units[i] for i in mine``; returns their embeddings where nothing else keeps them
    (no cache) and the exception that stopped the work, if any (reported to every rank, so that none waits
    in vain)."""
    kept: dict[int, dict[str, np.ndarray]] = {}
    try:
        for i in _progress(mine, total=len(mine), unit="chunk", enable=evaluation.show_progress and ctx.is_main,
                           desc=f"rank {ctx.rank}/{ctx.world_size}: evaluate {evaluation.name}"):
            out = evaluation.run_unit(units[i])
            if not evaluation.cache.enabled:
                kept[i] = out
    except Exception as exc:
        return kept, exc
    return kept, None


def _reduce_to_main(ctx: DistributedContext, evaluation: Evaluation, units: list[Any], keys: list[str],
                    owner: Mapping[int, int], kept: dict[int, dict[str, np.ndarray]]
                    ) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """Send rank 0 the embeddings it cannot read from its own cache, one replication per ``gather``; rank 0
    stores them in its cache, or returns them (by cache key) without one. Returns (those, units sent)."""
    need = None
    if ctx.is_main:
        need = [i for i, u in enumerate(units) if owner[i] != 0 and not evaluation.is_cached(u)]
    need = ctx.broadcast(need)
    received = {keys[i]: arrays for i, arrays in kept.items()} if ctx.is_main else {}
    for r in sorted({units[i].replication for i in need}):
        payload = {i: kept[i] if i in kept else evaluation.run_unit(units[i])
                   for i in need if units[i].replication == r and owner[i] == ctx.rank}
        parts = ctx.gather(payload)
        if not ctx.is_main:
            continue
        assert parts is not None  # gather returns the list on the main rank
        for part in parts:
            for i, arrays in part.items():
                if evaluation.cache.enabled:
                    key, description = evaluation.embedding_key(units[i])
                    evaluation.cache.save("embeddings", key, description, **arrays)
                else:
                    received[keys[i]] = arrays
    return received, len(need)


def evaluate_distributed(*, dataset: DatasetSource, evaluator: EvaluatorSource, samples: SamplesSource | None = None,
                         generator: Generator | None = None,
                         preset: str | Preset = "t2m", out: str | Path | None = None, seed: int = 0,
                         split: str = "test", cache_dir: str | Path | None = None, chunk_size: int = 128,
                         allow_pickle: bool = False, progress: bool = False, device: str | None = None,
                         name: str | None = None, on_dataset_problem: str = "raise",
                         overrides: Mapping[str, Any] | None = None, backend: str | None = None,
                         all_ranks: bool = False, timeout: float = DEFAULT_TIMEOUT_S,
                         **preset_overrides: Any) -> Result | None:
    """:func:`~motioneval.protocol.evaluate.evaluate` on every rank of a ``torchrun`` job (same arguments).

    Joins the job (:func:`init_distributed` with ``backend`` and ``timeout``), builds the evaluation with
    this rank's device (``device=None`` or ``"cuda"``: ``cuda:<LOCAL_RANK>``), runs it with
    :func:`run_distributed`; rank 0 writes ``out``. Returns the result on rank 0 (every rank with
    ``all_ranks``), ``None`` elsewhere; bitwise the numbers of ``evaluate`` in one process. Releases the
    process group afterwards if it created it (initialize it yourself to run several evaluations).
    """
    merged = {**dict(overrides or {}), **preset_overrides}
    if cache_dir is None and out is not None:
        cache_dir = Path(out) / "cache"
    with init_distributed(backend, timeout=timeout) as ctx:
        with warnings_on_main_only(ctx):
            run = Evaluation(dataset=dataset, evaluator=evaluator, samples=samples, generator=generator,
                             preset=preset, seed=seed, split=split, cache_dir=cache_dir, chunk_size=chunk_size,
                             allow_pickle=allow_pickle, device=ctx.evaluator_device(device), progress=progress,
                             name=name, on_dataset_problem=on_dataset_problem, overrides=merged)
        result = run_distributed(run, ctx, all_ranks=all_ranks)
        if out is not None and ctx.is_main and result is not None:
            result.save(out)
    return result


@contextlib.contextmanager
def warnings_on_main_only(ctx: DistributedContext) -> Iterator[None]:
    """Silence warnings on ranks other than 0 (every rank prepares the same run and would repeat them)."""
    if ctx.is_main:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _check_same_run(ctx: DistributedContext, keys: list[str]) -> None:
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    digests = ctx.all_gather((len(keys), digest))
    differ = [r for r, d in enumerate(digests) if d != digests[0]]
    if differ:
        raise ValueError(f"rank(s) {differ} prepared another evaluation than rank 0 ({digests[differ[0]][0]} vs "
                         f"{digests[0][0]} units, or other cache keys): every rank must see the same dataset, "
                         f"evaluator files, generator name and version, preset, seed and chunk size")


class _Preloaded:
    """``evaluation.cache`` serving some embeddings from memory first (those of other ranks without a cache)."""

    def __init__(self, base: Any, arrays: Mapping[str, dict[str, np.ndarray]]) -> None:
        self.base = base
        self.arrays = arrays

    def load(self, kind: str, key: str) -> dict[str, np.ndarray] | None:
        if kind == "embeddings" and key in self.arrays:
            self.base.hits += 1
            return self.arrays[key]
        return self.base.load(kind, key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)


@contextlib.contextmanager
def _preloaded(evaluation: Evaluation, arrays: Mapping[str, dict[str, np.ndarray]]) -> Iterator[None]:
    if not arrays:
        yield
        return
    base = evaluation.cache
    evaluation.cache = _Preloaded(base, arrays)  # type: ignore[assignment]  # a read-through stand-in
    try:
        yield
    finally:
        evaluation.cache = base


if __name__ == "__main__":  # python -m motioneval.protocol.distributed <motioneval evaluate options>
    # The command line lives in cli/ (a layer above): run as a script, this module only hands over to it; as a
    # library module it imports nothing of cli/.
    import importlib
    import sys

    sys.exit(importlib.import_module("motioneval.cli._distributed").main())
