"""Train a T2M evaluator (text + motion encoders) on any dataset folder in HumanML3D layout.

The published recipe (Guo et al., CVPR 2022), in two stages:

1. **Movement autoencoder.** The movement encoder and a small :class:`MovementConvDecoder` are trained on
   random windows of ``ae_window`` (24) frames to reconstruct the features:
   ``L1(recon, x) + ae_lambda_sparsity * mean|z| + ae_lambda_smooth * L1(z[:, 1:], z[:, :-1])``.
   The encoder is then frozen.
2. **Text-motion matching.** Text and motion encoders are trained with the contrastive hinge loss of
   Hadsell et al. on Euclidean distances, ``mean(d(t_i, m_i)^2) + mean(max(0, margin - d(t_i, m_{i+s}))^2)``
   with ``margin = 10`` and negatives formed by cyclically shifting the batch by a random ``s`` in ``1..B-1``
   (the reference draws ``s`` from ``0..B-2``; ``s = 0`` would make the negatives the positives); Adam, lr 1e-4. Items are sampled as the evaluation protocol reads them (a random caption; a length
   cropped to a multiple of 4, one unit shorter with probability 1/3; a random window; ``sos``/``eos`` tokens).

Inputs are normalized with the evaluator's own statistics: given, or computed from the training split as
the dataset's statistics (:func:`~motioneval.representation.normalization.dataset_statistics`) with the
root and foot-contact std divided by ``feat_bias`` (25), which is how the official evaluator's
statistics relate to HumanML3D's.

Output, in the layout :meth:`T2MEvaluator.load` reads (``T2MEvaluator.load(out)`` works)::

    <out>/<name>/text_mot_match/model/finest.tar   best validation loss: the three encoders + epoch
    <out>/<name>/text_mot_match/model/latest.tar   last epoch, with optimizer and RNG states (resume)
    <out>/<name>/movement_ae/model/{finest,latest}.tar   stage 1
    <out>/<name>/training.json                     configuration and per-epoch history
    <out>/glove/our_vab_{data.npy,words.pkl,idx.pkl}
    <out>/<name>_mean.npy, <out>/<name>_std.npy     the evaluator's statistics

A run that is interrupted resumes from ``latest.tar`` (``resume=True``). All files are written atomically.
"""
from __future__ import annotations

import io
import logging
import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_scalar
from .._io import atomic_save_npy, atomic_write_bytes, atomic_write_json
from .._progress import progress as _progress
from ..constants import MAX_TEXT_TOKENS
from ..representation.layout import FeatureLayout
from ..representation.normalization import FeatureStats, dataset_statistics
from .t2m import CHECKPOINT_RELPATH, T2MEvaluator, default_device
from .t2m_modules import (
    LOOKAHEAD_FRAMES,
    MAX_MOTION_LENGTH,
    OFFICIAL_DIM_POSE,
    UNIT_LENGTH,
    MovementConvDecoder,
    T2MConfig,
    build_modules,
)
from .word_vectorizer import POS_CLASSES, WordVectorizer

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
AE_RELPATH = Path("movement_ae", "model")


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines a training run. Defaults follow the published recipe and official sizes."""

    name: str = "t2m"  #: evaluator folder name (``<out>/<name>/text_mot_match/...``); "t2m"/"kit" for those
    model: T2MConfig | None = None  #: network sizes; ``None``: official sizes with ``dim_pose`` from the data
    kind: Any = None  #: dataset kind for the reader ("humanml3d", "kit", a DatasetSpec) or None to infer
    train_split: str = "train"
    val_split: str | None = "val"  #: ``None``: no validation (``finest.tar`` is the last epoch)
    # stage 1: movement autoencoder
    ae_epochs: int = 50
    ae_batch_size: int = 128
    ae_window: int = 24
    ae_lr: float = 1e-4
    ae_lambda_sparsity: float = 0.001
    ae_lambda_smooth: float = 0.001
    # stage 2: text-motion matching
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-4
    margin: float = 10.0
    max_text_len: int = MAX_TEXT_TOKENS
    max_motion_length: int = MAX_MOTION_LENGTH
    grad_clip: float | None = None  #: max gradient norm per encoder (``None``: no clipping, as published)
    # statistics computed from the training split when none are given
    feat_bias: float = 25.0
    seed: int = 0
    device: str | None = None

    def __post_init__(self) -> None:
        positive = ("ae_batch_size", "ae_window", "batch_size", "max_text_len", "max_motion_length")
        for name in positive:
            check_scalar(getattr(self, name), f"TrainingConfig.{name}", numbers.Integral, min_val=1)
        for name in ("ae_epochs", "epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainingConfig.{name} must be >= 0; got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError("TrainingConfig.batch_size must be >= 2 (negatives come from the other rows of a batch)")
        if self.ae_window % UNIT_LENGTH or self.max_motion_length % UNIT_LENGTH:
            raise ValueError(f"ae_window and max_motion_length must be multiples of {UNIT_LENGTH}")
        if not self.name or "/" in self.name or "\\" in self.name:
            raise ValueError(f"TrainingConfig.name must be a plain folder name; got {self.name!r}")
        if self.lr <= 0 or self.ae_lr <= 0 or self.margin <= 0 or self.feat_bias <= 0:
            raise ValueError("lr, ae_lr, margin and feat_bias must be positive")

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["model"] = self.model.to_dict() if self.model is not None else None
        d["kind"] = self.kind if self.kind is None or isinstance(self.kind, str) else asdict(self.kind)
        return d


@dataclass
class TrainingResult:
    """What a run produced: the output folder, the best checkpoint, the history and the statistics used."""

    folder: Path
    checkpoint: Path
    config: TrainingConfig
    model: T2MConfig
    stats: FeatureStats
    best_epoch: int
    best_val_loss: float | None
    history: list[dict[str, Any]] = field(default_factory=list)

    def load(self, device: str | None = None) -> T2MEvaluator:
        """The trained evaluator, loaded from the written files."""
        return T2MEvaluator.load(self.folder, dataset=self.config.name, device=device)


# ------------------------------------------------------------------------------------------- data
@dataclass
class _Split:
    """Normalized features and vectorized captions of one split."""

    ids: list[str]
    features: list[np.ndarray]  # (T_i, D) float32, evaluator-normalized
    caption_rows: list[np.ndarray]  # per item: (C_i, L+2) vector rows
    caption_classes: list[np.ndarray]  # per item: (C_i, L+2) class indices
    caption_lengths: list[np.ndarray]  # per item: (C_i,)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(f) for f in self.features], np.int64)


def _read_split(root: Path, split: str, config: TrainingConfig) -> Any:
    from ..data.dataset import MotionDataset

    return MotionDataset(root, split, kind=config.kind, on_problem="skip", preload=True)


def _prepare_split(dataset: Any, stats: FeatureStats, vectorizer: WordVectorizer, max_text_len: int) -> _Split:
    ids, feats, rows, classes, lengths = [], [], [], [], []
    for item in dataset:
        tokens = [list(c.tokens) for c in item.captions]
        if not tokens:
            continue
        r, c, n = vectorizer.batch_to_indices(tokens, max_text_len)
        ids.append(item.id)
        feats.append(np.asarray(stats.normalize(np.asarray(item.features, np.float64)), np.float32))
        rows.append(r)
        classes.append(c)
        lengths.append(n)
    return _Split(ids, feats, rows, classes, lengths)


def evaluator_statistics(features: Sequence[np.ndarray], *, feat_bias: float = 25.0,
                         ids: Sequence[str] | None = None, name: str = "evaluator") -> FeatureStats:
    """Evaluator statistics from training clips: the dataset statistics (group-averaged std) with the std of the
    root (dims 0-3) and foot-contact groups divided by ``feat_bias``, as the official evaluator's relate to
    HumanML3D's ``Std.npy``. Feature sizes that are not HumanML3D-style get plain per-dim statistics."""
    dim = features[0].shape[-1]
    try:
        layout = FeatureLayout.for_dim(dim)
    except ValueError:
        stacked = np.concatenate([np.asarray(f, np.float64) for f in features])
        std = stacked.std(axis=0)
        if (std <= 0).any():
            raise ValueError(f"feature dims {np.flatnonzero(std <= 0)[:10].tolist()} are constant in the training split") from None
        return FeatureStats(stacked.mean(axis=0), std, name=name)
    base = dataset_statistics(list(features), layout=layout, ids=ids, name=name)
    std = np.array(base.std, dtype=np.float64)
    std[layout.root] /= feat_bias
    std[layout.contacts] /= feat_bias
    return FeatureStats(np.asarray(base.mean, np.float64), std, name=name)


def _crop_length(length: int, coin: bool, max_len: int) -> int:
    """The protocol's crop: ``4*floor(T/4)``, or one unit shorter when ``coin`` (p = 1/3); at most ``max_len``."""
    units = min(length, max_len) // UNIT_LENGTH
    if coin and units > 1:
        units -= 1
    return units * UNIT_LENGTH


class _Batcher:
    """Builds stage-2 batches the way the protocol samples items (see the module docstring)."""

    def __init__(self, split: _Split, vectorizer: WordVectorizer, config: TrainingConfig, dim_pose: int,
                 device: torch.device) -> None:
        self.split = split
        self.vectors = torch.from_numpy(vectorizer.vectors)
        self.config = config
        self.dim_pose = dim_pose
        self.device = device

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        split, cfg = self.split, self.config
        lengths = np.empty(len(idx), np.int64)
        starts = np.empty(len(idx), np.int64)
        coins = rng.random(len(idx)) < 1.0 / 3.0
        caps = np.empty(len(idx), np.int64)
        for k, i in enumerate(idx):  # B items: the cost is the networks', not this loop's
            t = len(split.features[i])
            lengths[k] = _crop_length(t, bool(coins[k]), cfg.max_motion_length)
            starts[k] = rng.integers(0, t - lengths[k] + 1)
            caps[k] = rng.integers(0, len(split.caption_lengths[i]))
        tokens = lengths // UNIT_LENGTH
        frames = min(UNIT_LENGTH * int(tokens.max()) + LOOKAHEAD_FRAMES, cfg.max_motion_length)
        motion = np.zeros((len(idx), frames, self.dim_pose), np.float32)
        for k, i in enumerate(idx):
            m = lengths[k]
            motion[k, :m] = split.features[i][starts[k]:starts[k] + m, :self.dim_pose]
        rows = np.stack([split.caption_rows[i][c] for i, c in zip(idx, caps)])
        classes = np.stack([split.caption_classes[i][c] for i, c in zip(idx, caps)])
        text_len = np.array([split.caption_lengths[i][c] for i, c in zip(idx, caps)], np.int64)
        s = int(text_len.max())
        word = self.vectors[torch.from_numpy(rows[:, :s])]
        pos = F.one_hot(torch.from_numpy(classes[:, :s]), len(POS_CLASSES)).float()
        return {
            "motion": torch.from_numpy(motion).to(self.device),
            "tokens": torch.from_numpy(tokens),
            "word": word.to(self.device),
            "pos": pos.to(self.device),
            "text_len": torch.from_numpy(text_len),
        }


def _windows(split: _Split, idx: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """One random ``window``-frame slice of each item in ``idx`` (items shorter than the window are skipped)."""
    out = []
    for i in idx:
        t = len(split.features[i])
        if t >= window:
            s = int(rng.integers(0, t - window + 1))
            out.append(split.features[i][s:s + window])
    return np.stack(out) if out else np.zeros((0, window, split.features[0].shape[1]), np.float32)


# ------------------------------------------------------------------------------------------- losses
def contrastive_loss(text: torch.Tensor, motion: torch.Tensor, shift: int, margin: float) -> tuple[torch.Tensor, ...]:
    """Hinge contrastive loss: ``mean(d_pos^2) + mean(relu(margin - d_neg)^2)``, negatives = motions shifted by ``shift``.

    Returns ``(loss, positive term, negative term)``.
    """
    d_pos = F.pairwise_distance(text, motion)
    d_neg = F.pairwise_distance(text, torch.roll(motion, shifts=-shift, dims=0))
    pos = d_pos.pow(2).mean()
    neg = torch.clamp(margin - d_neg, min=0.0).pow(2).mean()
    return pos + neg, pos, neg


def movement_ae_loss(x: torch.Tensor, recon: torch.Tensor, latent: torch.Tensor, config: TrainingConfig) -> torch.Tensor:
    """``L1(recon, x) + lambda_sparsity * mean|z| + lambda_smooth * L1(z[:, 1:], z[:, :-1])``."""
    loss = F.l1_loss(recon, x)
    loss = loss + config.ae_lambda_sparsity * latent.abs().mean()
    if latent.shape[1] > 1:
        loss = loss + config.ae_lambda_smooth * F.l1_loss(latent[:, 1:], latent[:, :-1])
    return loss


# ------------------------------------------------------------------------------------------- checkpoints
def _save(path: Path, obj: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def _load(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"could not read training checkpoint {path} ({exc}); delete it to start over") from exc


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


# ------------------------------------------------------------------------------------------- training
def train_evaluator(
    dataset_dir: PathLike,
    out_dir: PathLike,
    word_vectors: WordVectorizer | PathLike,
    *,
    config: TrainingConfig | None = None,
    stats: FeatureStats | None = None,
    resume: bool = True,
    progress: bool = False,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> TrainingResult:
    """Train a T2M evaluator on the dataset folder ``dataset_dir`` and write it to ``out_dir``.

    ``word_vectors``: a :class:`WordVectorizer` (e.g. a small vocabulary of your own) or a ``glove/`` folder.
    ``stats``: the evaluator's statistics (default: computed from the training split, see the module doc).
    ``resume``: continue from ``latest.tar`` when present. ``callback(record)`` is called after every epoch
    with that epoch's history record. Returns a :class:`TrainingResult`.
    """
    config = config or TrainingConfig()
    root, out = Path(dataset_dir), Path(out_dir)
    if not isinstance(word_vectors, WordVectorizer):
        word_vectors = WordVectorizer.from_folder(word_vectors)
    vectorizer = word_vectors
    device = torch.device(config.device) if config.device else default_device()
    model_dir = out / config.name / CHECKPOINT_RELPATH.parent
    ae_dir = out / config.name / AE_RELPATH
    stats_paths = (out / f"{config.name}_mean.npy", out / f"{config.name}_std.npy")
    latest_path = model_dir / "latest.tar"
    resuming = resume and (latest_path.is_file() or (ae_dir / "latest.tar").is_file())

    train_ds = _read_split(root, config.train_split, config)
    if len(train_ds) < 2:
        raise ValueError(f"{root}: the {config.train_split!r} split has {len(train_ds)} usable items; need at least 2")
    if resuming and stats is None and all(p.is_file() for p in stats_paths):
        stats = FeatureStats.load(*stats_paths, name=f"{config.name} evaluator statistics")
    if stats is None:
        clips = _clip_features(train_ds)
        stats = evaluator_statistics(list(clips.values()), feat_bias=config.feat_bias, ids=list(clips),
                                     name=f"{config.name} evaluator statistics")
    dim = train_ds[0].features.shape[-1]
    if stats.dim != dim:
        raise ValueError(f"statistics {stats.name!r} have {stats.dim} dims but the features of {root} have {dim}")
    model_cfg = config.model or T2MConfig(dim_pose=dim - 4)
    official = OFFICIAL_DIM_POSE.get(config.name)
    if official is not None and model_cfg.dim_pose != official:
        raise ValueError(
            f"the evaluator name {config.name!r} is reserved for {official + 4}-dim features, but {root} has {dim}-dim "
            f"features; choose another TrainingConfig.name"
        )
    if model_cfg.dim_pose != dim - 4:
        raise ValueError(
            f"model dim_pose {model_cfg.dim_pose} does not match the data: {dim}-dim features minus 4 foot contacts "
            f"= {dim - 4}"
        )
    if model_cfg.dim_word != vectorizer.dim:
        raise ValueError(f"model dim_word {model_cfg.dim_word} != word-vector size {vectorizer.dim}")
    if model_cfg.dim_pos_ohot != len(POS_CLASSES):
        raise ValueError(f"model dim_pos_ohot must be {len(POS_CLASSES)} (the POS/VIP classes)")
    train = _prepare_split(train_ds, stats, vectorizer, config.max_text_len)
    val = None
    if config.val_split is not None:
        val = _prepare_split(_read_split(root, config.val_split, config), stats, vectorizer, config.max_text_len)
        if len(val) == 0:
            raise ValueError(f"{root}: the {config.val_split!r} split has no usable items; pass val_split=None")

    # outputs that do not change during training
    glove_dir = out / "glove"
    vectorizer.save(glove_dir)
    atomic_save_npy(stats_paths[0], np.asarray(stats.mean, np.float64))
    atomic_save_npy(stats_paths[1], np.asarray(stats.std, np.float64))

    torch.manual_seed(config.seed)
    modules = build_modules(model_cfg)
    decoder = MovementConvDecoder(model_cfg.dim_movement_latent, model_cfg.dim_movement_enc_hidden, dim)
    for m in (*modules.values(), decoder):
        m.to(device)
    history: list[dict[str, Any]] = []
    rng = np.random.default_rng(config.seed)
    run = _Run(config, model_cfg, modules, decoder, train, val, vectorizer, device, rng, history,
               progress, callback, ae_dir, model_dir, out)
    if resuming:
        run.restore()
    run.stage1()
    best_epoch, best_val = run.stage2()
    return TrainingResult(folder=out, checkpoint=model_dir / "finest.tar", config=config, model=model_cfg,
                          stats=stats, best_epoch=best_epoch, best_val_loss=best_val, history=list(history))


def _clip_features(dataset: Any) -> dict[str, np.ndarray]:
    """One feature array per clip: its whole-clip item, else its first segment (statistics count frames once)."""
    clips: dict[str, np.ndarray] = {}
    for item in dataset:
        if item.clip_id not in clips or not item.is_segment:
            clips[item.clip_id] = item.features
    return clips


class _Run:
    """State of one training run (both stages), with checkpointing and resume."""

    def __init__(self, config: TrainingConfig, model_cfg: T2MConfig, modules: dict[str, torch.nn.Module],
                 decoder: torch.nn.Module, train: _Split, val: _Split | None, vectorizer: WordVectorizer,
                 device: torch.device, rng: np.random.Generator, history: list[dict[str, Any]], progress: bool,
                 callback: Callable[[dict[str, Any]], None] | None, ae_dir: Path, model_dir: Path, out: Path) -> None:
        self.config, self.model_cfg, self.modules, self.decoder = config, model_cfg, modules, decoder
        self.train, self.val, self.vectorizer, self.device = train, val, vectorizer, device
        self.rng, self.history, self.progress, self.callback = rng, history, progress, callback
        self.ae_dir, self.model_dir, self.out = ae_dir, model_dir, out
        enc = modules["movement_encoder"]
        self.ae_opt = torch.optim.Adam([*enc.parameters(), *decoder.parameters()], lr=config.ae_lr)
        self.opt_text = torch.optim.Adam(modules["text_encoder"].parameters(), lr=config.lr)
        self.opt_motion = torch.optim.Adam(modules["motion_encoder"].parameters(), lr=config.lr)
        self.ae_epoch = 0  # epochs completed
        self.epoch = 0
        self.ae_best = float("inf")
        self.best_val = float("inf")
        self.best_epoch = 0
        self.ae_done = config.ae_epochs == 0

    # ---------------------------------------------------------------- persistence
    def _meta(self) -> dict[str, Any]:
        meta = {"training_config": self.config.to_dict(), "model_config": self.model_cfg.to_dict(),
                "history": self.history, "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state()}
        if self.device.type == "cuda":
            meta["cuda_rng"] = torch.cuda.get_rng_state_all()
        return meta

    def restore(self) -> None:
        latest = self.model_dir / "latest.tar"
        ae_latest = self.ae_dir / "latest.tar"
        ckpt = _load(latest) if latest.is_file() else _load(ae_latest)
        saved = ckpt.get("model_config")
        if saved != self.model_cfg.to_dict():
            raise ValueError(
                f"cannot resume from {latest if latest.is_file() else ae_latest}: it was trained with sizes {saved}, "
                f"not {self.model_cfg.to_dict()}; use another output folder or resume=False"
            )
        self.history[:] = list(ckpt.get("history", []))
        self.rng.bit_generator.state = ckpt["rng"]
        torch.set_rng_state(ckpt["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in ckpt:
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        self.modules["movement_encoder"].load_state_dict(ckpt["movement_encoder"])
        if "movement_decoder" in ckpt:
            self.decoder.load_state_dict(ckpt["movement_decoder"])
        if "opt_movement_ae" in ckpt:
            self.ae_opt.load_state_dict(ckpt["opt_movement_ae"])
        self.ae_epoch = int(ckpt.get("ae_epoch", 0))
        self.ae_best = float(ckpt.get("ae_best", float("inf")))
        self.ae_done = bool(ckpt.get("ae_done", self.ae_epoch >= self.config.ae_epochs))
        if latest.is_file():
            for name in ("text_encoder", "motion_encoder"):
                self.modules[name].load_state_dict(ckpt[name])
            self.opt_text.load_state_dict(ckpt["opt_text_encoder"])
            self.opt_motion.load_state_dict(ckpt["opt_motion_encoder"])
            self.epoch = int(ckpt["epoch"])
            self.best_val = float(ckpt["best_val"])
            self.best_epoch = int(ckpt["best_epoch"])
        logger.info("resuming training: stage 1 epoch %d, stage 2 epoch %d", self.ae_epoch, self.epoch)

    def _record(self, record: dict[str, Any]) -> None:
        """Report an epoch already appended to the history (and saved in ``latest.tar``)."""
        logger.info("%s", record)
        if self.callback is not None:
            self.callback(record)
        atomic_write_json(self.out / self.config.name / "training.json",
                          {"training_config": self.config.to_dict(), "model_config": self.model_cfg.to_dict(),
                           "history": self.history})

    # ---------------------------------------------------------------- stage 1
    def _ae_step(self, x: np.ndarray, train: bool) -> float:
        enc, dec = self.modules["movement_encoder"], self.decoder
        xt = torch.from_numpy(x).to(self.device)
        with torch.set_grad_enabled(train):
            latent = enc(xt[..., :self.model_cfg.dim_pose])
            loss = movement_ae_loss(xt, dec(latent), latent, self.config)
        if train:
            self.ae_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.ae_opt.step()
        return float(loss.detach())

    def stage1(self) -> None:
        cfg = self.config
        enc, dec = self.modules["movement_encoder"], self.decoder
        epochs = range(self.ae_epoch, cfg.ae_epochs) if not self.ae_done else range(0)
        for epoch in _progress(epochs, total=len(epochs), desc="movement autoencoder", enable=self.progress,
                               unit="epoch"):
            enc.train(), dec.train()
            order = self.rng.permutation(len(self.train))
            losses = []
            for s in range(0, len(order), cfg.ae_batch_size):
                x = _windows(self.train, order[s:s + cfg.ae_batch_size], cfg.ae_window, self.rng)
                if len(x):
                    losses.append(self._ae_step(x, True))
            enc.eval(), dec.eval()
            val_loss = None
            if self.val is not None:
                vrng = np.random.default_rng([cfg.seed, 1])
                vals = [self._ae_step(_windows(self.val, np.arange(s, min(s + cfg.ae_batch_size, len(self.val))),
                                               cfg.ae_window, vrng), False)
                        for s in range(0, len(self.val), cfg.ae_batch_size)]
                val_loss = float(np.mean(vals)) if vals else None
            self.ae_epoch = epoch + 1
            score = val_loss if val_loss is not None else float(np.mean(losses)) if losses else float("inf")
            state = {"movement_encoder": _state(enc), "movement_decoder": _state(dec), "ae_epoch": self.ae_epoch}
            if score < self.ae_best:
                self.ae_best = score
                _save(self.ae_dir / "finest.tar", dict(state))
            self.ae_done = self.ae_epoch >= cfg.ae_epochs
            record = {"stage": "movement_ae", "epoch": self.ae_epoch,
                      "train_loss": float(np.mean(losses)) if losses else None, "val_loss": val_loss}
            self.history.append(record)
            _save(self.ae_dir / "latest.tar", {**state, "opt_movement_ae": self.ae_opt.state_dict(),
                                               "ae_best": self.ae_best, "ae_done": self.ae_done, **self._meta()})
            self._record(record)
        if cfg.ae_epochs and (self.ae_dir / "finest.tar").is_file() and self.epoch == 0:
            best = _load(self.ae_dir / "finest.tar")  # freeze the best autoencoder's encoder
            enc.load_state_dict(best["movement_encoder"])
        self.ae_done = True
        enc.eval()
        enc.requires_grad_(False)

    # ---------------------------------------------------------------- stage 2
    def _match_step(self, batch: dict[str, torch.Tensor], shift: int, train: bool) -> tuple[float, torch.Tensor,
                                                                                          torch.Tensor]:
        enc, text_enc, motion_enc = (self.modules[n] for n in ("movement_encoder", "text_encoder", "motion_encoder"))
        n_tok = int(batch["tokens"].max())
        with torch.no_grad():
            movements = enc(batch["motion"])[:, :n_tok]
        with torch.set_grad_enabled(train):
            m = motion_enc(movements, batch["tokens"])
            t = text_enc(batch["word"], batch["pos"], batch["text_len"])
            loss, _, _ = contrastive_loss(t, m, shift, self.config.margin)
        if train:
            self.opt_text.zero_grad(set_to_none=True)
            self.opt_motion.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(text_enc.parameters(), self.config.grad_clip)
                torch.nn.utils.clip_grad_norm_(motion_enc.parameters(), self.config.grad_clip)
            self.opt_text.step()
            self.opt_motion.step()
        return float(loss.detach()), t.detach(), m.detach()

    def _validate(self, batcher: _Batcher) -> tuple[float, float]:
        """Validation loss and R@1 in pools of ``batch_size``, with a fixed sampling seed (comparable across epochs)."""
        cfg = self.config
        vrng = np.random.default_rng([cfg.seed, 2])
        losses, hits, count = [], 0, 0
        for m in (self.modules["text_encoder"], self.modules["motion_encoder"]):
            m.eval()
        for s in range(0, len(batcher.split), cfg.batch_size):
            idx = np.arange(s, min(s + cfg.batch_size, len(batcher.split)))
            if len(idx) < 2:
                continue
            shift = int(vrng.integers(1, len(idx)))
            loss, t, mot = self._match_step(batcher.batch(idx, vrng), shift, False)
            losses.append(loss)
            dist = torch.cdist(t, mot)
            hits += int((dist.argmin(dim=1) == torch.arange(len(idx), device=dist.device)).sum())
            count += len(idx)
        return (float(np.mean(losses)) if losses else float("nan")), (hits / count if count else float("nan"))

    def stage2(self) -> tuple[int, float | None]:
        """Train the text and motion encoders; returns (best epoch, best validation loss or None)."""
        cfg = self.config
        text_enc, motion_enc = self.modules["text_encoder"], self.modules["motion_encoder"]
        train_batcher = _Batcher(self.train, self.vectorizer, cfg, self.model_cfg.dim_pose, self.device)
        val_batcher = (_Batcher(self.val, self.vectorizer, cfg, self.model_cfg.dim_pose, self.device)
                       if self.val is not None else None)
        finest = self.model_dir / "finest.tar"
        epochs = range(self.epoch, cfg.epochs)
        for epoch in _progress(epochs, total=len(epochs), desc="text-motion matching", enable=self.progress,
                               unit="epoch"):
            text_enc.train(), motion_enc.train()
            order = self.rng.permutation(len(self.train))
            losses = []
            for s in range(0, len(order), cfg.batch_size):
                idx = order[s:s + cfg.batch_size]
                if len(idx) < 2:
                    continue
                shift = int(self.rng.integers(1, len(idx)))
                losses.append(self._match_step(train_batcher.batch(idx, self.rng), shift, True)[0])
            train_loss = float(np.mean(losses)) if losses else float("nan")
            val_loss, val_r1 = self._validate(val_batcher) if val_batcher is not None else (None, None)
            self.epoch = epoch + 1
            score = val_loss if val_loss is not None else train_loss
            weights = {n: _state(self.modules[n]) for n in ("movement_encoder", "text_encoder", "motion_encoder")}
            if score <= self.best_val or not finest.is_file():
                self.best_val, self.best_epoch = score, self.epoch
                _save(finest, {**weights, "epoch": self.epoch})
            record = {"stage": "text_motion_match", "epoch": self.epoch, "train_loss": train_loss,
                      "val_loss": val_loss, "val_r1": val_r1}
            self.history.append(record)
            _save(self.model_dir / "latest.tar", {
                **weights, "epoch": self.epoch, "opt_text_encoder": self.opt_text.state_dict(),
                "opt_motion_encoder": self.opt_motion.state_dict(), "best_val": self.best_val,
                "best_epoch": self.best_epoch, "ae_epoch": self.ae_epoch, "ae_best": self.ae_best, "ae_done": True,
                **self._meta(),
            })
            self._record(record)
        if not finest.is_file():  # epochs == 0: still write a usable evaluator
            weights = {n: _state(self.modules[n]) for n in ("movement_encoder", "text_encoder", "motion_encoder")}
            _save(finest, {**weights, "epoch": self.epoch})
        return self.best_epoch, (self.best_val if self.val is not None else None)

