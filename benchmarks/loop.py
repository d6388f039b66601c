"""Benchmark: the whole evaluation loop except generation, a reference-style loop against ``motioneval.evaluate``.

Both contenders evaluate one cached, instant generator on the same ground-truth data with the same evaluator
weights, under the t2m lineage (20 replications; per replication a ground-truth pass for R-precision /
Matching Score / Diversity, an independent ground-truth pass for the FID statistics, and a generated pass
over every item, grouped in 32s). MultiModality is off in both.

- reference-style: written from ``/work/shared/spec/protocol.md`` and ``evaluator.md`` the way the public
  loops do it: a dataset object whose ``__getitem__`` picks a caption, builds ``word/POS`` vectors token by
  token, crops to a multiple of 4, normalizes with the evaluator's statistics and zero-pads to 196 frames; a
  shuffled loader of batches of 32 (last incomplete batch dropped, each batch sorted by text length); per
  batch the text encoder and the movement + motion encoders on all 196 frames (sorted by motion length);
  the generated motion of each row (batch size 1) is de-normalized with the dataset's ``Mean/Std`` and
  re-normalized with the evaluator's; R-precision and Matching Score by a Python loop over the groups with
  ``argsort``, FID with ``np.cov`` and ``scipy.linalg.sqrtm``, Diversity with two ``choice`` draws.
- motioneval: ``evaluate(dataset=..., evaluator=<the same T2MEvaluator>, generator=..., preset="t2m")``,
  no cache (``cache_dir=None``).

The generator returns, instantly, a fixed dataset-normalized clip per caption (looked up in a table built
before the timer starts); the time spent inside ``generate`` is measured and subtracted in both contenders,
so the ratio is of everything that is not generation (data access, conversion, normalization, embedding,
metrics). Each contender runs in its own process (``--worker``), which reports its wall time, its CPU time
(``time.process_time``: user + system, far less inflated than wall time on a machine loaded by other jobs),
generation time (wall and CPU) and peak resident memory (``ru_maxrss``); the table gives both ratios.

Evaluators: ``demo`` (the tiny evaluator shipped in ``motioneval/assets/demo``) and ``official`` (the official
T2M sizes, 21.7 M parameters, random weights; the demo's word vectors and statistics).

    python benchmarks/loop.py [--replications 20] [--evaluator demo|official|both] [--clips 320] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

if __name__ == "__main__":  # thread counts must be fixed before numpy / torch load
    _t = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), None)
    if _t is None and "--threads" in sys.argv[:-1]:
        _t = sys.argv[sys.argv.index("--threads") + 1]
    _t = "1" if _t is None else _t
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _t

import numpy as np  # noqa: E402

MAX_FRAMES = 196
UNIT = 4
POOL = 32
BANK = 512  # clips the instant generator draws from (~100 MB as float32 frames)


# ------------------------------------------------------------------------------------------ shared pieces
def load_evaluator(kind: str, device: str = "cpu"):
    import torch

    from motioneval.demo.run import demo_evaluator_dir
    from motioneval.evaluators.t2m import T2MEvaluator

    demo = T2MEvaluator.load(demo_evaluator_dir(), device=device)
    if kind == "demo":
        return demo
    from motioneval.evaluators.t2m_modules import T2MConfig, build_modules

    torch.manual_seed(0)
    modules = build_modules(T2MConfig())
    return T2MEvaluator(modules, demo.stats, demo.word_vectorizer, dataset="t2m", device=device)


class InstantGenerator:
    """A cached generator: each caption maps to a fixed dataset-normalized test clip (table built up front);
    ``seconds`` accumulates the time spent inside ``generate`` (subtracted from the loop's time)."""

    kind = "features"
    normalization = "dataset"
    name = "instant"
    version = "1"

    def __init__(self, dataset_dir: Path) -> None:
        from motioneval.representation.normalization import FeatureStats

        self.stats = FeatureStats.load_dataset(dataset_dir)
        ids = (dataset_dir / "test.txt").read_text().split()[:BANK]  # bounded, so that peak memory is the loop's
        clips = [np.load(dataset_dir / "new_joint_vecs" / f"{i}.npy") for i in ids]
        self.bank = np.zeros((len(clips), MAX_FRAMES, clips[0].shape[1]), np.float32)
        self.bank_len = np.zeros(len(clips), np.int64)
        for k, c in enumerate(clips):
            n = min(len(c), MAX_FRAMES)
            self.bank[k, :n] = self.stats.normalize(c[:n])
            self.bank_len[k] = n
        self.table: dict[str, int] = {}
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.calls = 0
        self.rows = 0

    def generate(self, captions, lengths, seed):
        t0, c0 = time.perf_counter(), time.process_time()
        self.calls += 1
        self.rows += len(captions)
        idx = np.array([self.table.setdefault(c, zlib.crc32(c.encode()) % len(self.bank)) for c in captions])
        out = self.bank[idx].copy()
        if lengths is None:
            lengths = self.bank_len[idx]
        lengths = np.asarray(lengths)
        out[np.arange(MAX_FRAMES)[None, :] >= lengths[:, None]] = 0.0
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0
        return out, lengths


def make_instant() -> InstantGenerator:
    """Generator factory for ``motioneval evaluate --generator benchmarks/loop.py:make_instant`` (the dataset
    folder comes from ``MOTIONEVAL_LOOP_DATASET``); used by ``benchmarks/gpu.sh``."""
    return InstantGenerator(Path(os.environ["MOTIONEVAL_LOOP_DATASET"]))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# ------------------------------------------------------------------------------------------ reference-style
class RefDataset:
    """Ground-truth items from a HumanML3D-layout folder (protocol.md, 'Ground-truth items')."""

    def __init__(self, root: Path, evaluator, rng: np.random.RandomState) -> None:
        self.ev = evaluator
        self.mean, self.std = evaluator.stats.mean, evaluator.stats.std
        self.rng = rng
        self.items = []  # (motion, [(tokens), ...])
        for cid in (root / "test.txt").read_text().split():
            motion = np.load(root / "new_joint_vecs" / f"{cid}.npy")
            if not 40 <= len(motion) < 200:
                continue
            whole, parts = [], {}
            for line in (root / "texts" / f"{cid}.txt").read_text().splitlines():
                fields = line.strip().split("#")
                if len(fields) < 4:
                    continue
                tokens = (fields[0], fields[1].split(" "))  # (caption text, word/POS tokens)
                f, t = (0.0 if np.isnan(float(v)) else float(v) for v in fields[2:4])
                if f == 0.0 and t == 0.0:
                    whole.append(tokens)
                else:
                    seg = motion[int(f * 20):int(t * 20)]
                    if 40 <= len(seg) < 200:
                        parts.setdefault((int(f * 20), int(t * 20)), (seg, []))[1].append(tokens)
            if whole:
                self.items.append((motion, whole))
            self.items.extend(parts.values())

    def __len__(self) -> int:
        return len(self.items)

    def caption_of(self, i: int) -> tuple[str, list[str]]:
        captions = self.items[i][1]
        return captions[self.rng.randint(len(captions))]

    def text_arrays(self, tokens: list[str]):
        if len(tokens) < 20:
            tokens = ["sos/OTHER", *tokens, "eos/OTHER"]
            sent_len = len(tokens)
            tokens = tokens + ["unk/OTHER"] * (22 - sent_len)
        else:
            tokens = ["sos/OTHER", *tokens[:20], "eos/OTHER"]
            sent_len = len(tokens)
        pos, words = [], []
        for tok in tokens:
            w, p = self.ev.word_vectorizer[tok]
            words.append(w[None, :])
            pos.append(p[None, :])
        return np.concatenate(words, 0), np.concatenate(pos, 0), sent_len

    def __getitem__(self, i: int):
        motion = self.items[i][0]
        caption, tokens = self.caption_of(i)
        words, pos, sent_len = self.text_arrays(tokens)
        m_length = (len(motion) // UNIT - 1) * UNIT if self.rng.randint(3) == 0 else (len(motion) // UNIT) * UNIT
        start = self.rng.randint(0, len(motion) - m_length + 1)
        clip = (motion[start:start + m_length] - self.mean) / self.std
        clip = np.concatenate([clip, np.zeros((MAX_FRAMES - m_length, clip.shape[1]))], 0).astype(np.float32)
        return words, pos, sent_len, caption, clip, m_length


def ref_batches(ds: RefDataset, rng: np.random.RandomState):
    """Shuffled batches of 32 (last incomplete dropped), each sorted by decreasing text length (collate)."""
    order = rng.permutation(len(ds))
    for s in range(0, len(order) - POOL + 1, POOL):
        batch = [ds[int(i)] for i in order[s:s + POOL]]
        batch.sort(key=lambda b: b[2], reverse=True)
        yield [np.stack([b[k] for b in batch]) if k in (0, 1, 4) else [b[k] for b in batch] for k in range(6)]


def ref_co_embeddings(ev, words, pos, sent_lens, motions, m_lens):
    import torch

    with torch.no_grad():
        align = np.argsort(m_lens)[::-1].copy()
        w = torch.from_numpy(words).float().to(ev.device)
        p = torch.from_numpy(pos).float().to(ev.device)
        text = ev.text_encoder(w, p, torch.tensor(sent_lens))[torch.from_numpy(align).to(ev.device)]
        mot = torch.from_numpy(motions[align]).float().to(ev.device)
        movements = ev.movement_encoder(mot[..., :-4])
        motion = ev.motion_encoder(movements, torch.from_numpy(np.asarray(m_lens)[align] // UNIT))
    return text.cpu().numpy(), motion.cpu().numpy()


def ref_motion_embeddings(ev, motions, m_lens):
    import torch

    with torch.no_grad():
        align = np.argsort(m_lens)[::-1].copy()
        mot = torch.from_numpy(motions[align]).float().to(ev.device)
        movements = ev.movement_encoder(mot[..., :-4])
        return ev.motion_encoder(movements, torch.from_numpy(np.asarray(m_lens)[align] // UNIT)).cpu().numpy()


def ref_matching(text, motion):
    """R-precision (top 1..3) and Matching Score over groups of 32, the reference's way."""
    hits = np.zeros(3)
    score = 0.0
    n = 0
    for s in range(0, len(text) - POOL + 1, POOL):
        a, b = text[s:s + POOL], motion[s:s + POOL]
        d = np.sqrt(np.maximum(-2 * a @ b.T + (a ** 2).sum(1, keepdims=True) + (b ** 2).sum(1), 0))
        score += d.trace()
        order = np.argsort(d, axis=1)
        correct = np.zeros(POOL, bool)
        for k in range(3):
            correct |= order[:, k] == np.arange(POOL)
            hits[k] += correct.sum()
        n += POOL
    return hits / n, score / n


def ref_fid(x, y):
    import scipy.linalg

    mu1, s1, mu2, s2 = x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + off).dot(s2 + off))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    d = mu1 - mu2
    return float(d @ d + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def ref_diversity(x, times, rng):
    times = min(times, len(x))  # small quick runs only; the protocol sizes have N >= 300
    a, b = rng.choice(len(x), times, replace=False), rng.choice(len(x), times, replace=False)
    return float(np.linalg.norm(x[a] - x[b], axis=1).mean())


def run_reference(dataset_dir: Path, ev, gen: InstantGenerator, replications: int) -> dict:
    rng = np.random.RandomState(10)
    ds = RefDataset(dataset_dir, ev, rng)
    dstats = gen.stats
    out = {"fid": [], "r1": [], "gt_fid": [], "diversity": []}
    for _ in range(replications):
        # ground-truth pass A (matching, diversity) and B (FID statistics)
        gt_text, gt_motion = [], []
        for words, pos, lens, _, motions, m_lens in ref_batches(ds, rng):
            t, m = ref_co_embeddings(ev, words, pos, lens, motions, m_lens)
            gt_text.append(t)
            gt_motion.append(m)
        gt_text, gt_motion = np.concatenate(gt_text), np.concatenate(gt_motion)
        gt_fid_motion = np.concatenate([ref_motion_embeddings(ev, b[4], b[5]) for b in ref_batches(ds, rng)])
        ref_matching(gt_text, gt_motion)
        ref_diversity(gt_motion, 300, rng)
        out["gt_fid"].append(ref_fid(gt_fid_motion, gt_motion))
        # generated pass: one item at a time (batch size 1), then groups of 32
        rows = []
        for i in rng.permutation(len(ds)):
            words, pos, sent_len, caption, _, _ = ds[int(i)]
            motion, length = gen.generate([caption], None, 0)  # t2m lineage: the generator picks the length
            m_length = int(length[0])
            raw = dstats.denormalize(motion[0, :m_length])
            clip = np.zeros((MAX_FRAMES, raw.shape[1]), np.float32)
            clip[:m_length] = (raw - ds.mean) / ds.std
            rows.append((words, pos, sent_len, clip, m_length))
        text, motion = [], []
        for s in range(0, len(rows) - POOL + 1, POOL):
            group = sorted(rows[s:s + POOL], key=lambda r: r[2], reverse=True)
            t, m = ref_co_embeddings(ev, np.stack([g[0] for g in group]), np.stack([g[1] for g in group]),
                                     [g[2] for g in group], np.stack([g[3] for g in group]), [g[4] for g in group])
            text.append(t)
            motion.append(m)
        text, motion = np.concatenate(text), np.concatenate(motion)
        r, _ = ref_matching(text, motion)
        out["r1"].append(float(r[0]))
        out["fid"].append(ref_fid(gt_fid_motion, motion))
        out["diversity"].append(ref_diversity(motion, 300, rng))
    return {k: float(np.mean(v)) for k, v in out.items()}


# ------------------------------------------------------------------------------------------ motioneval
def run_ours(dataset_dir: Path, ev, gen: InstantGenerator, replications: int) -> dict:
    from motioneval.protocol.evaluate import evaluate

    res = evaluate(dataset=dataset_dir, evaluator=ev, generator=gen, preset="t2m", replications=replications,
                   mm_replications=0, seed=0)
    out = {}
    for row in res.rows:
        if row.kind == "model":
            for key in ("fid", "r_precision_top1", "r_precision", "diversity"):
                if key in row.metrics and row.metrics[key].mean is not None:
                    m = row.metrics[key].mean
                    out[key] = m if isinstance(m, float) else np.asarray(m).tolist()
    return out


# ------------------------------------------------------------------------------------------ driver
def worker(args) -> None:
    import torch

    torch.set_num_threads(max(1, args.threads))
    ev = load_evaluator(args.evaluator, args.device)
    gen = InstantGenerator(Path(args.dataset))
    encoders = _time_encoders(ev) if args.worker == "ours" else {}
    t0, c0 = time.perf_counter(), time.process_time()
    fn = run_reference if args.worker == "reference" else run_ours
    metrics = fn(Path(args.dataset), ev, gen, args.replications)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"wall": wall, "generation": gen.seconds, "cpu": cpu, "generation_cpu": gen.cpu_seconds,
                      "calls": gen.calls, "rows": gen.rows, "peak_rss_mb": peak_rss_mb(), "metrics": metrics, "encoders": encoders}))


def _time_encoders(ev) -> dict:
    """Wrap the evaluator's ``embed_motion`` / ``embed_text`` to add up their CPU seconds and rows."""
    import torch

    totals: dict = {"motion_cpu": 0.0, "motion_rows": 0, "text_cpu": 0.0, "text_rows": 0}
    for kind in ("motion", "text"):
        inner = getattr(ev, f"embed_{kind}")

        def timed(*a, _inner=inner, _kind=kind, **k):
            c0 = time.process_time()
            out = _inner(*a, **k)
            if isinstance(out, torch.Tensor) and out.is_cuda:
                torch.cuda.synchronize()
            totals[f"{_kind}_cpu"] += time.process_time() - c0
            totals[f"{_kind}_rows"] += len(a[0])
            return out
        setattr(ev, f"embed_{kind}", timed)
    return totals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replications", type=int, default=20)
    p.add_argument("--evaluator", choices=("demo", "official", "both"), default="both")
    p.add_argument("--clips", type=int, default=320, help="test clips of the procedural demo dataset")
    p.add_argument("--threads", type=int, default=1, help="torch / BLAS threads per process (default 1)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dataset", default=None, help="use this HumanML3D-layout folder instead of the demo data")
    p.add_argument("--worker", choices=("reference", "ours"), default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    with tempfile.TemporaryDirectory(prefix="motioneval-loop-") as tmp:
        dataset = Path(args.dataset) if args.dataset else _demo_dataset(Path(tmp), args.clips)
        kinds = ("demo", "official") if args.evaluator == "both" else (args.evaluator,)
        print(f"# whole loop minus generation: t2m lineage, {args.replications} replications, dataset {dataset}, "
              f"{args.threads} thread(s), device {args.device}")
        print("| evaluator | contender | wall s | generation s | loop minus generation s | ratio | CPU s minus "
              "generation | CPU ratio | peak RSS MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for kind in kinds:
            res = {}
            for contender in ("reference", "ours"):
                cmd = [sys.executable, __file__, "--worker", contender, "--evaluator", kind, "--dataset",
                       str(dataset), "--replications", str(args.replications), "--threads", str(args.threads),
                       "--device", args.device]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"{contender} worker failed (exit {proc.returncode})")
                res[contender] = json.loads(proc.stdout.strip().splitlines()[-1])
            net = {c: r["wall"] - r["generation"] for c, r in res.items()}
            cpu = {c: r["cpu"] - r["generation_cpu"] for c, r in res.items()}
            for c, r in res.items():
                ratio = f"**{net['reference'] / net['ours']:.1f}x**" if c == "ours" else "1.0x"
                cpu_ratio = f"**{cpu['reference'] / cpu['ours']:.1f}x**" if c == "ours" else "1.0x"
                print(f"| {kind} | {c} | {r['wall']:.1f} | {r['generation']:.2f} | {net[c]:.1f} | {ratio} | "
                      f"{cpu[c]:.1f} | {cpu_ratio} | {r['peak_rss_mb']:.0f} |", flush=True)
            print(f"<!-- {kind}: reference means {res['reference']['metrics']}; ours {res['ours']['metrics']} -->")
            enc = res["ours"]["encoders"]
            rows, gen_rows = enc["motion_rows"], min(res["ours"]["rows"], enc["motion_rows"])
            gen_cpu = enc["motion_cpu"] * gen_rows / max(rows, 1)
            print(f"<!-- {kind}, ours: motion encoder {enc['motion_cpu']:.1f} s CPU for {rows} rows "
                  f"({enc['motion_cpu'] / cpu['ours']:.0%} of our CPU minus generation), text encoder "
                  f"{enc['text_cpu']:.1f} s for {enc['text_rows']} captions; the {gen_rows} generated rows the "
                  f"protocol must embed take ~{gen_cpu:.1f} s of it (pro rata), so with everything else free the "
                  f"CPU ratio could reach at most {cpu['reference'] / gen_cpu:.1f}x -->")


def _demo_dataset(tmp: Path, clips: int) -> Path:
    from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset

    return build_demo_dataset(tmp / "dataset", DemoDatasetConfig(num_train=200, num_val=20, num_test=clips))


if __name__ == "__main__":
    main()
