"""How well do the training monitor's light numbers track the full protocol?

For a ladder of generators of known, decreasing quality (the demo's noisy generator with growing noise,
standing in for checkpoints early and late in training, plus the demo's mode-collapsed and
caption-ignoring generators), compute

- the full protocol: ``evaluate`` under the ``t2m`` preset (whole test split per replication,
  ``--replications`` replications, mean and 95% CI), generated lengths = ground-truth crop lengths;
- the light evaluation: :class:`~motioneval.protocol.monitor.LightEvaluation` with ``--light`` prompts, one
  replication, repeated with ``--light-seeds`` generation seeds to measure its own spread;

and print, per metric, both values per generator, the light/full ratio, and the Spearman rank correlation
of the light and full values across generators (1.0: the light numbers order checkpoints exactly as the
full protocol does). Uses the demo dataset and the shipped demo evaluator (``--demo``, default when the
evaluator asset exists) or, with ``--toy``, the toy dataset with the random-projection toy evaluator (32-d)
or, adding ``--t2m-random``, the T2M architecture with random weights (512-d embeddings). With the toy
evaluators only FID and Diversity are meaningful: their text side is random, so R-precision and Matching
score carry no signal there.

    python benchmarks/monitor_tracking.py [--replications 5] [--light 256] [--light-seeds 5] [--toy [--t2m-random]]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from motioneval.protocol.evaluate import evaluate
from motioneval.protocol.monitor import LightEvaluation

METRICS = ["fid", "r_precision_top1", "r_precision_top3", "matching_score", "diversity"]


def _demo_setup(work: Path):
    from motioneval.demo.dataset import build_demo_dataset
    from motioneval.demo.generators import CaptionIgnoringGenerator, ModeCollapsedGenerator, NoisyGenerator
    from motioneval.demo.run import demo_evaluator_dir
    from motioneval.evaluators.t2m import T2MEvaluator
    from motioneval.representation.normalization import FeatureStats

    root = build_demo_dataset(work / "dataset")
    evaluator = T2MEvaluator.load(demo_evaluator_dir())
    stats = FeatureStats.load_dataset(root)
    gens = [NoisyGenerator(stats, sigma=s) for s in (0.0, 0.25, 0.5, 1.0, 2.0)]
    for g, s in zip(gens, (0.0, 0.25, 0.5, 1.0, 2.0)):
        g.name = f"noisy sigma={s:g}"
    gens += [ModeCollapsedGenerator(), CaptionIgnoringGenerator()]
    return root, evaluator, gens, METRICS


def _toy_setup(work: Path, t2m_random: bool = False, num_clips: int = 800):
    from motioneval.data.dataset import MotionDataset
    from motioneval.protocol.ground_truth import GroundTruthItems
    from motioneval.testing import ToyEvaluator, ToyGenerator, write_toy_dataset, write_toy_evaluator

    root = write_toy_dataset(work / "HumanML3D", num_clips=num_clips, seed=0)
    items = GroundTruthItems.from_dataset(MotionDataset(root, "test"))
    if t2m_random:  # the T2M architecture with random weights and 512-d embeddings
        from motioneval.evaluators.t2m import T2MEvaluator

        evaluator = T2MEvaluator.load(write_toy_evaluator(work / "evaluator", root, hidden=512))
    else:
        evaluator = ToyEvaluator(items.dataset_stats, dim=32)
    gens = [ToyGenerator(items.dataset_stats, noise=s, name=f"toy noise={s:g}") for s in (0.25, 0.5, 1.0, 2.0, 4.0)]
    return items, evaluator, gens, ["fid", "diversity"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--light", type=int, default=256, help="prompts of the light evaluation")
    ap.add_argument("--light-seeds", type=int, default=5, help="light evaluations per generator (spread)")
    ap.add_argument("--toy", action="store_true", help="use the toy dataset/evaluator instead of the demo")
    ap.add_argument("--t2m-random", action="store_true",
                    help="with --toy: the T2M architecture with random weights (512-d embeddings) as evaluator")
    ap.add_argument("--clips", type=int, default=800, help="with --toy: clips in the toy test split")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dataset, evaluator, gens, metrics = (_toy_setup(work, args.t2m_random, args.clips) if args.toy
                                             else _demo_setup(work))
        t0 = time.perf_counter()
        light = LightEvaluation(dataset, evaluator, num_samples=args.light, seed=0)
        print(f"light setup (ground-truth pass embedded once): {time.perf_counter() - t0:.1f} s; "
              f"{light.num_samples} prompts", flush=True)
        full_vals, light_vals, light_sd, t_full, t_light = {}, {}, {}, [], []
        for g in gens:
            t0 = time.perf_counter()
            res = evaluate(dataset=dataset, evaluator=evaluator, generator=g, preset="t2m", seed=0,
                           replications=args.replications, generated_length="ground_truth", mm_replications=0)
            t_full.append(time.perf_counter() - t0)
            model = res.model
            full_vals[g.name] = {k: (model[k].mean, model[k].ci95) for k in metrics}
            runs = []
            for s in range(args.light_seeds):
                t0 = time.perf_counter()
                runs.append(light(g, seed=s))
                t_light.append(time.perf_counter() - t0)
            light_vals[g.name] = {k: float(np.mean([r[k] for r in runs])) for k in metrics}
            light_sd[g.name] = {k: float(np.std([r[k] for r in runs])) for k in metrics}
            print(f"  {g.name}: full {t_full[-1]:.1f} s, light {np.median(t_light[-args.light_seeds:]):.2f} s/call",
                  flush=True)
    print(f"\nfull protocol: t2m preset, {args.replications} replications, whole split, ground-truth lengths; "
          f"light: {light.num_samples} fixed prompts, 1 replication (mean ± std over {args.light_seeds} seeds)")
    print(f"median time per evaluation: full {np.median(t_full):.1f} s, light {np.median(t_light):.2f} s "
          f"(ratio {np.median(t_full) / np.median(t_light):.0f}x)\n")
    for k in metrics:
        print(f"{k}:")
        print(f"  {'generator':28s} {'full (mean ± CI)':>22s} {'light (mean ± std)':>22s} {'light/full':>10s}")
        for g in gens:
            fm, fc = full_vals[g.name][k]
            lm, ls = light_vals[g.name][k], light_sd[g.name][k]
            ratio = lm / fm if fm else float("nan")
            print(f"  {g.name:28s} {fm:13.4f} ± {fc:6.4f} {lm:13.4f} ± {ls:6.4f} {ratio:10.3f}")
        rho = spearmanr([full_vals[g.name][k][0] for g in gens], [light_vals[g.name][k] for g in gens]).statistic
        print(f"  Spearman rank correlation light vs full across generators: {rho:.3f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
