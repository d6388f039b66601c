"""Motion-embedding throughput of ``T2MEvaluator.embed_motion`` against a reference-style path.

Both paths use the same official-size weights (21.7 M parameters, random) and the same inputs: motions
with lengths drawn uniformly from 40..196 and cropped to a multiple of 4 (the protocol's crop), zero past
their length, normalized features ``(N, 196, 263)``.

- reference-style: what the reference evaluation loop does, batches of 32 in dataset order; each batch is
  sorted by decreasing length, the movement encoder runs on all 196 frames, the motion encoder packs
  ``length // 4`` tokens; rows are put back in input order.
- ours: ``embed_motion`` (global sort by length, large chunks, frames cropped to what the tokens see,
  linear maps folded into the GRU input weights).

The embeddings of the two paths are compared (max abs difference) so that the speed-up is of the same
result. Prints medians of ``--repeats`` interleaved runs and the ratio. CPU always; CUDA too when present.

It also prints how close ours is to the machine's arithmetic limit: the multiply-adds the encoder cannot avoid
(convolutions over the frames the tokens read, the per-token linear map, both GRU directions over every token)
divided by our time, beside the float32 matrix-product rate measured in the same run on the GRU's largest
product (a chunk of hidden states times the 3 gate matrices).

    python benchmarks/evaluator.py [--n 1024] [--repeats 3] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from motioneval.evaluators.t2m import T2MEvaluator
from motioneval.evaluators.t2m_modules import MAX_MOTION_LENGTH, UNIT_LENGTH, T2MConfig, build_modules
from motioneval.representation.normalization import FeatureStats


def make_motions(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = (rng.integers(40, MAX_MOTION_LENGTH + 1, size=n) // UNIT_LENGTH) * UNIT_LENGTH
    x = rng.standard_normal((n, MAX_MOTION_LENGTH, 263), dtype=np.float32)
    x[np.arange(MAX_MOTION_LENGTH)[None, :] >= lengths[:, None]] = 0.0
    return x, lengths


@torch.inference_mode()
def reference_style(ev: T2MEvaluator, x: np.ndarray, lengths: np.ndarray, batch: int = 32) -> np.ndarray:
    """Batches of ``batch`` in input order; sort each by length, movement encoder on 196 frames, pack, encode."""
    out = np.empty((len(x), ev.dim_embedding), np.float32)
    for s in range(0, len(x), batch):
        rows = np.arange(s, min(s + batch, len(x)))
        align = rows[np.argsort(lengths[rows])[::-1]]
        motions = torch.from_numpy(x[align]).to(ev.device)
        movements = ev.movement_encoder(motions[..., :-4])
        m_lens = torch.from_numpy(lengths[align] // UNIT_LENGTH)
        out[align] = ev.motion_encoder(movements, m_lens).cpu().numpy()
    return out


def encoder_flops(cfg: T2MConfig, lengths: np.ndarray) -> float:
    """Floating-point operations of the motion path per the architecture (2 per multiply-add), per token:
    two first-convolution positions, one second-convolution position, the token linear map, and per GRU
    direction the gate products of the input (folded to the token size) and of the hidden state."""
    tokens = float(np.sum(np.asarray(lengths) // UNIT_LENGTH))
    k = 4  # kernel width of both movement convolutions
    conv = 2 * (2 * cfg.dim_pose * k * cfg.dim_movement_enc_hidden) + 2 * cfg.dim_movement_enc_hidden * k * cfg.dim_movement_latent
    token_linear = 2 * cfg.dim_movement_latent * cfg.dim_movement_latent
    hidden = cfg.dim_motion_hidden
    gru = 2 * 2 * 3 * hidden * (cfg.dim_movement_latent + hidden)
    return tokens * (conv + token_linear + gru)


def matmul_rate(device: str, rows: int, inner: int, cols: int, repeats: int = 5) -> float:
    """Measured float32 matrix-product rate (FLOP/s) of ``(rows x inner) @ (inner x cols)``."""
    a = torch.randn(rows, inner, device=device)
    b = torch.randn(inner, cols, device=device)
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        t, _ = timed(lambda: a @ b)
        times.append(t)
    return 2.0 * rows * inner * cols / statistics.median(times)


def timed(fn, *args) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    result = fn(*args)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0, result


def run(device: str, n: int, repeats: int) -> None:
    torch.manual_seed(0)
    modules = build_modules(T2MConfig())
    stats = FeatureStats(np.zeros(263), np.ones(263), name="unit")
    ev = T2MEvaluator(modules, stats, dataset="t2m", device=device)
    x, lengths = make_motions(n)
    ours = lambda: ev.embed_motion(x, lengths)  # noqa: E731
    ref = lambda: reference_style(ev, x, lengths)  # noqa: E731
    ours(), ref()  # warm-up
    t_ref, t_ours = [], []
    diff = 0.0
    for _ in range(repeats):
        t, a = timed(ref)
        t_ref.append(t)
        t, b = timed(ours)
        t_ours.append(t)
        diff = max(diff, float(np.abs(a - b).max()))
    m_ref, m_ours = statistics.median(t_ref), statistics.median(t_ours)
    print(f"[{device}] {n} motions, lengths 40..196 (mean {lengths.mean():.0f}), torch threads {torch.get_num_threads()}")
    print(f"  reference-style (batches of 32): median {m_ref:.3f} s  = {n / m_ref:8.1f} motions/s")
    print(f"  motioneval embed_motion        : median {m_ours:.3f} s  = {n / m_ours:8.1f} motions/s")
    print(f"  speed-up {m_ref / m_ours:.2f}x   max |difference| of embeddings {diff:.2e}")
    cfg = T2MConfig()
    achieved = encoder_flops(cfg, lengths) / m_ours
    peak = matmul_rate(device, 1024, cfg.dim_motion_hidden, 3 * cfg.dim_motion_hidden)
    print(f"  ours does {achieved / 1e9:.1f} GFLOP/s of unavoidable encoder arithmetic; float32 matrix product "
          f"({1024}x{cfg.dim_motion_hidden} @ {cfg.dim_motion_hidden}x{3 * cfg.dim_motion_hidden}) "
          f"{peak / 1e9:.1f} GFLOP/s: {achieved / peak:.0%} of it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024, help="number of motions")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run("cpu", args.n, args.repeats)
    if torch.cuda.is_available():
        run("cuda", args.n, args.repeats)


if __name__ == "__main__":
    main()
