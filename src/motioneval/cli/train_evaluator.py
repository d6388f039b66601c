"""``motioneval train-evaluator DATASET --out OUT --glove GLOVE``: train a T2M evaluator with the published recipe."""
from __future__ import annotations

import argparse
import sys

SIZE_FLAGS = {
    "dim_movement_enc_hidden": "movement encoder hidden channels (official 512)",
    "dim_movement_latent": "movement token size (official 512)",
    "dim_text_hidden": "text GRU hidden size (official 512)",
    "dim_motion_hidden": "motion GRU hidden size (official 1024)",
    "dim_coemb_hidden": "embedding size (official 512)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-evaluator",
        help="train a text/motion evaluator (T2M architecture) on a dataset folder in HumanML3D layout",
        description="Train the T2M evaluator architecture (or a smaller configuration) on a dataset folder in "
                    "HumanML3D layout: stage 1 the movement autoencoder, stage 2 the text and motion encoders with "
                    "the contrastive hinge loss (margin 10, shifted negatives), Adam. Writes "
                    "OUT/NAME/text_mot_match/model/finest.tar, OUT/glove/ and OUT/NAME_{mean,std}.npy, so that "
                    "`motioneval evaluate --evaluator OUT` and T2MEvaluator.load(OUT) use it. Rerunning the same "
                    "command resumes an interrupted run.",
    )
    p.add_argument("dataset", help="dataset folder (new_joint_vecs/, texts/, train.txt, val.txt)")
    p.add_argument("--out", required=True, help="output evaluator folder")
    p.add_argument("--glove", required=True,
                   help="word-vector folder in the glove/ layout (our_vab_data.npy, our_vab_words.pkl, our_vab_idx.pkl)")
    p.add_argument("--name", default=None,
                   help="evaluator name, the sub-folder of OUT (default: t2m for 263-d features, kit for 251-d)")
    p.add_argument("--kind", choices=["humanml3d", "kit"], default=None,
                   help="dataset kind for reading (default: inferred from the feature dimension)")
    p.add_argument("--train-split", default="train", help="split list the evaluator is trained on (default train)")
    p.add_argument("--val-split", default="val", help="validation split, or 'none'")
    p.add_argument("--mean", help="evaluator statistics mean.npy (default: computed from the training split)")
    p.add_argument("--std", help="evaluator statistics std.npy (with --mean)")
    p.add_argument("--epochs", type=int, default=100, help="text-motion matching epochs (default 100)")
    p.add_argument("--ae-epochs", type=int, default=50, help="movement autoencoder epochs (default 50)")
    p.add_argument("--batch-size", type=int, default=32,
                   help="text-motion pairs per contrastive batch (default 32, as the reference)")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate of the co-embedding stage (1e-4)")
    p.add_argument("--margin", type=float, default=10.0,
                   help="contrastive margin on embedding distances of mismatched pairs (10)")
    p.add_argument("--small", action="store_true",
                   help="a small configuration (hidden sizes 128) instead of the official sizes")
    for flag, text in SIZE_FLAGS.items():
        p.add_argument("--" + flag.replace("_", "-"), type=int, default=None, help=text)
    p.add_argument("--seed", type=int, default=0, help="seed of initialization and batch draws (default 0)")
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT holds an interrupted run")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..constants import HUMANML3D_DATASET, KIT_DATASET
    from ..evaluators.t2m_modules import T2MConfig
    from ..evaluators.training import TrainingConfig, train_evaluator
    from ..evaluators.word_vectorizer import WordVectorizer
    from ..representation.normalization import FeatureStats
    from ._errors import check_device, check_output_folder

    check_device(args.device)
    check_output_folder(args.out, "--out")

    if (args.mean is None) != (args.std is None):
        raise ValueError("pass both --mean and --std, or neither")
    vectors = WordVectorizer.from_folder(args.glove)
    dim = _feature_dim(Path(args.dataset), args.train_split)
    name = args.name or {s.dim: s.evaluator_name for s in (HUMANML3D_DATASET, KIT_DATASET)}.get(dim)
    if name is None:
        raise ValueError(f"{args.dataset} has {dim}-dim features; give the evaluator a name with --name")
    sizes = {"dim_pose": dim - 4, "dim_word": vectors.dim}
    if args.small:
        sizes.update({k: 128 for k in SIZE_FLAGS})
    sizes.update({k: getattr(args, k) for k in SIZE_FLAGS if getattr(args, k) is not None})
    config = TrainingConfig(
        name=name, model=T2MConfig(**sizes), kind=args.kind, train_split=args.train_split,
        val_split=None if args.val_split.lower() == "none" else args.val_split,
        ae_epochs=args.ae_epochs, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, margin=args.margin,
        seed=args.seed, device=args.device,
    )
    stats = FeatureStats.load(args.mean, args.std, name="evaluator statistics") if args.mean else None

    def report(record: dict) -> None:
        parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items() if v is not None]
        print("  ".join(parts), file=sys.stderr)

    result = train_evaluator(args.dataset, args.out, vectors, config=config, stats=stats, resume=not args.no_resume,
                             progress=sys.stderr.isatty(), callback=report)
    best = f"{result.best_val_loss:.4g}" if result.best_val_loss is not None else "n/a"
    print(f"evaluator written to {result.folder} (checkpoint {result.checkpoint}, best epoch {result.best_epoch}, "
          f"validation loss {best}); load it with T2MEvaluator.load({str(result.folder)!r})")
    return 0


def _feature_dim(root, split: str) -> int:
    """Feature dim of the first readable clip of ``split`` (or of ``Mean.npy``)."""
    from .. import _npio
    from .._io import read_text

    candidates = [root / "Mean.npy"]
    split_file = root / f"{split}.txt"
    if split_file.is_file():
        text = read_text(split_file, expected="a split list with one clip id per line")
        ids = [i.strip() for i in text.splitlines() if i.strip()][:20]
        candidates += [root / "new_joint_vecs" / f"{i}.npy" for i in ids]
    for path in candidates:
        try:
            return int(_npio.load(path, mmap_mode="r", allow_pickle=False).shape[-1])
        except Exception:
            continue
    raise FileNotFoundError(f"no readable Mean.npy or feature file in {root} (split {split!r})")
