"""Embedding throughput of ``TMREvaluator`` against a reference-style path with the same weights.

Weights are random at TMR's released sizes (ACTOR-style encoders, latent 256, 6 layers, 4 heads, ff 1024;
motion 263-d; text: a DistilBERT-base-sized model built from its default config, 768-d), so no download
is needed; a tiny word-level vocabulary tokenizes the captions.

Motion (lengths uniform in 40..200 frames, HumanML3D test clips; normalized features):

- reference-style: TMR's ``retrieval.py`` ``compute_sim_matrix``: rows in dataset order split into
  ``ceil(N / 256)`` batches, each zero-padded to its longest motion, masked, encoded; output 0 (``mu``).
- ours: ``embed_motion`` (rows sorted by length, batches of ``--batch-sizes``, each cropped to its longest).

Text (captions of 3..24 words):

- reference-style: TMR's ``TextToEmb`` called one caption at a time (as its ``TokenEmbeddings`` does for
  captions not precomputed), then the text encoder in batches of 256 padded to the batch's longest.
- ours: ``embed_text`` (captions sorted by token count, DistilBERT and the encoder batched).

Both paths' embeddings are compared (max abs difference). Medians of ``--repeats`` interleaved runs, per
thread count in ``--threads``.

    python benchmarks/tmr.py [--n 256] [--repeats 2] [--threads 1 2] [--batch-sizes 32 64 256] [--what both]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from motioneval.evaluators.tmr import TMREvaluator
from motioneval.evaluators.tmr_modules import (
    TMREncoderConfig,
    build_encoder,
    lengths_to_mask,
)
from motioneval.representation.normalization import FeatureStats

WORDS = ["a", "person", "walks", "forward", "and", "then", "turns", "around", "slowly", "jumps", "kicks", "with", "his", "left", "right", "leg", "the", "man", "runs", "in", "circle", "waves", "hand", "sits", "down", "on", "chair", "stands", "up", "picks", "something", "from", "ground", "throws", "ball"]


def make_evaluator(with_text: bool) -> TMREvaluator:
    torch.manual_seed(0)
    motion = build_encoder(TMREncoderConfig(nfeats=263))
    text = build_encoder(TMREncoderConfig(nfeats=768))
    stats = FeatureStats(np.zeros(263, np.float32), np.ones(263, np.float32), name="benchmark")
    tok = model = None
    if with_text:
        import inspect

        import transformers

        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","] + sorted(set(WORDS))
        cls = transformers.DistilBertTokenizer
        if "vocab_file" in inspect.signature(cls.__init__).parameters:
            import tempfile
            from pathlib import Path

            path = Path(tempfile.mkdtemp()) / "vocab.txt"
            path.write_text("\n".join(vocab) + "\n")
            tok = cls(vocab_file=str(path), do_lower_case=True)
        else:
            tok = cls(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
        model = transformers.DistilBertModel(transformers.DistilBertConfig(vocab_size=len(vocab))).eval()
    return TMREvaluator(motion, text, stats, tok, model, device="cpu")


def make_motions(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(40, 201, size=n)
    x = rng.standard_normal((n, 200, 263), dtype=np.float32)
    x[np.arange(200)[None, :] >= lengths[:, None]] = 0.0
    return x, lengths


def make_captions(n: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 25)))) + "." for _ in range(n)]


@torch.inference_mode()
def reference_motion(ev: TMREvaluator, x: np.ndarray, lengths: np.ndarray, batch: int = 256) -> np.ndarray:
    out = []
    for rows in np.array_split(np.arange(len(x)), int(np.ceil(len(x) / batch))):
        t = int(lengths[rows].max())
        mask = lengths_to_mask(lengths[rows], t)
        out.append(ev.motion_encoder(torch.from_numpy(x[rows, :t]), mask)[:, 0].numpy())
    return np.concatenate(out)


@torch.inference_mode()
def reference_text(ev: TMREvaluator, captions: list[str], batch: int = 256) -> np.ndarray:
    feats = []
    for c in captions:  # TextToEmb, one caption at a time
        enc = ev.tokenizer([c], return_tensors="pt", padding=True)
        feats.append(ev.text_model(**enc).last_hidden_state[0])
    out = []
    for rows in np.array_split(np.arange(len(captions)), int(np.ceil(len(captions) / batch))):
        lens = np.array([feats[i].shape[0] for i in rows])
        padded = torch.zeros(len(rows), int(lens.max()), feats[0].shape[1])
        for r, i in enumerate(rows):
            padded[r, : lens[r]] = feats[i]
        out.append(ev.text_encoder(padded, lengths_to_mask(lens, int(lens.max())))[:, 0].numpy())
    return np.concatenate(out)


def timed(fn, *args, **kwargs) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t0, result


def bench(name: str, n: int, repeats: int, batch_sizes: list[int], ref, ours) -> None:
    times: dict[str, list[float]] = {"reference-style": []}
    times.update({f"ours (batch {b})": [] for b in batch_sizes})
    diff = 0.0
    for _ in range(repeats):
        t, base = timed(ref)
        times["reference-style"].append(t)
        for b in batch_sizes:
            t, got = timed(ours, b)
            times[f"ours (batch {b})"].append(t)
            diff = max(diff, float(np.abs(got - base).max()))
    ref_t = statistics.median(times["reference-style"])
    for label, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:6s} {label:20s} {n / med:9.1f} /s  ({med:.3f} s; x{ref_t / med:.2f} vs reference-style)")
    print(f"  {name:6s} max |ours - reference-style| = {diff:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="motions / captions")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU thread counts")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 256])
    parser.add_argument("--what", choices=("motion", "text", "both"), default="both")
    args = parser.parse_args()
    with_text = args.what in ("text", "both")
    ev = make_evaluator(with_text)
    x, lengths = make_motions(args.n)
    captions = make_captions(args.n) if with_text else []
    for threads in args.threads:
        torch.set_num_threads(threads)
        print(f"CPU, {threads} thread(s), N = {args.n}")
        if args.what in ("motion", "both"):
            bench("motion", args.n, args.repeats, args.batch_sizes, lambda: reference_motion(ev, x, lengths),
                  lambda b: ev.embed_motion(x, lengths, batch_size=b))
        if with_text:
            bench("text", args.n, args.repeats, args.batch_sizes, lambda: reference_text(ev, captions),
                  lambda b: ev.embed_text(captions, batch_size=b))


if __name__ == "__main__":
    main()
