"""Test doubles for the evaluation loop, public as ``numpy.testing`` is (``from motioneval.testing import ...``).

- :func:`write_toy_dataset`: a HumanML3D-layout folder of short random clips with tagged captions
  (whole-clip and segment captions), ``Mean.npy``/``Std.npy`` and split files;
- :func:`write_toy_evaluator`: a random-weight T2M evaluator of small size in the official layout
  (``t2m/text_mot_match/model/finest.tar``, a ``glove/`` stand-in, ``dataset/t2m_mean.npy``/``t2m_std.npy``);
- :class:`ToyEvaluator`: a numpy evaluator (random projections) satisfying the loop's ``Evaluator`` protocol;
- :class:`ToyGenerator`: a generator that returns noisy ground-truth-like features.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import signal
from pathlib import Path
from typing import Any

import numpy as np

from . import _npio
from .constants import HUMANML3D_DATASET, MAX_MOTION_FRAMES
from .representation.normalization import FeatureStats

VERBS = ["walk", "run", "jump", "kick", "wave", "turn", "sit", "throw"]
ADVERBS = ["slowly", "quickly", "forward", "backward"]
DIM = HUMANML3D_DATASET.dim


def _class_pattern(cls: int, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(1000 + cls).normal(0.0, 1.0, dim).astype(np.float32)


def toy_features(cls: int, length: int, rng: np.random.Generator, dim: int = DIM, noise: float = 0.5) -> np.ndarray:
    """Raw features of one toy clip of action ``cls``: a class pattern, a slow drift and noise."""
    t = np.linspace(0, 1, length, dtype=np.float32)[:, None]
    base = _class_pattern(cls, dim)[None, :] * (1 + 0.5 * np.sin(2 * np.pi * t + cls))
    return (base + noise * rng.standard_normal((length, dim))).astype(np.float32)


def toy_joints(length: int, rng: np.random.Generator, *, speed: float = 0.02) -> np.ndarray:
    """Plausible HumanML3D joint positions ``(length, 22, 3)``: the target skeleton's rest pose standing on
    the floor, walking along +z with small smooth per-joint wiggles (no degenerate poses)."""
    from .representation.skeleton import HUMANML3D

    offsets, parents = HUMANML3D.target_offset_array, HUMANML3D.parents
    rest = np.zeros_like(offsets)
    for chain in HUMANML3D.kinematic_chains:
        for j in chain[1:]:
            rest[j] = rest[parents[j]] + offsets[j]
    rest[:, 1] -= rest[:, 1].min()
    t = np.arange(length)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, (1, len(rest), 3))
    wiggle = 0.02 * np.sin(2 * np.pi * t / rng.uniform(20, 40) + phase)
    wiggle[:, 0] = 0.0
    path = np.zeros((length, 1, 3))
    path[:, 0, 2] = speed * np.arange(length)
    return (rest[None] + wiggle + path).astype(np.float32)


def toy_caption(cls: int, rng: np.random.Generator) -> tuple[str, list[str]]:
    adv = ADVERBS[int(rng.integers(len(ADVERBS)))]
    verb = VERBS[cls]
    text = f"a person {verb}s {adv}"
    return text, ["a/DET", "person/NOUN", f"{verb}/VERB", f"{adv}/ADV"]


def write_toy_dataset(root: str | os.PathLike, *, num_clips: int = 100, seed: int = 0, min_length: int = 40,
                      max_length: int = 80, segment_fraction: float = 0.1, split: str = "test") -> Path:
    """Write a small HumanML3D-layout dataset (features only; no joints) and return its folder."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "new_joint_vecs").mkdir(parents=True, exist_ok=True)
    (root / "texts").mkdir(parents=True, exist_ok=True)
    ids, all_feats = [], []
    for i in range(num_clips):
        cid = f"{i:06d}"
        cls = int(rng.integers(len(VERBS)))
        length = int(rng.integers(min_length, max_length))
        feats = toy_features(cls, length, rng)
        np.save(root / "new_joint_vecs" / f"{cid}.npy", feats)
        lines = []
        for _ in range(int(rng.integers(1, 4))):
            text, tokens = toy_caption(cls, rng)
            lines.append(f"{text}#{' '.join(tokens)}#0.0#0.0")
        if rng.random() < segment_fraction and length >= 52:  # the segment [10, length - 2) keeps >= 40 frames
            text, tokens = toy_caption(cls, rng)
            lines.append(f"{text}#{' '.join(tokens)}#0.5#{(length - 2) / HUMANML3D_DATASET.fps:.2f}")
        (root / "texts" / f"{cid}.txt").write_text("\n".join(lines) + "\n")
        ids.append(cid)
        all_feats.append(feats)
    stacked = np.concatenate(all_feats)
    np.save(root / "Mean.npy", stacked.mean(axis=0).astype(np.float32))
    np.save(root / "Std.npy", (stacked.std(axis=0) + 0.05).astype(np.float32))
    (root / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root


def toy_vocabulary() -> list[str]:
    return ["sos", "eos", "unk", "a", "person", *VERBS, *ADVERBS]


def write_toy_evaluator(root: str | os.PathLike, dataset_root: str | os.PathLike, *, seed: int = 0,
                        hidden: int = 32, word_dim: int = 16) -> Path:
    """A random-weight T2M evaluator (small sizes) in the official folder layout; returns the folder.

    The evaluator statistics are the dataset's mean with a perturbed std, so that the two statistics differ
    as they do for the real evaluator."""
    import torch

    from .evaluators.t2m_modules import T2MConfig, build_modules

    root = Path(root)
    torch.manual_seed(seed)
    config = T2MConfig(dim_movement_enc_hidden=hidden, dim_movement_latent=hidden, dim_word=word_dim,
                       dim_text_hidden=hidden, dim_motion_hidden=hidden, dim_coemb_hidden=hidden)
    modules = build_modules(config)
    ckpt = root / "t2m" / "text_mot_match" / "model" / "finest.tar"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({name: m.state_dict() for name, m in modules.items()} | {"epoch": 0}, ckpt)
    glove = root / "glove"
    glove.mkdir(exist_ok=True)
    words = toy_vocabulary()
    rng = np.random.default_rng(seed)
    np.save(glove / "our_vab_data.npy", rng.standard_normal((len(words), word_dim)).astype(np.float32))
    with open(glove / "our_vab_words.pkl", "wb") as fh:
        pickle.dump(words, fh, protocol=3)
    with open(glove / "our_vab_idx.pkl", "wb") as fh:
        pickle.dump({w: i for i, w in enumerate(words)}, fh, protocol=3)
    mean = _npio.load(Path(dataset_root) / "Mean.npy").astype(np.float64)
    std = _npio.load(Path(dataset_root) / "Std.npy").astype(np.float64) * rng.uniform(0.8, 1.25, mean.shape)
    (root / "dataset").mkdir(exist_ok=True)
    np.save(root / "dataset" / "t2m_mean.npy", mean)
    np.save(root / "dataset" / "t2m_std.npy", std)
    return root


class ToyEvaluator:
    """A deterministic numpy stand-in for the T2M evaluator: a random projection of the frames the real
    encoder would see (``4 * (L // 4)`` frames plus 3 past the end) and of hashed word vectors."""

    def __init__(self, stats: FeatureStats, *, dim: int = 16, seed: int = 0) -> None:
        self.stats = stats
        rng = np.random.default_rng(seed)
        self.w_motion = rng.standard_normal((stats.dim, dim)) / np.sqrt(stats.dim)
        self.dim = dim
        self.seed = seed
        self.device = "cpu"
        self.provenance = {"toy-evaluator": hashlib.sha256(self.w_motion.tobytes()).hexdigest()}
        self.calls = {"text": 0, "motion": 0}

    def _word(self, token: str) -> np.ndarray:
        digest = hashlib.sha256(f"{self.seed}:{token}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little")).standard_normal(self.dim)

    def embed_text(self, tokens: Any, *, text_lengths: Any = None) -> np.ndarray:
        from .constants import pad_tokens

        self.calls["text"] += len(tokens)
        out = np.empty((len(tokens), self.dim), np.float32)
        for i, toks in enumerate(tokens):
            padded, n = pad_tokens(toks)
            if text_lengths is not None:  # read this many padded tokens (sos, words, eos, unk ...)
                n = int(np.broadcast_to(np.asarray(text_lengths), (len(tokens),))[i])
            out[i] = np.tanh(np.mean([self._word(t) for t in padded[:n]], axis=0))
        return out

    def embed_motion(self, features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        self.calls["motion"] += len(features)
        feats = np.asarray(features, np.float64)
        t = np.arange(feats.shape[1])
        seen = t[None, :] < np.minimum(4 * (np.asarray(lengths) // 4) + 3, feats.shape[1])[:, None]
        mean = (feats * seen[:, :, None]).sum(1) / np.maximum(seen.sum(1), 1)[:, None]
        return np.tanh(mean @ self.w_motion).astype(np.float32)


class ToyGenerator:
    """Dataset-normalized features of a caption's toy action (parsed from the caption), plus noise.

    ``kill_after``: SIGKILL the process on the call after this many calls (for resume tests)."""

    kind = "features"
    normalization = "dataset"

    def __init__(self, dataset_stats: FeatureStats, *, noise: float = 0.5, name: str = "toy", version: str = "1",
                 kill_after: int | None = None, max_frames: int = MAX_MOTION_FRAMES) -> None:
        self.stats = dataset_stats
        self.noise = noise
        self.name = name
        self.version = version
        self.kill_after = kill_after
        self.max_frames = max_frames
        self.calls = 0

    def generate(self, captions: list[str], lengths: np.ndarray | None, seed: int) -> Any:
        if self.kill_after is not None and self.calls >= self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        self.calls += 1
        rng = np.random.default_rng(seed)
        if lengths is None:
            lengths = 4 * rng.integers(10, 40, len(captions))
        out = np.zeros((len(captions), self.max_frames, self.stats.dim), np.float32)
        for i, caption in enumerate(captions):
            verb = caption.split()[2][:-1] if len(caption.split()) > 2 else ""
            cls = VERBS.index(verb) if verb in VERBS else 0
            raw = toy_features(cls, int(lengths[i]), rng, self.stats.dim, self.noise)
            out[i, : int(lengths[i])] = self.stats.normalize(raw)
        return out, np.asarray(lengths)

