#!/usr/bin/env python
"""Build the small TMR-architecture demo evaluator shipped in ``src/motioneval/assets/demo/tmr`` (deterministic on CPU).

    .venv/bin/python scripts/build_demo_tmr_assets.py [--epochs 8] [--dataset DIR]   # ~1-2 min per epoch, 1 core

1. builds the procedural demo dataset (default :class:`~motioneval.demo.dataset.DemoDatasetConfig`), or reuses
   ``--dataset``;
2. trains the TMR-architecture encoders with :func:`motioneval.evaluators.tmr_training.train_tmr_evaluator`
   (contrastive loss, random frozen DistilBERT-architecture text model over the demo vocabulary), one CPU thread;
3. copies TMR's layout into the assets folder::

       models/tmr_demo/config.json  models/tmr_demo/last_weights/{motion_encoder,text_encoder}.pt
       models/demo-distilbert/      (tokenizer, config, model.safetensors)
       stats/demo/guoh3dfeats/{mean,std}.pt
       BUILD.json                   configuration, history, test-split protocols, sha256 of every file

4. loads it back with ``TMREvaluator.load`` and scores the test split with TMR's protocols (first caption of each
   clip, as TMR's test set); fails when text->motion R@1 in batches of 32 is below 8/32.
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
from motioneval.evaluators.tmr import TMREvaluator  # noqa: E402
from motioneval.evaluators.tmr_training import TMRTrainingConfig, train_tmr_evaluator  # noqa: E402
from motioneval.metrics.tmr_retrieval import tmr_protocols  # noqa: E402

ASSETS = REPO / "src" / "motioneval" / "assets" / "demo" / "tmr"
MIN_GUO_R1 = 100 * 8 / 32  # percent; chance is 100/32


def test_protocols(ev: TMREvaluator, dataset: Path) -> dict:
    from motioneval.data.dataset import MotionDataset

    ds = MotionDataset(dataset, "test")
    items = list(ds)
    lengths = np.array([len(it.features) for it in items])
    feats = np.zeros((len(items), int(lengths.max()), items[0].features.shape[1]), np.float32)
    for i, it in enumerate(items):
        feats[i, : lengths[i]] = it.features
    motion = ev.embed_raw_motion(feats, lengths)
    text = ev.embed_text([it.captions[0].text for it in items])
    return tmr_protocols(text, motion, ids=[it.id for it in items], rounding=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ASSETS)
    parser.add_argument("--dataset", type=Path, default=None, help="an already built demo dataset (default: build)")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # reproducible float summation order
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="motioneval-demo-tmr-"))
    dataset_config = DemoDatasetConfig()
    dataset = args.dataset or build_demo_dataset(work / "dataset", dataset_config)
    config = TMRTrainingConfig(epochs=args.epochs)
    result = train_tmr_evaluator(dataset, work / "tmr", config, callback=lambda rec: print(
        "  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()), flush=True))
    out = args.out
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(work / "tmr", out)
    for p in out.rglob("*"):  # package data: world-readable (temporary files are created 0600)
        p.chmod(0o755 if p.is_dir() else 0o644)
    ev = TMREvaluator.load(out / "models" / f"tmr_{config.name}", device="cpu")
    protocols = test_protocols(ev, dataset)
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "BUILD.json")
    seconds = time.perf_counter() - t0
    atomic_write_json(out / "BUILD.json", {
        "description": "motioneval demo TMR evaluator: TMR's architecture in a small configuration, trained on the "
                       "procedural demo dataset's train split by scripts/build_demo_tmr_assets.py (contrastive "
                       "loss only; the text model is a random frozen DistilBERT-architecture model)",
        "command": "python scripts/build_demo_tmr_assets.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "seconds": round(seconds, 1),
        "versions": {"motioneval": __version__, "python": platform.python_version(), "numpy": np.__version__,
                     "torch": torch.__version__},
        "dataset_config": dataset_config.to_dict(),
        "training_config": config.to_dict(),
        "best_epoch": result["best_epoch"],
        "history": result["history"],
        "test_protocols": protocols,
        "files": {p.relative_to(out).as_posix(): sha256_file(p) for p in files},
    })
    (out / "BUILD.json").chmod(0o644)
    print(f"test protocols: {protocols}")
    print(f"wrote {out} in {seconds:.0f} s")
    shutil.rmtree(work, ignore_errors=True)
    r1 = protocols["guo"]["t2m/R01"]
    if r1 < MIN_GUO_R1:
        print(f"error: test t2m R@1 (batches of 32) {r1} is below {MIN_GUO_R1}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
