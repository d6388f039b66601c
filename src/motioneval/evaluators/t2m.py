"""``T2MEvaluator``: the pretrained T2M text and motion encoders, loaded from the files users have.

Loading (:meth:`T2MEvaluator.load`) finds ``<folder>/{t2m|kit}/text_mot_match/model/finest.tar``, the
``glove/`` vocabulary and the evaluator's own statistics (``t2m_mean.npy``/``t2m_std.npy``, possibly under
``dataset/``, or ``checkpoints/t2m/Comp_v6_KLD01/meta/{mean,std}.npy``), checks every tensor name and shape,
and records the sha256 of every file read in :attr:`T2MEvaluator.provenance`.

Embedding (:meth:`embed_text`, :meth:`embed_motion`, :meth:`embed_pairs`) takes rows in the caller's order
and returns float32 numpy arrays in that order. Motions must be normalized with the *evaluator's*
statistics (:attr:`stats`). The padding rule is the reference's: a motion shorter than 196 frames is
zero-padded to 196, and the motion encoder reads ``length // 4`` movement tokens. Token ``s`` sees frames
``4s-3 ... 4s+6``, so the last token of a motion of length ``L`` also sees up to 3 frames past ``L``: zeros for
padded ground truth, but real frames when a generator's full 196-frame output is passed unpadded (MDM),
which changes the embedding. Frames from ``L + 3`` on have no effect.

Speed (exact, see ``tests/test_t2m_evaluator.py``): rows are sorted globally by token count and cut into
large chunks of similar length; each chunk's frame axis is cropped to the ``4n + 3`` frames its longest
motion's ``n`` tokens can see (zero-padded past ``T`` exactly as the 196-frame canvas would be), and the three
consecutive linear maps between the convolutions and the motion GRU (movement ``out_net``, motion
``input_emb`` and the GRU input weights) are folded into one matrix.
"""
from __future__ import annotations

import logging
import os
import pickle
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .._arrays import as_lengths, to_numpy
from .._io import sha256_file
from .._progress import progress_batches
from ..constants import HUMANML3D_DATASET, KIT_DATASET
from ..representation.layout import FeatureLayout
from ..representation.normalization import FeatureStats
from .files import META_PREFERENCE, find_stats
from .t2m_modules import (
    LOOKAHEAD_FRAMES,
    MAX_MOTION_LENGTH,
    MODULE_NAMES,
    OFFICIAL_DIM_POSE,
    UNIT_LENGTH,
    T2MConfig,
    build_modules,
    check_state_dicts,
    infer_config,
)
from .word_vectorizer import DEFAULT_MAX_TEXT_LEN, GLOVE_FILES, WordVectorizer, tag_captions

logger = logging.getLogger(__name__)

CHECKPOINT_RELPATH = Path("text_mot_match", "model", "finest.tar")
#: Folder names of the reference statistics ("meta") inside ``checkpoints/<dataset>/`` (the search: ``files``).
_META_PREFERENCE = META_PREFERENCE


def default_device() -> torch.device:
    """``cuda`` when available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class T2MEvaluator:
    """Text and motion encoders of Guo et al. (2022) with the vocabulary and normalization they were trained with.

    Construct with :meth:`load` (files) or directly from modules (e.g. freshly trained ones). Attributes:
    ``config`` (:class:`T2MConfig`), ``stats`` (evaluator :class:`FeatureStats`), ``layout``
    (:class:`FeatureLayout` or ``None`` when the feature size is not HumanML3D-style), ``dim_pose``,
    ``word_vectorizer``, ``provenance`` (``{path: sha256}``), ``device``, ``dataset``.
    """

    def __init__(
        self,
        modules: dict[str, nn.Module],
        stats: FeatureStats,
        word_vectorizer: WordVectorizer | None = None,
        *,
        config: T2MConfig | None = None,
        dataset: str = "custom",
        device: str | torch.device | None = None,
        provenance: dict[str, str] | None = None,
        max_text_len: int = DEFAULT_MAX_TEXT_LEN,
        epoch: int | None = None,
    ) -> None:
        missing = [n for n in MODULE_NAMES if n not in modules]
        if missing:
            raise ValueError(f"T2MEvaluator needs the modules {list(MODULE_NAMES)}; missing {missing}")
        if config is None:
            config = infer_config({n: modules[n].state_dict() for n in MODULE_NAMES}, source="modules")
        self.config = config
        if stats.dim != config.dim_pose + 4:
            raise ValueError(
                f"statistics {stats.name!r} have {stats.dim} dims but the evaluator reads {config.dim_pose + 4}-dim "
                f"features (dim_pose {config.dim_pose} + 4 foot contacts); "
                + _stats_hint(stats.dim, config.dim_pose)
            )
        if word_vectorizer is not None and word_vectorizer.dim != config.dim_word:
            raise ValueError(
                f"word vectors have {word_vectorizer.dim} dims but the text encoder expects {config.dim_word}"
            )
        self.stats = stats
        self.word_vectorizer = word_vectorizer
        self.dataset = dataset
        self.max_text_len = int(max_text_len)
        self.epoch = epoch
        self.provenance: dict[str, str] = dict(provenance or {})
        try:
            self.layout: FeatureLayout | None = FeatureLayout.for_dim(config.dim_pose + 4)
        except ValueError:
            self.layout = None
        self.device = torch.device(device) if device is not None else default_device()
        self.movement_encoder: Any = modules["movement_encoder"]  # the classes differ by checkpoint layout
        self.text_encoder = modules["text_encoder"]
        self.motion_encoder: Any = modules["motion_encoder"]
        for m in (self.movement_encoder, self.text_encoder, self.motion_encoder):
            m.to(device=self.device, dtype=torch.float32).eval()
            m.requires_grad_(False)
        self._fused_gru = _fold_motion_input(self.movement_encoder, self.motion_encoder)

    # ------------------------------------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        folder: str | os.PathLike[str] | None = None,
        *,
        checkpoint: str | Path | None = None,
        glove: str | Path | None = None,
        mean: str | Path | None = None,
        std: str | Path | None = None,
        dataset: str | None = None,
        device: str | torch.device | None = None,
        weights_only: bool = True,
        statistics: str | None = None,
    ) -> "T2MEvaluator":
        """Load an evaluator from an evaluator folder and/or explicit file paths.

        ``folder``: where the evaluator was downloaded or trained to (holds ``t2m/`` or ``kit/``, ``glove/``,
        statistics). ``checkpoint``, ``glove``, ``mean``, ``std`` override what is found there. ``dataset``:
        ``"t2m"`` (HumanML3D), ``"kit"``, the name of a trained evaluator, or ``None`` to detect it.
        ``weights_only=False`` allows checkpoints holding arbitrary Python objects (only for files you trust:
        unpickling can run code). ``statistics``: the meta folder to prefer when ``checkpoints/<dataset>/``
        holds several (``"Comp_v6_KLD01"``, ``"Comp_v6_KLD005"``, ...; the presets' ``evaluator_statistics``);
        without it (or when it is absent) the search order is MDM's ``<dataset>_mean.npy`` copies, then
        ``Comp_v6_KLD01``, then ``Comp_v6_KLD005``, then any other meta folder by name.
        """
        folder = Path(folder) if folder is not None else None
        if folder is not None and not folder.is_dir():
            raise FileNotFoundError(f"evaluator folder {folder} does not exist or is not a folder")
        if checkpoint is None and folder is None:
            raise ValueError("T2MEvaluator.load needs an evaluator folder or checkpoint=<path to finest.tar>")
        ckpt_path, dataset = _find_checkpoint(folder, checkpoint, dataset)
        raw = _read_checkpoint(ckpt_path, weights_only=weights_only)
        state_dicts = {n: raw[n] for n in MODULE_NAMES}
        config = infer_config(state_dicts, source=str(ckpt_path))
        if dataset is None:
            dataset = {v: k for k, v in OFFICIAL_DIM_POSE.items()}.get(config.dim_pose, "custom")
        expected_pose = OFFICIAL_DIM_POSE.get(dataset)
        if expected_pose is not None and config.dim_pose != expected_pose:
            other = {v: k for k, v in OFFICIAL_DIM_POSE.items()}.get(config.dim_pose)
            hint = (f"it looks like the {other!r} evaluator: pass the {dataset!r} checkpoint, or dataset={other!r}"
                    if other else "it is not an official evaluator: pass the right checkpoint or your own dataset name")
            raise ValueError(
                f"{ckpt_path}: movement_encoder.main.0.weight has {config.dim_pose} input channels but the "
                f"{dataset!r} evaluator reads {expected_pose} ({expected_pose + 4}-dim features minus 4 foot contacts); "
                f"{hint}"
            )
        check_state_dicts(state_dicts, config, source=str(ckpt_path))
        roots = _search_roots(folder, ckpt_path)
        glove_dir = Path(glove) if glove is not None else _find_glove(roots)
        vectorizer = WordVectorizer.from_folder(glove_dir)
        if vectorizer.dim != config.dim_word:
            raise ValueError(
                f"word vectors in {glove_dir} have {vectorizer.dim} dims but {ckpt_path} expects {config.dim_word}"
            )
        mean_path, std_path = _find_stats(roots, dataset, mean, std, preferred=statistics)
        stats = FeatureStats.load(mean_path, std_path, name=f"{dataset} evaluator statistics")
        if stats.dim != config.dim_pose + 4:
            raise ValueError(
                f"statistics {mean_path} have {stats.dim} dims but {ckpt_path} reads {config.dim_pose + 4}-dim "
                f"features; " + _stats_hint(stats.dim, config.dim_pose)
            )
        with torch.device("meta"):  # no random initialisation: the checkpoint's tensors are assigned
            modules = build_modules(config)
        for name in MODULE_NAMES:
            sd = {k: v.detach().to(torch.float32).contiguous() for k, v in state_dicts[name].items()}
            modules[name].load_state_dict(sd, strict=True, assign=True)
        provenance = {str(ckpt_path.resolve()): sha256_file(ckpt_path)}
        for path, digest in {**vectorizer.sources, **stats.sources}.items():
            provenance[str(Path(path).resolve())] = digest
        epoch = raw.get("epoch")
        logger.info("loaded T2M evaluator %s (%s, epoch %s) from %s", dataset, config.to_dict(), epoch, ckpt_path)
        return cls(
            modules, stats, vectorizer, config=config, dataset=dataset, device=device, provenance=provenance,
            epoch=int(epoch) if isinstance(epoch, (int, np.integer)) else None,
        )

    # ------------------------------------------------------------------------------------------- properties
    @property
    def dim_pose(self) -> int:
        """Channels the movement encoder reads (feature dim minus the 4 foot contacts: 259 / 247)."""
        return self.config.dim_pose

    @property
    def dim_features(self) -> int:
        """Feature dim of the motions this evaluator embeds (263 / 251)."""
        return self.config.dim_pose + 4

    @property
    def dim_embedding(self) -> int:
        return self.config.dim_coemb_hidden

    def to(self, device: str | torch.device) -> "T2MEvaluator":
        """Move the encoders to ``device``."""
        self.device = torch.device(device)
        for m in (self.movement_encoder, self.text_encoder, self.motion_encoder, self._fused_gru):
            m.to(self.device)
        return self

    def __repr__(self) -> str:
        return (f"T2MEvaluator(dataset={self.dataset!r}, dim_pose={self.dim_pose}, "
                f"embedding={self.dim_embedding}, device={str(self.device)!r})")

    # ------------------------------------------------------------------------------------------- text
    def tokenize(self, tokens_or_captions: Sequence[Any]) -> list[list[str]]:
        """Lists of ``word/POS`` tokens as given; plain strings are tagged with spaCy (extra ``text``)."""
        items = list(tokens_or_captions)
        is_str = [isinstance(x, str) for x in items]
        if all(is_str):
            return tag_captions(items) if items else []
        if any(is_str):
            first = is_str.index(True)
            raise TypeError(
                f"captions mix plain strings (e.g. row {first}) and token lists; pass all as 'word/POS' token lists "
                f"or all as strings"
            )
        return [list(x) for x in items]

    def text_arrays(self, tokens_or_captions: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Word vectors ``(N, 22, dim_word)``, POS one-hots ``(N, 22, 15)`` and lengths ``(N,)`` (sos/eos included)."""
        if self.word_vectorizer is None:
            raise ValueError("this evaluator has no word vectors (glove folder); load it with glove=<folder>")
        return self.word_vectorizer.batch_to_arrays(self.tokenize(tokens_or_captions), self.max_text_len)

    def embed_text(
        self, tokens_or_captions: Sequence[Any], *, batch_size: int | None = None, progress: bool = False,
        text_lengths: Any = None,
    ) -> np.ndarray:
        """Text embeddings ``(N, 512)`` float32 of captions (``word/POS`` token lists, or strings tagged by spaCy).

        ``text_lengths`` replaces the true text lengths (tokens read, ``sos``/``eos``/``unk`` padding included),
        e.g. 22 for every row to reproduce MDM's pre-2024 evaluation."""
        words, pos, lengths = self.text_arrays(tokens_or_captions)
        if text_lengths is not None:
            lengths = np.broadcast_to(np.asarray(text_lengths, dtype=np.int64), lengths.shape).copy()
        return self.embed_text_arrays(words, pos, lengths, batch_size=batch_size, progress=progress)

    @torch.inference_mode()
    def embed_text_arrays(
        self, word_embs: Any, pos_ohot: Any, lengths: Any, *, batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        """Text embeddings from word vectors ``(N, S, dim_word)``, one-hots ``(N, S, 15)`` and lengths ``(N,)``.

        Tokens at or past ``lengths[i]`` are ignored. This is the entry point below :meth:`embed_text`.
        """
        words = np.asarray(to_numpy(word_embs), dtype=np.float32)
        pos = np.asarray(to_numpy(pos_ohot), dtype=np.float32)
        lengths = as_lengths(lengths, "text lengths")
        n = len(lengths)
        if words.ndim != 3 or words.shape[0] != n or words.shape[2] != self.config.dim_word:
            raise ValueError(f"word_embs must be (N={n}, S, {self.config.dim_word}); got {words.shape}")
        if pos.shape != words.shape[:2] + (self.config.dim_pos_ohot,):
            raise ValueError(f"pos_ohot must be {words.shape[:2] + (self.config.dim_pos_ohot,)}; got {pos.shape}")
        bad = np.flatnonzero((lengths < 1) | (lengths > words.shape[1]))
        if bad.size:
            raise ValueError(
                f"text lengths must be in 1..{words.shape[1]}; rows {bad[:10].tolist()} have {lengths[bad[:10]].tolist()}"
            )
        out = np.empty((n, self.dim_embedding), np.float32)
        order = np.argsort(-lengths, kind="stable")
        for idx in self._chunks(order, batch_size, progress, "text"):
            s = int(lengths[idx[0]])
            w = torch.from_numpy(words[idx, :s]).to(self.device)
            p = torch.from_numpy(pos[idx, :s]).to(self.device)
            emb = self.text_encoder(w, p, torch.from_numpy(lengths[idx]))
            out[idx] = emb.float().cpu().numpy()
        return out

    # ------------------------------------------------------------------------------------------- motion
    @torch.inference_mode()
    def embed_motion(
        self, features: Any, lengths: Any, *, batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        """Motion embeddings ``(N, 512)`` float32 of evaluator-normalized features ``(N, T, D)``.

        ``D`` is ``dim_pose + 4`` (263 / 251; the 4 foot contacts are dropped) or ``dim_pose``. ``lengths[i]``
        frames of row ``i`` are valid; the encoder reads ``lengths[i] // 4`` movement tokens, and frames up to
        ``lengths[i] + 2`` are seen (see the module docstring). Inputs shorter than 196 frames are zero-padded.
        """
        x = to_numpy(features)
        lengths = as_lengths(lengths, "motion lengths")
        self._check_motion(x, lengths)
        n, t_in = x.shape[0], x.shape[1]
        canvas = max(MAX_MOTION_LENGTH, t_in)
        tokens = lengths // UNIT_LENGTH
        out = np.empty((n, self.dim_embedding), np.float32)
        order = np.argsort(-tokens, kind="stable")
        dim_pose = self.dim_pose
        for idx in self._chunks(order, batch_size, progress, "motion"):
            n_tok = int(tokens[idx[0]])
            frames = min(UNIT_LENGTH * n_tok + LOOKAHEAD_FRAMES, canvas)
            # channels-first (B, C, T) and contiguous: what the convolution reads fastest (bitwise the same
            # values as convolving the transposed (B, T, C) view)
            chunk = np.zeros((len(idx), dim_pose, frames), np.float32)
            used = min(frames, t_in)
            chunk[:, :, :used] = x[idx, :used, :dim_pose].transpose(0, 2, 1)
            out[idx] = self._encode_motion(torch.from_numpy(chunk).to(self.device), tokens[idx], n_tok)
        return out

    def embed_pairs(
        self, tokens_or_captions: Sequence[Any], features: Any, lengths: Any, *,
        batch_size: int | None = None, progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(text_embeddings, motion_embeddings)`` for paired rows (row ``i`` of each belongs together)."""
        n_text = len(tokens_or_captions)
        n_motion = len(to_numpy(lengths))
        if n_text != n_motion:
            raise ValueError(f"embed_pairs needs as many captions as motions; got {n_text} captions and {n_motion} motions")
        text = self.embed_text(tokens_or_captions, batch_size=batch_size, progress=progress)
        motion = self.embed_motion(features, lengths, batch_size=batch_size, progress=progress)
        return text, motion

    def _encode_motion(self, chunk: torch.Tensor, tokens: np.ndarray, n_tok: int) -> np.ndarray:
        """Sorted (descending ``tokens``) chunk of cropped frames, channels first ``(B, dim_pose, frames)``
        -> embeddings; the folded fast path."""
        hidden = self.movement_encoder.main(chunk).transpose(1, 2)[:, :n_tok]
        packed = pack_padded_sequence(hidden, torch.from_numpy(tokens), batch_first=True, enforce_sorted=True)
        enc = self.motion_encoder
        h0 = enc.hidden.expand(2, chunk.shape[0], enc.hidden_size).contiguous()
        _, last = self._fused_gru(packed, h0)
        return enc.output_net(torch.cat([last[0], last[1]], dim=-1)).float().cpu().numpy()

    def _check_motion(self, x: np.ndarray, lengths: np.ndarray) -> None:
        if x.ndim != 3:
            raise ValueError(
                f"motion features must be (N, T, D); got shape {x.shape}"
                + (" (joints? convert them to features first)" if x.ndim == 4 else "")
            )
        n, t, d = x.shape
        if d not in (self.dim_pose + 4, self.dim_pose):
            raise ValueError(
                f"motion features have {d} dims; this {self.dataset!r} evaluator reads {self.dim_pose + 4} "
                f"(or {self.dim_pose} without foot contacts). " + _stats_hint(d, self.dim_pose, what="features")
            )
        if len(lengths) != n:
            raise ValueError(f"got {n} motions but {len(lengths)} lengths")
        bad = np.flatnonzero((lengths < UNIT_LENGTH) | (lengths > t))
        if bad.size:
            raise ValueError(
                f"motion lengths must be in {UNIT_LENGTH}..{t} (T of the array; at least one 4-frame movement token); "
                f"rows {bad[:10].tolist()} have lengths {lengths[bad[:10]].tolist()}"
            )
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"motion features must be floating point; got dtype {x.dtype}")
        seen = np.arange(t)[None, :] < (lengths + LOOKAHEAD_FRAMES)[:, None]
        with np.errstate(over="ignore", invalid="ignore"):  # a frame's sum is finite only if all its values are
            nonfinite = ~np.isfinite(x.sum(axis=2)) & seen
        if nonfinite.any():  # (or the float32 sum overflowed): the exact test
            nonfinite = ~np.isfinite(x).all(axis=2) & seen
        bad = np.flatnonzero(nonfinite.any(axis=1))
        if bad.size:
            raise ValueError(
                f"motion features contain NaN or Inf in {bad.size} row(s): {bad[:10].tolist()}; these motions cannot "
                f"be embedded (check the generator output or the source files of these samples)"
            )

    def _chunks(self, order: np.ndarray, batch_size: int | None, progress: bool, what: str) -> Iterator[np.ndarray]:
        default = 1024 if self.device.type == "cuda" else 256
        return progress_batches(order, default if batch_size is None else batch_size, desc=f"embedding {what}",
                                enable=progress)


# --------------------------------------------------------------------------------------------- helpers
def _fold_motion_input(movement: Any, motion: Any) -> nn.GRU:
    """A GRU equal to ``motion.gru`` after ``motion.input_emb`` after ``movement.out_net`` (all linear).

    ``W_ih (W_e (W_o a + b_o) + b_e) + b_ih = (W_ih W_e W_o) a + (W_ih (W_e b_o + b_e) + b_ih)``, computed in
    float64 and stored in float32: one 3H x latent product per direction replaces three matrix products.
    """
    gru = motion.gru
    latent = movement.out_net.in_features
    fused = nn.GRU(latent, gru.hidden_size, batch_first=True, bidirectional=True)
    w_o = movement.out_net.weight.detach().double()
    b_o = movement.out_net.bias.detach().double()
    w_e = motion.input_emb.weight.detach().double()
    b_e = motion.input_emb.bias.detach().double()
    w_pre = w_e @ w_o
    b_pre = w_e @ b_o + b_e
    with torch.no_grad():
        for suffix in ("", "_reverse"):
            w_ih = getattr(gru, f"weight_ih_l0{suffix}").detach().double()
            b_ih = getattr(gru, f"bias_ih_l0{suffix}").detach().double()
            getattr(fused, f"weight_ih_l0{suffix}").copy_(w_ih @ w_pre)
            getattr(fused, f"bias_ih_l0{suffix}").copy_(w_ih @ b_pre + b_ih)
            getattr(fused, f"weight_hh_l0{suffix}").copy_(getattr(gru, f"weight_hh_l0{suffix}"))
            getattr(fused, f"bias_hh_l0{suffix}").copy_(getattr(gru, f"bias_hh_l0{suffix}"))
    return fused.to(device=gru.weight_hh_l0.device, dtype=torch.float32).eval().requires_grad_(False)


def _stats_hint(dim: int, dim_pose: int, what: str = "statistics") -> str:
    known = {HUMANML3D_DATASET.dim: "HumanML3D (t2m)", KIT_DATASET.dim: "KIT-ML (kit)"}
    if dim in known and dim != dim_pose + 4:
        return f"these {what} are {known[dim]}-sized; use the evaluator and {what} of the same dataset."
    return f"expected {dim_pose + 4}-dim {what} for this evaluator."


def _find_checkpoint(folder: Path | None, checkpoint: str | Path | None, dataset: str | None) -> tuple[Path, str | None]:
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"evaluator checkpoint not found: {path}")
        if dataset is None and path.parts[-3:-1] == ("text_mot_match", "model") and len(path.parts) >= 4:
            dataset = path.parts[-4]
        return path, dataset
    assert folder is not None
    if dataset is not None:
        candidates = [
            folder / dataset / CHECKPOINT_RELPATH,
            folder / "checkpoints" / dataset / CHECKPOINT_RELPATH,
        ]
        if folder.name == dataset:
            candidates += [folder / CHECKPOINT_RELPATH, folder / "model" / "finest.tar", folder / "finest.tar"]
        for c in candidates:
            if c.is_file():
                return c, dataset
        raise FileNotFoundError(
            f"no {dataset!r} evaluator checkpoint in {folder}; looked for: " + ", ".join(str(c) for c in candidates)
            + f". Expected the downloaded layout <folder>/{dataset}/text_mot_match/model/finest.tar "
            f"(from Python, T2MEvaluator.load(checkpoint=<path to finest.tar>) takes another place)"
        )
    found = sorted(
        {*folder.glob(f"*/{CHECKPOINT_RELPATH.as_posix()}"), *folder.glob(f"checkpoints/*/{CHECKPOINT_RELPATH.as_posix()}")}
    )
    if (folder / CHECKPOINT_RELPATH).is_file():
        found.append(folder / CHECKPOINT_RELPATH)
    if len(found) == 1:
        path = found[0]
        name = path.parts[-4]
        return path, name
    if not found:
        raise FileNotFoundError(
            f"no evaluator checkpoint found in {folder}: expected <folder>/t2m/text_mot_match/model/finest.tar "
            f"(HumanML3D) or <folder>/kit/... (KIT-ML), as downloaded with the T2M evaluators (from Python, "
            f"T2MEvaluator.load(checkpoint=<path to finest.tar>) takes another place)"
        )
    names = [p.parts[-4] for p in found]
    raise ValueError(
        f"{folder} holds several evaluators ({', '.join(map(str, found))}); choose one with dataset= one of {names}"
    )


def _read_checkpoint(path: Path, *, weights_only: bool) -> dict[str, Any]:
    size = path.stat().st_size
    try:
        raw = torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as exc:
        text = str(exc).lower()
        if weights_only and ("weights_only" in text or "weights only" in text):
            raise ValueError(
                f"{path} holds Python objects that a weights-only load refuses (the official finest.tar is a dict of "
                f"tensors, optimizer states and an int epoch, which loads safely). If you trust this file, load it with "
                f"weights_only=False (unpickling can execute code). Details: {str(exc).splitlines()[0]}"
            ) from exc
        raise ValueError(_corrupt_message(path, size, exc)) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(_corrupt_message(path, size, exc)) from exc
    if not isinstance(raw, dict):
        raise ValueError(
            f"{path} holds a {type(raw).__name__}, not a checkpoint dict with movement_encoder / text_encoder / "
            f"motion_encoder state dicts"
        )
    missing = [n for n in MODULE_NAMES if n not in raw]
    if missing:
        raise ValueError(
            f"{path} is not a T2M text_mot_match checkpoint: it lacks {missing} (it has keys {sorted(map(str, raw))}). "
            f"Use <evaluator>/t2m/text_mot_match/model/finest.tar"
        )
    return raw


def _corrupt_message(path: Path, size: int, exc: BaseException) -> str:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (
        f"could not read evaluator checkpoint {path} ({size:,} bytes): {first}. The file looks truncated or corrupted "
        f"(an interrupted download?); download it again."
    )


def _search_roots(folder: Path | None, ckpt_path: Path) -> list[Path]:
    roots: list[Path] = []
    if folder is not None:
        roots += [folder, folder.parent]
    parts = ckpt_path.resolve().parents
    if ckpt_path.parts[-3:-1] == ("text_mot_match", "model") and len(parts) > 3:
        roots += [parts[3], parts[3].parent]  # <root>/<dataset>/text_mot_match/model/finest.tar
    roots.append(ckpt_path.resolve().parent)
    unique: list[Path] = []
    for r in roots:
        if r.resolve() not in [u.resolve() for u in unique]:
            unique.append(r)
    return unique


def _find_glove(roots: list[Path]) -> Path:
    candidates = [r / "glove" for r in roots]
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError(
        "no glove folder found; looked in " + ", ".join(str(c) for c in candidates)
        + f". It must contain {list(GLOVE_FILES)} (text-to-motion's prepare/download_glove.sh); pass glove=<folder>"
    )


def _find_stats(roots: list[Path], dataset: str, mean: Any, std: Any, *,
                preferred: str | None = None) -> tuple[Path, Path]:
    """``(mean, std)`` as given, or searched below ``roots`` (:func:`motioneval.evaluators.files.find_stats`)."""
    if (mean is None) != (std is None):
        raise ValueError("pass both mean= and std= (the evaluator's statistics files), or neither to search for them")
    if mean is not None:
        return Path(mean), Path(std)
    return find_stats(roots, dataset, preferred=preferred)
