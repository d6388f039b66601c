#!/usr/bin/env python
"""Regenerate the demo evaluator shipped in ``src/motioneval/assets/demo`` (deterministic).

    .venv/bin/python scripts/build_demo_assets.py            # about 5-10 minutes on 2 CPU cores

1. builds the procedural demo dataset (default :class:`~motioneval.demo.dataset.DemoDatasetConfig`);
2. writes the demo vocabulary with its fixed word vectors (:mod:`motioneval.demo.evaluator_assets`);
3. trains the small T2M evaluator on the train split with
   :func:`motioneval.evaluators.training.train_evaluator` (movement autoencoder, then contrastive
   text-motion matching; validation on the val split picks ``finest.tar``), on CPU with one thread, so a
   rerun with the same library versions gives the same weights;
4. copies ``t2m/text_mot_match/model/finest.tar``, ``glove/`` and ``t2m_{mean,std}.npy`` into the assets
   folder, checks that test-split captions retrieve their motions far above chance (R@1 in pools of 32),
   and writes ``BUILD.json`` (configuration, training history, test retrieval, sha256 of every file).

The recipe's learning rate is 1e-4 for the official 21.7 M-parameter network; this 0.8 M-parameter one
converges in a few epochs with 1e-3.
"""
from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from motioneval import __version__  # noqa: E402
from motioneval._io import atomic_write_json, sha256_file  # noqa: E402
from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset  # noqa: E402
from motioneval.demo.evaluator_assets import DEMO_T2M_SIZES, demo_word_vectors, demo_words  # noqa: E402
from motioneval.evaluators.t2m import CHECKPOINT_RELPATH, T2MEvaluator  # noqa: E402
from motioneval.evaluators.t2m_modules import T2MConfig  # noqa: E402
from motioneval.evaluators.training import TrainingConfig, train_evaluator  # noqa: E402
from motioneval.evaluators.word_vectorizer import GLOVE_FILES, WordVectorizer  # noqa: E402

ASSETS = REPO / "src" / "motioneval" / "assets" / "demo"
TRAINING = dict(ae_epochs=10, epochs=30, lr=1e-3, ae_lr=1e-3, batch_size=32, seed=0, device="cpu")
MIN_TEST_R1 = 8 / 32  # fail the build below this (chance is 1/32)


def test_retrieval(evaluator: T2MEvaluator, dataset: Path, passes: int = 5) -> dict[str, list[float]]:
    """R@1..3 and matching score of ground-truth test passes (the protocol's crops and captions, pools of 32)."""
    from motioneval.data.dataset import MotionDataset
    from motioneval.metrics.retrieval import matching_score, r_precision
    from motioneval.protocol.ground_truth import GroundTruthItems, draw_pass, pass_features, pass_raw_tokens, pass_rng
    from motioneval.protocol.presets import get_preset

    items = GroundTruthItems.from_dataset(MotionDataset(dataset, "test"))
    preset = get_preset("t2m")
    out: dict[str, list[float]] = {"r_precision": [], "matching_score": []}
    for r in range(passes):
        plan = draw_pass(items, preset, pass_rng(0, r, "gt_match"))
        text = evaluator.embed_text([list(t) for t in pass_raw_tokens(items, plan)])
        motion = evaluator.embed_motion(pass_features(items, plan, evaluator.stats, preset), plan.lengths)
        out["r_precision"].append([float(v) for v in np.asarray(r_precision(text, motion))[:3]])
        out["matching_score"].append(float(matching_score(text, motion)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ASSETS, help=f"assets folder (default {ASSETS})")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--epochs", type=int, default=TRAINING["epochs"], help="matching epochs")
    parser.add_argument("--ae-epochs", type=int, default=TRAINING["ae_epochs"], help="autoencoder epochs")
    parser.add_argument("--progress", action="store_true", help="progress bars")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # reproducible float summation order
    t0 = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="motioneval-demo-assets-"))
    dataset_config = DemoDatasetConfig()
    dataset = build_demo_dataset(work / "dataset", dataset_config)
    print(f"dataset: {dataset} ({dataset_config.num_clips} clips, {time.perf_counter() - t0:.0f} s)")

    words = demo_words()
    vectors = WordVectorizer.from_arrays(words, demo_word_vectors(words))
    training = {**TRAINING, "epochs": args.epochs, "ae_epochs": args.ae_epochs}
    config = TrainingConfig(name="t2m", model=T2MConfig(**DEMO_T2M_SIZES), **training)
    trained = work / "evaluator"
    if trained.exists():
        shutil.rmtree(trained)
    result = train_evaluator(dataset, trained, vectors, config=config, resume=False, progress=args.progress,
                             callback=lambda rec: print("  " + ", ".join(
                                 f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items())))
    print(f"trained: best epoch {result.best_epoch}, val loss {result.best_val_loss:.4f} "
          f"({time.perf_counter() - t0:.0f} s)")

    out = args.out
    files = {
        Path("t2m") / CHECKPOINT_RELPATH: trained / "t2m" / CHECKPOINT_RELPATH,
        Path("t2m_mean.npy"): trained / "t2m_mean.npy",
        Path("t2m_std.npy"): trained / "t2m_std.npy",
        **{Path("glove") / name: trained / "glove" / name for name in GLOVE_FILES},
    }
    for rel, src in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / rel)
    evaluator = T2MEvaluator.load(out, device="cpu")
    retrieval = test_retrieval(evaluator, dataset)
    r1 = float(np.mean([r[0] for r in retrieval["r_precision"]]))
    print(f"test retrieval (pools of 32): R@1 {r1:.3f}, R@3 "
          f"{np.mean([r[2] for r in retrieval['r_precision']]):.3f} (chance 1/32 = 0.031, 3/32 = 0.094)")
    seconds = time.perf_counter() - t0
    atomic_write_json(out / "BUILD.json", {
        "description": "motioneval demo evaluator: the T2M architecture in a small configuration, trained on the "
                       "procedural demo dataset's train split by scripts/build_demo_assets.py",
        "command": "python scripts/build_demo_assets.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "seconds": round(seconds, 1),
        "versions": {"motioneval": __version__, "python": platform.python_version(), "numpy": np.__version__,
                     "torch": torch.__version__},
        "dataset_config": dataset_config.to_dict(),
        "training_config": config.to_dict(),
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "history": result.history,
        "test_retrieval": retrieval,
        "files": {rel.as_posix(): sha256_file(out / rel) for rel in files},
    })
    (out / "BUILD.json").chmod(0o644)  # package data: world-readable like the other files
    print(f"wrote {out} in {seconds:.0f} s")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    if r1 < MIN_TEST_R1:
        print(f"error: test R@1 {r1:.3f} is below {MIN_TEST_R1:.3f}; the demo evaluator is not good enough",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
