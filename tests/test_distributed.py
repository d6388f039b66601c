"""Distributed evaluation: the assignment of units, the driver with several ranks in one process (threads
standing in for the collectives), and real ``torchrun`` jobs with the gloo backend on 127.0.0.1: two ranks
give bitwise the numbers of one process, and a job whose rank 1 is SIGKILLed resumes computing only the
missing units."""
from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from motioneval.protocol._dist_plan import assign_units, first_holders, unit_cost
from motioneval.protocol.cache import Cache
from motioneval.protocol.distributed import DistributedContext, run_distributed
from motioneval.protocol.evaluate import Evaluation, evaluate
from motioneval.protocol.generators import CallableGenerator
from motioneval.representation.normalization import FeatureStats
from motioneval.testing import ToyEvaluator, ToyGenerator, write_toy_dataset

# 96 ground-truth rows (3 groups of 32), 2 replications, MultiModality on one group x 6: per replication
# 3 + 3 + 3 units of 32 rows (ground truth A, B, generated) + 6 MultiModality units = 30 units, 18 generating
SMALL = dict(replications=2, mm_captions=32, mm_repeats=6, mm_pairs=3, diversity_pairs=50,
             diversity_pairs_small=None, generated_rows="independent", fid_reference="independent_pass",
             ground_truth_row=True, generated_padding="zeros")
CHUNK = 32
UNITS, GENERATING = 30, 18
RANK_DEADLINE_S = 900  # only a deadlock gets near this


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    base = tmp_path_factory.mktemp("dist")
    root = write_toy_dataset(base / "HumanML3D", num_clips=100, segment_fraction=0.1)
    ds_stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy", name="dataset")
    rng = np.random.default_rng(9)
    ev_stats = FeatureStats(ds_stats.mean + 0.1, ds_stats.std * rng.uniform(0.7, 1.4, ds_stats.dim), name="evaluator")
    np.save(base / "ev_mean.npy", ev_stats.mean)
    np.save(base / "ev_std.npy", ev_stats.std)
    return root, ds_stats, ev_stats


@pytest.fixture(scope="module")
def single(toy):
    """The single-process result every distributed run must reproduce bitwise."""
    root, ds_stats, ev_stats = toy
    return evaluate(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=ToyGenerator(ds_stats),
                    preset="momask", seed=3, chunk_size=CHUNK, **SMALL)


def _values(result):
    return {r.name: {k: v.values for k, v in r.metrics.items()} for r in result.rows}


# ------------------------------------------------------------------------------------------- assignment
def test_assign_units_covers_balances_and_is_deterministic():
    rng = np.random.default_rng(0)
    for world in (1, 2, 3, 8):
        costs = list(rng.choice([32.0, 320.0, 96.0], 50)) + [5.0] * 7
        ranks = assign_units(costs, world)
        assert ranks == assign_units(costs, world) and len(ranks) == len(costs)
        assert set(ranks) <= set(range(world))
        loads = np.bincount(ranks, weights=costs, minlength=world)
        assert loads.max() <= sum(costs) / world + max(costs)  # list-scheduling bound
    assert assign_units([1.0] * 4, 2) == [0, 1, 0, 1]
    assert assign_units([], 3) == []
    # Graham's bound against the brute-force optimum on small instances
    for n, world in ((7, 2), (6, 3)):
        for trial in range(5):
            costs = list(np.random.default_rng(trial).integers(1, 20, n).astype(float))
            best = min(max(np.bincount(a, weights=costs, minlength=world))
                       for a in itertools.product(range(world), repeat=n))
            got = max(np.bincount(assign_units(costs, world), weights=costs, minlength=world))
            assert got <= (4 / 3 - 1 / (3 * world)) * best + 1e-9
    with pytest.raises(ValueError, match="world_size"):
        assign_units([1.0], 0)


def test_unit_cost_and_holders():
    assert unit_cost("mm", 32, generates=True, generation_weight=10) == 320
    assert unit_cost("generated", 32, generates=False) == 32  # sample sets: embedding only
    assert unit_cost("gt_match", 32, generates=True) == 32
    assert first_holders([[3, 1], [1, 2], []]) == {3: 0, 1: 0, 2: 1}


# ------------------------------------------------------------------------------------------- in-process ranks
class _Exchange:
    """All-to-all exchange between threads: the semantics of the object collectives. No timeout: a slow rank
    (a loaded machine, a slow loader) only makes the others wait, as real collectives do; a rank that never
    arrives is caught by the deadline in :func:`_run_ranks` instead of breaking a barrier."""

    def __init__(self, world: int) -> None:
        self.world = world
        self.cond = threading.Condition()
        self.slots: list = [None] * world
        self.arrived = 0
        self.generation = 0
        self.results: dict[int, list] = {}

    def __call__(self, rank: int, obj):
        with self.cond:
            generation = self.generation
            self.slots[rank] = obj
            self.arrived += 1
            if self.arrived == self.world:  # the last to arrive publishes this round's objects
                self.results[generation] = self.slots
                self.slots, self.arrived = [None] * self.world, 0
                self.generation += 1
                self.cond.notify_all()
            else:
                while self.generation == generation:
                    self.cond.wait()
            return list(self.results[generation])


class ThreadContext(DistributedContext):
    def __init__(self, rank: int, world: int, exchange: _Exchange) -> None:
        super().__init__(rank, world)
        self.exchange = exchange

    def all_gather(self, obj):
        return self.exchange(self.rank, obj)

    def broadcast(self, obj, src=0):
        return self.exchange(self.rank, obj)[src]

    def gather(self, obj, dst=0):
        out = self.exchange(self.rank, obj)
        return out if self.rank == dst else None


def _run_ranks(world, make_evaluation, **kw):
    """Run ``run_distributed`` on ``world`` threads; returns per rank (result or exception, evaluation)."""
    exchange = _Exchange(world)
    out: list = [None] * world

    def work(rank):
        evaluation = make_evaluation(rank)
        try:
            out[rank] = (run_distributed(evaluation, ThreadContext(rank, world, exchange), **kw), evaluation)
        except Exception as exc:  # noqa: BLE001 - returned to the test
            out[rank] = (exc, evaluation)

    threads = [threading.Thread(target=work, args=(r,), daemon=True) for r in range(world)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + RANK_DEADLINE_S
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [r for r, t in enumerate(threads) if t.is_alive()]
    if stuck:  # a deadlock, not slowness: the deadline is far above any run of these tests
        pytest.fail(f"ranks {stuck} still running after {RANK_DEADLINE_S} s: a rank never reached a collective")
    return out


def _evaluation(toy, cache_dir=None, generator=None, seed=3):
    root, ds_stats, ev_stats = toy
    return Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=generator or ToyGenerator(ds_stats),
                      preset="momask", seed=seed, cache_dir=cache_dir, chunk_size=CHUNK, overrides=SMALL)


def test_three_ranks_without_cache_split_the_work_and_match_one_process(toy, single):
    units = _evaluation(toy).units()
    assert len(units) == UNITS and sum(u.stage in ("generated", "mm") for u in units) == GENERATING
    out = _run_ranks(3, lambda rank: _evaluation(toy), all_ranks=True)
    result = out[0][0]
    assert _values(result) == _values(single)  # bitwise: == on every float
    assert result.fid_diagnostics == single.fid_diagnostics
    assert _values(out[1][0]) == _values(out[2][0]) == _values(single)  # all_ranks: scored once, broadcast
    info = result.settings["distributed"]
    assert info["world_size"] == 3 and sum(info["units_per_rank"]) == info["units"] == UNITS
    assert min(info["units_per_rank"]) >= 8  # shared, not all on one rank
    assert info["units_sent_to_rank_0"] == UNITS - info["units_per_rank"][0]
    # every generated row embedded exactly once over all ranks (nothing recomputed to score); a rank that ran a
    # ground-truth unit embedded the window table once (no cache is shared here: each such rank builds it)
    calls = [ev.evaluator.calls["motion"] for _, ev in out]
    windows = [ev._windows.embedded if ev._windows is not None else 0 for _, ev in out]
    assert sum(calls) - sum(windows) == 2 * (96 + 32 * 6) and all(c > 0 for c in calls)
    assert {w for w in windows if w} == {len(out[0][1].window_table())}


def test_node_local_caches_are_reduced_into_rank_0_and_resume(toy, single, tmp_path):
    out = _run_ranks(2, lambda rank: _evaluation(toy, cache_dir=tmp_path / f"node{rank}"))
    assert _values(out[0][0]) == _values(single) and out[1][0] is None
    n0 = len(Cache(tmp_path / "node0").entries("embeddings"))
    n1 = len(Cache(tmp_path / "node1").entries("embeddings"))
    assert n0 == UNITS and 0 < n1 < UNITS  # rank 0 stored what it received; rank 1 kept its own share

    def never(captions, lengths, seed):
        raise AssertionError("a finished unit was generated again")

    idle = CallableGenerator(never, name="toy", version="1", normalization="dataset")
    again = _run_ranks(2, lambda rank: _evaluation(toy, cache_dir=tmp_path / f"node{rank}", generator=idle))
    assert _values(again[0][0]) == _values(single)
    assert again[0][0].settings["distributed"]["units_finished_before"] == UNITS
    assert [ev.evaluator.calls["motion"] for _, ev in again] == [0, 0]
    # units only rank 1 holds are served by rank 1, not recomputed
    only_rank1 = _run_ranks(2, lambda rank: _evaluation(toy, cache_dir=tmp_path / ("node0" if rank else "empty"),
                                                        generator=idle))
    assert _values(only_rank1[0][0]) == _values(single)
    assert only_rank1[0][0].settings["distributed"]["units_sent_to_rank_0"] == UNITS


def test_a_failing_rank_stops_every_rank_with_its_message(toy, tmp_path):
    root, ds_stats, _ = toy
    calls = {"n": 0}

    def flaky(captions, lengths, seed):
        calls["n"] += 1
        if calls["n"] > 2:
            raise ValueError("generator out of memory on row 7")
        return ToyGenerator(ds_stats).generate(captions, lengths, seed)

    def make(rank):
        gen = CallableGenerator(flaky, name="toy", version="1") if rank == 1 else ToyGenerator(ds_stats)
        return _evaluation(toy, cache_dir=tmp_path / "cache", generator=gen)

    out = _run_ranks(2, make)
    assert isinstance(out[1][0], ValueError) and "row 7" in str(out[1][0])
    assert isinstance(out[0][0], RuntimeError) and "rank 1 failed" in str(out[0][0]) and "row 7" in str(out[0][0])
    finished = len(Cache(tmp_path / "cache").entries("embeddings"))
    assert 0 < finished < UNITS  # what was done is kept for the relaunch


def test_ranks_that_prepared_different_runs_are_refused(toy):
    out = _run_ranks(2, lambda rank: _evaluation(toy, seed=3 + rank))
    for result, _ in out:
        assert isinstance(result, ValueError) and "rank(s) [1]" in str(result)


def test_without_torchrun_the_api_warns_and_runs_one_process(toy, single, tmp_path, monkeypatch):
    pytest.importorskip("torch.distributed")
    from motioneval.protocol.distributed import evaluate_distributed

    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    root, ds_stats, ev_stats = toy
    with pytest.warns(UserWarning, match="not launched by torchrun"):
        result = evaluate_distributed(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=ToyGenerator(ds_stats),
                                      preset="momask", seed=3, chunk_size=CHUNK, out=tmp_path / "out", **SMALL)
    assert _values(result) == _values(single) and result.settings["distributed"]["world_size"] == 1
    assert (tmp_path / "out" / "results.json").is_file()


# ------------------------------------------------------------------------------------------- torchrun jobs
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args, *, nproc=2, env=None, timeout=240):
    pytest.importorskip("torch.distributed")
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--nnodes=1",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "--max_restarts=0",
           "--monitor_interval=0.1", *args]
    full_env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", **(env or {})}
    job = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        stdout, stderr = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)  # the launcher and its workers
        stdout, stderr = job.communicate()
        pytest.fail(f"torchrun job timed out after {timeout} s:\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(cmd, job.returncode, stdout, stderr)


API_SCRIPT = """
import json, os, sys
import numpy as np
from motioneval.testing import ToyEvaluator, ToyGenerator
from motioneval.protocol.distributed import evaluate_distributed
from motioneval.representation.normalization import FeatureStats

cfg = json.loads(sys.argv[1])
rank = os.environ["RANK"]
ds = FeatureStats.load(cfg["root"] + "/Mean.npy", cfg["root"] + "/Std.npy", name="dataset")
ev = FeatureStats(np.load(cfg["ev_mean"]), np.load(cfg["ev_std"]), name="evaluator")

class Logged(ToyGenerator):
    def generate(self, captions, lengths, seed):
        out = super().generate(captions, lengths, seed)
        with open(os.path.join(cfg["log"], f"{cfg['launch']}-rank{rank}.txt"), "a") as fh:
            fh.write(f"{seed}\\n")
        return out

kill = cfg["kill_after"] if rank == "1" else None
evaluate_distributed(dataset=cfg["root"], evaluator=ToyEvaluator(ev), generator=Logged(ds, kill_after=kill),
                     preset="momask", seed=3, chunk_size=cfg["chunk"], out=cfg["out"], overrides=cfg["small"])
"""


def _logged_calls(log_dir, launch):
    return sum(len(p.read_text().split()) for p in log_dir.glob(f"{launch}-rank*.txt"))


@pytest.mark.slow
def test_torchrun_rank_killed_then_relaunch_computes_only_missing_units(toy, single, tmp_path):
    root, _, _ = toy
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(API_SCRIPT))
    log = tmp_path / "log"
    log.mkdir()
    base = root.parent
    cfg = {"root": str(root), "ev_mean": str(base / "ev_mean.npy"), "ev_std": str(base / "ev_std.npy"),
           "log": str(log), "chunk": CHUNK, "out": str(tmp_path / "out"), "small": SMALL}
    generating = GENERATING

    first = _torchrun([str(script), json.dumps({**cfg, "launch": "A", "kill_after": 4})])
    assert first.returncode != 0, first.stdout + first.stderr
    cache = Cache(tmp_path / "out" / "cache")
    samples_after_kill = len(cache.entries("samples"))
    stamps = {p: p.stat().st_mtime_ns for p in cache.entries()}
    units_after_kill = len(cache.entries("embeddings"))  # (besides samples: window/caption table blocks)
    assert 4 <= samples_after_kill < generating  # rank 1 finished 4 before dying; its other units are missing
    assert not (tmp_path / "out" / "results.json").exists()

    second = _torchrun([str(script), json.dumps({**cfg, "launch": "B", "kill_after": None})])
    assert second.returncode == 0, second.stdout + second.stderr
    # only the missing units were generated, spread over both ranks; finished files were not rewritten
    assert _logged_calls(log, "B") == generating - samples_after_kill
    assert all((log / f"B-rank{r}.txt").is_file() for r in (0, 1))
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert len(cache.entries("samples")) == generating and len(cache.entries("embeddings")) == UNITS
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["name"]: {k: v["values"] for k, v in r["metrics"].items()} for r in saved["rows"]} == _values(single)
    assert saved["settings"]["distributed"]["units_finished_before"] == units_after_kill


@pytest.mark.slow
def test_torchrun_cli_two_ranks_equal_one_process_with_torch_evaluator(toy, tmp_path):
    """`motioneval evaluate` options under torchrun (gloo, 2 ranks, no cache: every embedding travels to rank
    0) on a random-weight T2M evaluator in the official layout: bitwise the in-process numbers."""
    pytest.importorskip("torch")
    from motioneval.protocol.results import Result
    from motioneval.testing import write_toy_evaluator

    root, _, _ = toy
    evaluator_dir = write_toy_evaluator(tmp_path / "evaluator", root)
    gen_file = tmp_path / "my_model.py"
    gen_file.write_text(textwrap.dedent(f"""
        from motioneval.testing import ToyGenerator
        from motioneval.representation.normalization import FeatureStats

        def make():
            stats = FeatureStats.load({str(root / 'Mean.npy')!r}, {str(root / 'Std.npy')!r})
            return ToyGenerator(stats, name="my_model", version="7")
    """))
    settings = dict(replications=2, mm_captions=32, mm_repeats=6, mm_pairs=3, diversity_pairs=50)
    argv = ["--dataset", str(root), "--evaluator", str(evaluator_dir), "--generator", f"{gen_file}:make",
            "--preset", "momask", "--out", str(tmp_path / "out"), "--seed", "5", "--device", "cpu",
            "--chunk-size", "64", "--no-progress", "--no-cache", "--distributed", "--set", "diversity_pairs_small=none"]
    for k, v in settings.items():
        argv += ["--set", f"{k}={v}"]
    job = _torchrun(["-m", "motioneval", "evaluate", *argv])  # the documented form
    assert job.returncode == 0, job.stdout + job.stderr
    # rank 0 prints the table and the physical block (the command's default; its per-clip columns travel to rank 0
    # with the embeddings), rank 1 nothing
    assert job.stdout.count("| my_model |") == 2 and job.stdout.count("### Physical plausibility") == 1
    cli = Result.load(tmp_path / "out")
    info = cli.settings["distributed"]
    assert info["world_size"] == 2 and info["backend"] == "gloo" and min(info["units_per_rank"]) > 0
    assert info["units_sent_to_rank_0"] == info["units_per_rank"][1]

    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("my_model_dist", gen_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun rank (OMP_NUM_THREADS=1): CPU kernels then round alike
    try:
        api = evaluate(dataset=root, evaluator=evaluator_dir, generator=module.make(), preset="momask", seed=5,
                       device="cpu", chunk_size=64, diversity_pairs_small=None, **settings)
    finally:
        torch.set_num_threads(threads)
    assert _values(api) == _values(cli)
