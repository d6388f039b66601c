"""Train a small TMR-architecture evaluator on a HumanML3D-layout dataset (our own code), written in TMR's layout.

Used for the demo (``scripts/build_demo_tmr_assets.py``): no pretrained language model is available offline,
so the frozen text model is a small DistilBERT with *random* weights over a word-level vocabulary of the
training captions (its token features still identify words and their positions; the trained text encoder learns
the rest). What is trained:

- motion and text encoders of TMR's architecture (:class:`~motioneval.evaluators.tmr_modules.ACTOREncoder`,
  VAE layout with two learned tokens, output 0 is the embedding) in a small configuration;
- loss: TMR's symmetric InfoNCE on cosine similarities with temperature 0.1, where negatives whose caption is
  identical to the positive's are masked out (TMR masks captions whose all-mpnet-base-v2 similarity exceeds
  0.8; exact duplicates are the offline stand-in). TMR's reconstruction, latent and KL terms (which need its
  motion decoder) are not used: only the embeddings matter here;
- statistics: mean and unbiased std over all frames of the training clips (TMR's ``prepare/motion_stats.py``);
- each epoch visits every training clip once with one random caption (TMR's training sampling); the weights of
  the epoch with the best validation text->motion R@1 + R@5 + R@10 (protocol (a)) are kept.

Output (what :meth:`TMREvaluator.load <motioneval.evaluators.tmr.TMREvaluator.load>` reads)::

    <out>/models/tmr_<name>/config.json
    <out>/models/tmr_<name>/last_weights/{motion_encoder,text_encoder}.pt
    <out>/models/<text_model_name>/          tokenizer + model.safetensors (save_pretrained)
    <out>/stats/<name>/guoh3dfeats/{mean,std}.pt
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._io import atomic_write_text
from .tmr_modules import FPS, ACTOREncoder, TMREncoderConfig, build_encoder, lengths_to_mask

_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass(frozen=True)
class TMRTrainingConfig:
    """Sizes and optimisation of a small TMR-architecture evaluator."""

    name: str = "demo"
    latent_dim: int = 64
    ff_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    text_model_name: str = "demo-distilbert"
    text_dim: int = 32  #: hidden size of the random frozen DistilBERT
    text_layers: int = 2
    text_heads: int = 2
    text_hidden: int = 64
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    temperature: float = 0.1
    max_frames: int = 200
    seed: int = 0
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def caption_words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks, as BERT's basic tokenizer splits ASCII text."""
    return re.findall(r"\w+|[^\w\s]", text.lower())


def build_text_model(folder: Path, captions: list[str], config: TMRTrainingConfig) -> Path:
    """Save a random frozen DistilBERT and a word-level uncased tokenizer covering ``captions`` to ``folder``."""
    import inspect

    import transformers

    vocab = _SPECIALS + sorted({w for c in captions for w in caption_words(c)})
    folder.mkdir(parents=True, exist_ok=True)
    cls = transformers.DistilBertTokenizer
    if "vocab_file" in inspect.signature(cls.__init__).parameters:  # transformers 4
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
        tok = cls(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    else:
        tok = cls(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    tok.save_pretrained(folder)
    torch.manual_seed(config.seed)
    cfg = transformers.DistilBertConfig(vocab_size=len(vocab), dim=config.text_dim, n_layers=config.text_layers,
                                        n_heads=config.text_heads, hidden_dim=config.text_hidden,
                                        max_position_embeddings=128)
    transformers.DistilBertModel(cfg).eval().save_pretrained(folder, safe_serialization=True)
    return folder


def _load_split(root: Path, split: str, max_frames: int) -> tuple[list[np.ndarray], list[list[str]], list[str]]:
    from ..data.dataset import MotionDataset

    ds = MotionDataset(root, split)
    feats, caps, ids = [], [], []
    for item in ds:
        texts = [c.text for c in item.captions if c.text.strip()]
        if not texts:
            continue
        feats.append(np.asarray(item.features[:max_frames], np.float32))
        caps.append(texts)
        ids.append(item.id)
    if not feats:
        raise ValueError(f"{root}: split {split!r} has no clips with captions")
    return feats, caps, ids


def _pad(rows: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = np.array([len(r) for r in rows])
    out = np.zeros((len(rows), int(lens.max()), rows[0].shape[1]), np.float32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return torch.from_numpy(out), lengths_to_mask(lens, int(lens.max()))


def info_nce(text: torch.Tensor, motion: torch.Tensor, same_caption: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE on cosine similarities / temperature; off-diagonal pairs with the same caption masked."""
    t = nn.functional.normalize(text, dim=-1)
    m = nn.functional.normalize(motion, dim=-1)
    logits = t @ m.T / temperature
    eye = torch.eye(len(t), dtype=torch.bool, device=t.device)
    logits = logits.masked_fill(same_caption & ~eye, float("-inf"))
    labels = torch.arange(len(t), device=t.device)
    return (nn.functional.cross_entropy(logits, labels) + nn.functional.cross_entropy(logits.T, labels)) / 2


def train_tmr_evaluator(dataset_root: str | Path, out: str | Path, config: TMRTrainingConfig = TMRTrainingConfig(),
                        *, callback: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train on ``<dataset_root>`` train split (validation: val split) and write TMR's layout under ``out``.

    Returns ``{"run": run folder, "best_epoch", "history": [per-epoch loss and val R@k]}``.
    """
    from ..metrics.tmr_retrieval import retrieval_metrics
    from .tmr import TMREvaluator

    root, out = Path(dataset_root), Path(out)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = torch.device(config.device)
    tr_feats, tr_caps, _ = _load_split(root, "train", config.max_frames)
    va_feats, va_caps, _ = _load_split(root, "val", config.max_frames)

    allf = np.concatenate(tr_feats).astype(np.float64)
    mean = allf.mean(0)
    std = allf.std(0, ddof=1)
    if (std <= 0).any():
        raise ValueError(f"training features have constant dims {np.flatnonzero(std <= 0)[:10].tolist()}")
    stats_dir = out / "stats" / config.name / "guoh3dfeats"
    stats_dir.mkdir(parents=True, exist_ok=True)
    torch.save(torch.from_numpy(mean.astype(np.float32)), stats_dir / "mean.pt")
    torch.save(torch.from_numpy(std.astype(np.float32)), stats_dir / "std.pt")
    mean32, std32 = mean.astype(np.float32), (std.astype(np.float32) + np.float32(1e-12))
    tr_norm = [((f - mean32) / std32).astype(np.float32) for f in tr_feats]
    va_norm = [((f - mean32) / std32).astype(np.float32) for f in va_feats]

    all_caps = sorted({c for caps in tr_caps + va_caps for c in caps})
    text_dir = build_text_model(out / "models" / config.text_model_name, all_caps, config)

    enc_conf = {"latent_dim": config.latent_dim, "ff_size": config.ff_size, "num_layers": config.num_layers,
                "num_heads": config.num_heads, "vae": True, "activation": "gelu"}
    motion_conf = TMREncoderConfig(nfeats=tr_feats[0].shape[1], **enc_conf)  # type: ignore[arg-type]
    text_conf = TMREncoderConfig(nfeats=config.text_dim, **enc_conf)  # type: ignore[arg-type]
    motion_enc, text_enc = ACTOREncoder(motion_conf).to(device), ACTOREncoder(text_conf).to(device)
    stats = _stats(mean32, std32)
    probe = TMREvaluator(build_encoder(motion_conf), build_encoder(text_conf), stats, *_load_text(text_dir),
                         device=device)
    feats_of, _ = probe.text_token_features(all_caps)
    token_feats = dict(zip(all_caps, feats_of))

    params = list(motion_enc.parameters()) + list(text_enc.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr)
    history: list[dict[str, Any]] = []
    best: tuple[float, int, dict[str, dict[str, torch.Tensor]]] | None = None
    n = len(tr_norm)
    for epoch in range(1, config.epochs + 1):
        motion_enc.train()
        text_enc.train()
        order = rng.permutation(n)
        losses = []
        for s in range(0, n - 1, config.batch_size):
            idx = order[s:s + config.batch_size]
            if len(idx) < 2:
                continue
            caps = [tr_caps[i][int(rng.integers(len(tr_caps[i])))] for i in idx]
            x, mask = _pad([tr_norm[i] for i in idx])
            tx, tmask = _pad([token_feats[c] for c in caps])
            m = motion_enc(x.to(device), mask.to(device))[:, 0]
            t = text_enc(tx.to(device), tmask.to(device))[:, 0]
            same = torch.tensor([[a == b for b in caps] for a in caps], device=device)
            loss = info_nce(t, m, same, config.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        probe.motion_encoder.load_state_dict(motion_enc.state_dict())
        probe.text_encoder.load_state_dict(text_enc.state_dict())
        vm = probe.embed_motion(_pad_np(va_norm), np.array([len(f) for f in va_norm]))
        vt = probe.embed_token_features([token_feats[c[0]] for c in va_caps],
                                        np.array([len(token_feats[c[0]]) for c in va_caps]))
        val = retrieval_metrics(vt, vm)
        score = val["t2m/R01"] + val["t2m/R05"] + val["t2m/R10"]
        rec = {"epoch": epoch, "loss": float(np.mean(losses)), **{f"val_{k}": v for k, v in val.items()
                                                                   if not k.endswith("/len")}}
        history.append(rec)
        if callback is not None:
            callback(rec)
        if best is None or score > best[0]:
            best = (score, epoch, {"motion_encoder": _cpu(motion_enc), "text_encoder": _cpu(text_enc)})
    assert best is not None
    run = out / "models" / f"tmr_{config.name}"
    (run / "last_weights").mkdir(parents=True, exist_ok=True)
    for name, sd in best[2].items():
        torch.save(sd, run / "last_weights" / f"{name}.pt")
    block = {"_target_": "src.model.ACTORStyleEncoder", "dropout": 0.1, **enc_conf}
    tmr_config = {
        "note": "small TMR-architecture evaluator trained by motioneval (evaluators/tmr_training.py); contrastive "
                "loss only; random frozen text model",
        "data": {"motion_loader": {"fps": FPS, "nfeats": motion_conf.nfeats,
                                   "normalizer": {"base_dir": f"stats/{config.name}/guoh3dfeats", "eps": 1e-12}},
                 "text_to_token_emb": {"modelname": config.text_model_name}},
        "model": {"_target_": "src.model.TMR", "vae": True,
                  "motion_encoder": {**block, "nfeats": motion_conf.nfeats},
                  "text_encoder": {**block, "nfeats": text_conf.nfeats}},
        "training": config.to_dict(),
        "best_epoch": best[1],
    }
    atomic_write_text(run / "config.json", json.dumps(tmr_config, indent=4))
    return {"run": run, "best_epoch": best[1], "history": history}


def _stats(mean: np.ndarray, std: np.ndarray):
    from ..representation.normalization import FeatureStats
    return FeatureStats(mean=mean, std=std, name="TMR training statistics")


def _load_text(folder: Path) -> tuple[Any, Any]:
    import transformers
    tok = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    return tok, model


def _pad_np(rows: list[np.ndarray]) -> np.ndarray:
    t = max(len(r) for r in rows)
    out = np.zeros((len(rows), t, rows[0].shape[1]), np.float32)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _cpu(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", torch.float32).clone() for k, v in module.state_dict().items()}
