"""Benchmark: an evaluation in one process against the same evaluation on 1 and 2 ``torchrun`` ranks (gloo, CPU).

The generator does real work, ``--ms`` milliseconds of numpy per generated row (a chain of dense layers over
the row's frames), so that generation dominates as it does for real models; the evaluator is the numpy toy
evaluator. Every run computes everything (no cache); the 2-rank run sends rank 1's embeddings to rank 0.
Each process uses one thread (``OMP_NUM_THREADS=1``), so the runs compare processes, not threads.

Per configuration and repeat (interleaved) it records the wall time of the whole command (Python start-up,
imports, rendezvous included) and the time inside the job (building the evaluation, running its units,
reducing and scoring, measured on rank 0). Prints medians and the ratios to the single process, and
checks that every run gave the same metric values, float for float.

    python benchmarks/distributed.py [--clips 300] [--ms 3] [--replications 2] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads its BLAS
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

SMALL = dict(mm_replications=0, diversity_pairs=50, diversity_pairs_small=None)


class BusyGenerator:
    """The toy generator's motions, after ``ms`` milliseconds of dense layers per row (a stand-in model)."""

    kind = "features"
    normalization = "dataset"
    name = "busy"
    version = "1"

    def __init__(self, stats, layers: int) -> None:
        from motioneval.testing import ToyGenerator

        self.stats = stats
        self.base = ToyGenerator(stats)
        self.layers = layers
        self.weights = np.random.default_rng(0).standard_normal((stats.dim, stats.dim)) / np.sqrt(stats.dim)
        self.seconds = 0.0
        self.rows = 0

    def generate(self, captions, lengths, seed):
        t = time.perf_counter()
        motions, lengths = self.base.generate(captions, lengths, seed)
        for i in range(len(captions)):  # a model's per-row work
            x = motions[i].astype(np.float64)
            for _ in range(self.layers):
                x = np.tanh(x @ self.weights)
        self.seconds += time.perf_counter() - t
        self.rows += len(captions)
        return motions, lengths


def layers_for(ms: float, dim: int = 263, frames: int = 196) -> int:
    """Dense layers ``(frames, dim) @ (dim, dim)`` that take about ``ms`` milliseconds here."""
    x, w = np.ones((frames, dim)), np.ones((dim, dim)) / dim
    t = time.perf_counter()
    for _ in range(20):
        x = np.tanh(x @ w)
    per_layer = (time.perf_counter() - t) / 20
    return max(1, round(ms / 1000 / per_layer))


def job(cfg: dict) -> None:
    """One run (under torchrun when ``cfg["distributed"]``): rank 0 prints a JSON line."""
    import motioneval.metrics.frechet  # noqa: F401  (imports are counted in the wall time only)
    from motioneval.protocol.distributed import evaluate_distributed
    from motioneval.protocol.evaluate import evaluate
    from motioneval.representation.normalization import FeatureStats
    from motioneval.testing import ToyEvaluator

    if cfg["distributed"]:
        import torch.distributed  # noqa: F401
    t0 = time.perf_counter()
    root = Path(cfg["root"])
    stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy", name="dataset")
    generator = BusyGenerator(stats, cfg["layers"])
    kw = dict(dataset=root, evaluator=ToyEvaluator(FeatureStats(stats.mean + 0.1, stats.std * 1.2)),
              generator=generator, preset="momask", seed=0, chunk_size=cfg["chunk"],
              replications=cfg["replications"], **SMALL)
    result = evaluate_distributed(**kw) if cfg["distributed"] else evaluate(**kw)
    if result is not None:
        values = {r.name: {k: v.values for k, v in r.metrics.items()} for r in result.rows}
        print("RESULT " + json.dumps({"seconds": time.perf_counter() - t0, "values": values,
                                      "generator_ms_per_row": 1000 * generator.seconds / max(generator.rows, 1),
                                      "generated_rows": generator.rows,
                                      "distributed": result.settings.get("distributed")}), flush=True)


def launch(cfg: dict, ranks: int | None) -> tuple[float, dict]:
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo"}
    if ranks is None:
        cmd = [sys.executable, __file__, "--job", json.dumps({**cfg, "distributed": False})]
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={ranks}", "--master_addr=127.0.0.1",
               f"--master_port={port}", "--max_restarts=0", __file__, "--job", json.dumps({**cfg, "distributed": True})]
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed:\n{done.stdout}\n{done.stderr}")
    line = next(s for s in done.stdout.splitlines() if s.startswith("RESULT "))
    return wall, json.loads(line[len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=400)
    ap.add_argument("--ms", type=float, default=5.0, help="generator work per row, milliseconds")
    ap.add_argument("--replications", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:
        return job(json.loads(args.job))

    from motioneval.testing import write_toy_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = write_toy_dataset(Path(tmp) / "HumanML3D", num_clips=args.clips, segment_fraction=0.0)
        cfg = {"root": str(root), "layers": layers_for(args.ms), "chunk": args.chunk,
               "replications": args.replications}
        configs = {"1 process (evaluate)": None, "torchrun, 1 rank": 1, "torchrun, 2 ranks": 2}
        walls: dict[str, list[float]] = {k: [] for k in configs}
        inner: dict[str, list[float]] = {k: [] for k in configs}
        values, info, single = {}, {}, {}
        for _ in range(args.repeats):
            for name, ranks in configs.items():
                wall, out = launch(cfg, ranks)
                walls[name].append(wall)
                inner[name].append(out["seconds"])
                values.setdefault(name, out["values"])
                if out["values"] != values[name]:
                    raise SystemExit(f"{name}: two repeats gave different numbers")
                info[name] = out["distributed"]
                if ranks is None:
                    single = out
    rows = len(next(iter(values.values()))["busy"]["fid"])
    print(f"{args.clips} toy clips, {rows} replications, chunk {args.chunk}, {single['generated_rows']} generated "
          f"rows at {single['generator_ms_per_row']:.1f} ms/row (asked {args.ms:g}: {cfg['layers']} dense layers), "
          f"{os.cpu_count()} CPU cores (shared with other work), one thread per process, medians of {args.repeats}")
    base_wall, base_inner = statistics.median(walls["1 process (evaluate)"]), statistics.median(inner["1 process (evaluate)"])
    print(f"{'configuration':24s} {'wall s':>8s} {'speedup':>8s} {'in job s':>9s} {'speedup':>8s}")
    for name in configs:
        w, i = statistics.median(walls[name]), statistics.median(inner[name])
        print(f"{name:24s} {w:8.2f} {base_wall / w:7.2f}x {i:9.2f} {base_inner / i:7.2f}x")
    two = info["torchrun, 2 ranks"]
    print(f"2 ranks: units per rank {two['units_per_rank']}, work seconds per rank {two['work_seconds_per_rank']}, "
          f"units sent to rank 0: {two['units_sent_to_rank_0']}")
    same = all(v == values["1 process (evaluate)"] for v in values.values())
    print(f"metric values identical in all configurations: {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
