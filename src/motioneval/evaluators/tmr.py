"""``TMREvaluator``: TMR's text and motion encoders (Petrovich et al., ICCV 2023), loaded as TMR ships them.

Layout (a TMR run folder, e.g. ``models/tmr_humanml3d_guoh3dfeats`` from ``prepare/download_pretrain_models.sh``)::

    <run>/config.json                       hydra config, resolved (model.*_encoder sizes, data.* settings)
    <run>/last_weights/motion_encoder.pt    plain state dict (``torch.save``); ``.safetensors`` also accepted
    <run>/last_weights/text_encoder.pt
    <run>/last_weights/motion_decoder.pt    (not needed for embeddings; not read)

The motion statistics are *not* in the run folder: TMR reads them from its repository,
``stats/<dataset>/guoh3dfeats/{mean,std}.pt`` (``config.json``: ``data.motion_loader.normalizer.base_dir``,
relative to the TMR checkout). They are searched relative to the run folder, its parent and grand-parent
(``<TMR>/models/<run>``), inside the run folder (``<run>/stats/``, ``<run>/{mean,std}.pt``), or given with
``stats=<folder>``. ``.npy`` files with the same stems are accepted too.

Motion preprocessing (TMR's ``AMASSMotionLoader`` + ``Normalizer`` + ``collate_x_dict``): HumanML3D "Guo"
features, all 263 dims, at 20 fps (TMR recomputes them from AMASS; for clips under 10 s they equal the released
``new_joint_vecs``), normalized as ``(x - mean) / (std + 1e-12)`` with TMR's own statistics (computed on its
training split; not the dataset's ``Mean.npy``/``Std.npy`` nor the T2M evaluator's). No length cap, no
cropping to 196 frames and no frame rounding: a motion of ``L`` frames is read entirely (``L >= 1``; at most
``5000 - nbtokens`` frames, TMR's positional table), padded frames are masked out as attention keys, so padding
does not change an embedding. Test clips are cut at ``int(start * 20) : int(end * 20)`` from the annotation's
seconds (not needed when features are already per clip).

Text (TMR's ``TextToEmb`` with ``distilbert-base-uncased``): the raw caption string is tokenized by the
DistilBERT tokenizer (``[CLS] ... [SEP]``, lower-cased), the frozen model's ``last_hidden_state`` of all
tokens (including ``[CLS]``/``[SEP]``; length = attention-mask sum) is the text encoder's input. The text model
is loaded from a local ``transformers`` folder; a hub name is used only with ``allow_download=True``.

The embedding of both encoders is output 0 of the transformer (``mu``), as in TMR's ``encode(sample_mean=True)``.
Similarities are cosines (:mod:`motioneval.metrics.tmr_retrieval`).
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

from .. import _npio
from .._arrays import as_lengths, to_numpy
from .._io import read_json, sha256_file
from .._progress import progress_batches
from ..representation.normalization import FeatureStats
from .tmr_modules import (
    MAX_POSITIONS,
    MODULE_NAMES,
    NORMALIZER_EPS,
    ACTOREncoder,
    TMREncoderConfig,
    build_encoder,
    lengths_to_mask,
)

logger = logging.getLogger(__name__)

#: TMR's text model (``data.text_to_token_emb.modelname``).
DEFAULT_TEXT_MODEL = "distilbert-base-uncased"
#: TMR's sentence-embedding model for the threshold protocol (``data.text_to_sent_emb.modelname``).
SENTENCE_MODEL = "sentence-transformers/all-mpnet-base-v2"
_WEIGHT_EXTS = (".safetensors", ".pt")


def default_device() -> torch.device:
    """``cuda`` when available, else ``cpu`` (as :class:`~motioneval.evaluators.t2m.T2MEvaluator`)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class TMREvaluator:
    """TMR's motion and text encoders with the statistics and text model they were trained with.

    Attributes: ``motion_encoder`` / ``text_encoder`` (:class:`ACTOREncoder`), ``stats`` (:class:`FeatureStats`
    with ``std + 1e-12``: ``stats.normalize`` is TMR's ``Normalizer``), ``tokenizer`` / ``text_model``
    (``transformers``; ``None`` when only motions are embedded), ``config`` (the run's ``config.json`` or
    ``{}``), ``provenance`` (``{path: sha256}`` of every file read), ``device``, ``dataset``.
    """

    kind = "tmr"

    def __init__(
        self,
        motion_encoder: ACTOREncoder,
        text_encoder: ACTOREncoder,
        stats: FeatureStats,
        tokenizer: Any = None,
        text_model: Any = None,
        *,
        config: dict[str, Any] | None = None,
        dataset: str = "custom",
        device: str | torch.device | None = None,
        provenance: dict[str, str] | None = None,
    ) -> None:
        if stats.dim != motion_encoder.config.nfeats:
            raise ValueError(f"statistics {stats.name!r} have {stats.dim} dims but the motion encoder reads "
                             f"{motion_encoder.config.nfeats}")
        if motion_encoder.config.latent_dim != text_encoder.config.latent_dim:
            raise ValueError(f"motion and text encoders have different latent sizes "
                             f"({motion_encoder.config.latent_dim} vs {text_encoder.config.latent_dim})")
        if text_model is not None:
            hidden = int(getattr(text_model.config, "hidden_size", getattr(text_model.config, "dim", -1)))
            if hidden != text_encoder.config.nfeats:
                raise ValueError(f"the text model outputs {hidden}-d token features but the text encoder reads "
                                 f"{text_encoder.config.nfeats} (projection.weight); use the text model TMR was "
                                 f"trained with ({DEFAULT_TEXT_MODEL})")
        self.motion_encoder = motion_encoder
        self.text_encoder = text_encoder
        self.stats = stats
        self.tokenizer = tokenizer
        self.text_model = text_model
        self.config = dict(config or {})
        self.dataset = dataset
        self.provenance: dict[str, str] = dict(provenance or {})
        self.device = torch.device(device) if device is not None else default_device()
        for m in (self.motion_encoder, self.text_encoder, self.text_model):
            if m is not None:
                m.to(device=self.device, dtype=torch.float32).eval()
                m.requires_grad_(False)

    # ------------------------------------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        folder: str | Path,
        device: str | torch.device | None = None,
        text_model: str | Path | None = None,
        *,
        stats: str | Path | None = None,
        ckpt: str = "last",
        allow_download: bool = False,
        load_text_model: bool = True,
    ) -> TMREvaluator:
        """Load a TMR run folder (``config.json`` + ``<ckpt>_weights/{motion,text}_encoder.pt``).

        ``text_model``: a local ``transformers`` folder of the text model (DistilBERT); by default a folder named
        as the config's ``modelname`` next to the run, then the local Hugging Face cache (no network). A hub name
        is downloaded only with ``allow_download=True``. ``stats``: folder of ``mean``/``std`` (``.pt`` or
        ``.npy``). ``load_text_model=False`` skips the text model (motions only).
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"TMR folder {folder} does not exist or is not a folder")
        provenance: dict[str, str] = {}
        config_path = folder / "config.json"
        config: dict[str, Any] = {}
        if config_path.is_file():
            config = read_json(config_path, expected="TMR's run config (config.json of a TMR model folder)")
            provenance[str(config_path.resolve())] = sha256_file(config_path)
        else:
            raise FileNotFoundError(
                f"{folder} has no config.json; a TMR run folder (e.g. models/tmr_humanml3d_guoh3dfeats) holds "
                f"config.json and {ckpt}_weights/{{motion_encoder,text_encoder}}.pt"
            )
        model_conf = config.get("model")
        if not isinstance(model_conf, dict):
            raise ValueError(f"{config_path}: no 'model' section (expected TMR's resolved hydra config)")
        weights_dir = folder / f"{ckpt}_weights"
        if not weights_dir.is_dir():
            hint = (" (TMR's logs/checkpoints/*.ckpt must first be split with its extract.py)"
                    if (folder / "logs" / "checkpoints").is_dir() else "")
            raise FileNotFoundError(f"{weights_dir} not found{hint}; expected {ckpt}_weights/motion_encoder.pt and "
                                    f"text_encoder.pt")
        encoders: dict[str, ACTOREncoder] = {}
        for name in MODULE_NAMES:
            block = model_conf.get(name)
            if not isinstance(block, dict):
                raise ValueError(f"{config_path}: missing model.{name}")
            enc_conf = TMREncoderConfig.from_tmr(block, source=f"{config_path} model.{name}")
            path = _find_weights(weights_dir, name)
            sd = _read_state_dict(path)
            encoders[name] = build_encoder(enc_conf, sd, source=str(path))
            provenance[str(path.resolve())] = sha256_file(path)
        nfeats = encoders["motion_encoder"].config.nfeats
        mean_path, std_path = _find_stats(folder, config, stats)
        ev_stats = _load_stats(mean_path, std_path, nfeats, config)
        provenance.update({str(Path(p).resolve()): d for p, d in ev_stats.sources.items()})
        tokenizer = model = None
        if load_text_model:
            tokenizer, model, files = load_text_model_folder(
                text_model, folder=folder, config=config, allow_download=allow_download)
            provenance.update(files)
        dataset = _dataset_name(config)
        logger.info("loaded TMR evaluator %s from %s", dataset, folder)
        return cls(encoders["motion_encoder"], encoders["text_encoder"], ev_stats, tokenizer, model, config=config,
                   dataset=dataset, device=device, provenance=provenance)

    # ------------------------------------------------------------------------------------------- properties
    @property
    def dim_features(self) -> int:
        """Feature dims of the motions (263)."""
        return self.motion_encoder.config.nfeats

    @property
    def dim_embedding(self) -> int:
        return self.motion_encoder.config.latent_dim

    @property
    def max_frames(self) -> int:
        """Longest motion TMR can read (its positional table minus the learned tokens)."""
        return MAX_POSITIONS - self.motion_encoder.config.nbtokens

    def to(self, device: str | torch.device) -> TMREvaluator:
        self.device = torch.device(device)
        for m in (self.motion_encoder, self.text_encoder, self.text_model):
            if m is not None:
                m.to(self.device)
        return self

    def __repr__(self) -> str:
        return (f"TMREvaluator(dataset={self.dataset!r}, features={self.dim_features}, "
                f"embedding={self.dim_embedding}, device={str(self.device)!r})")

    # ------------------------------------------------------------------------------------------- motion
    def normalize(self, raw_features: Any) -> np.ndarray:
        """TMR's ``Normalizer`` in float32: ``(x - mean) / (std + 1e-12)`` (``stats`` already hold ``std + eps``)."""
        x = np.asarray(to_numpy(raw_features), dtype=np.float32)
        return ((x - self.stats.mean.astype(np.float32)) / self.stats.std.astype(np.float32)).astype(np.float32)

    def embed_raw_motion(self, raw_features: Any, lengths: Any, **kwargs: Any) -> np.ndarray:
        """:meth:`embed_motion` of un-normalized HumanML3D features (as ``new_joint_vecs``)."""
        return self.embed_motion(self.normalize(raw_features), lengths, **kwargs)

    @torch.inference_mode()
    def embed_motion(
        self, features: Any, lengths: Any, *, batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        """Motion embeddings ``(N, latent)`` float32 of TMR-normalized features ``(N, T, 263)``.

        Row ``i`` uses frames ``0 .. lengths[i]-1`` (frames past it have no effect). Rows are sorted by length
        and cut into batches, each cropped to its longest motion; results return in the caller's order.
        """
        x = to_numpy(features)
        lens = as_lengths(lengths, "motion lengths")
        self._check_motion(x, lens)
        n = x.shape[0]
        out = np.empty((n, self.dim_embedding), np.float32)
        order = np.argsort(-lens, kind="stable")
        for idx in self._chunks(order, batch_size, progress, "motion"):
            t = int(lens[idx[0]])
            chunk = torch.from_numpy(np.ascontiguousarray(x[idx, :t], dtype=np.float32)).to(self.device)
            mask = lengths_to_mask(lens[idx], t, self.device)
            chunk = chunk.masked_fill(~mask[:, :, None], 0.0)  # a NaN past a length would leak through 0 weights
            out[idx] = self.motion_encoder.embed(chunk, mask).float().cpu().numpy()
        return out

    def _check_motion(self, x: np.ndarray, lens: np.ndarray) -> None:
        if x.ndim != 3:
            raise ValueError(f"motion features must be (N, T, D); got shape {x.shape}"
                             + (" (joints? convert them to features first)" if x.ndim == 4 else ""))
        n, t, d = x.shape
        if d != self.dim_features:
            raise ValueError(f"motion features have {d} dims; TMR reads all {self.dim_features} HumanML3D feature "
                             f"dims (foot contacts included; KIT-ML's 251-d features are not TMR's input: TMR's "
                             f"KIT model reads HumanML3D-style features recomputed from AMASS)")
        if len(lens) != n:
            raise ValueError(f"got {n} motions but {len(lens)} lengths")
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"motion features must be floating point; got dtype {x.dtype}")
        bad = np.flatnonzero((lens < 1) | (lens > t) | (lens > self.max_frames))
        if bad.size:
            raise ValueError(f"motion lengths must be in 1..{min(t, self.max_frames)} (T of the array; TMR's limit "
                             f"{self.max_frames}); rows {bad[:10].tolist()} have lengths {lens[bad[:10]].tolist()}")
        seen = np.arange(t)[None, :] < lens[:, None]
        bad = np.flatnonzero((~np.isfinite(x).all(axis=2) & seen).any(axis=1))
        if bad.size:
            raise ValueError(f"motion features contain NaN or Inf within the length in {bad.size} row(s): "
                             f"{bad[:10].tolist()}; these motions cannot be embedded")

    # ------------------------------------------------------------------------------------------- text
    @torch.inference_mode()
    def text_token_features(self, captions: Sequence[str]) -> tuple[list[np.ndarray], np.ndarray]:
        """DistilBERT ``last_hidden_state`` per caption (``(n_tokens, 768)`` each) and token counts, as TMR's
        ``TextToEmb`` (``[CLS]``/``[SEP]`` included). Captions are run one batch at a time, sorted by length."""
        texts = _check_captions(captions)
        if self.tokenizer is None or self.text_model is None:
            raise ValueError("this TMREvaluator has no text model; load it with text_model=<local DistilBERT folder>")
        enc = self.tokenizer(texts, add_special_tokens=True)
        ids = enc["input_ids"]
        counts = np.array([len(i) for i in ids], dtype=np.int64)
        limit = int(getattr(self.text_model.config, "max_position_embeddings", 512))
        over = np.flatnonzero(counts > limit)
        if over.size:
            raise ValueError(f"captions {over[:10].tolist()} have more than {limit} tokens ({counts[over[:10]].tolist()}),"
                             f" the text model's limit")
        feats: list[np.ndarray] = [np.empty(0)] * len(texts)
        order = np.argsort(-counts, kind="stable")
        pad_id = self.tokenizer.pad_token_id or 0
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            s = int(counts[idx[0]])
            input_ids = torch.full((len(idx), s), pad_id, dtype=torch.int64)
            attn = torch.zeros((len(idx), s), dtype=torch.int64)
            for r, i in enumerate(idx):
                input_ids[r, : counts[i]] = torch.tensor(ids[i])
                attn[r, : counts[i]] = 1
            hidden = self.text_model(input_ids=input_ids.to(self.device),
                                     attention_mask=attn.to(self.device)).last_hidden_state.float().cpu().numpy()
            for r, i in enumerate(idx):
                feats[i] = hidden[r, : counts[i]]
        return feats, counts

    def embed_text(self, captions: Sequence[str], *, batch_size: int | None = None,
                   progress: bool = False) -> np.ndarray:
        """Text embeddings ``(N, latent)`` float32 of free-text captions (strings, as TMR takes them)."""
        feats, counts = self.text_token_features(captions)
        return self.embed_token_features(feats, counts, batch_size=batch_size, progress=progress)

    @torch.inference_mode()
    def embed_token_features(self, features: Sequence[np.ndarray] | np.ndarray, lengths: Any, *,
                             batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Text embeddings from precomputed token features (a list of ``(n_i, 768)`` or a padded ``(N, S, 768)``
        array with ``lengths``), e.g. TMR's ``token_embeddings/distilbert-base-uncased.npy`` slices."""
        lens = as_lengths(lengths, "token counts")
        n = len(lens)
        if len(features) != n:
            raise ValueError(f"got {len(features)} token-feature rows but {n} lengths")
        nfeats = self.text_encoder.config.nfeats
        for i in range(n):
            f = features[i]
            if f.ndim != 2 or f.shape[1] != nfeats or not 1 <= lens[i] <= f.shape[0]:
                raise ValueError(f"token features row {i}: shape {tuple(f.shape)} with length {int(lens[i])}; "
                                 f"expected (>= length, {nfeats}) and length >= 1")
        out = np.empty((n, self.dim_embedding), np.float32)
        order = np.argsort(-lens, kind="stable")
        for idx in self._chunks(order, batch_size, progress, "text"):
            s = int(lens[idx[0]])
            chunk = np.zeros((len(idx), s, nfeats), np.float32)
            for r, i in enumerate(idx):
                chunk[r, : lens[i]] = features[i][: lens[i]]
            mask = lengths_to_mask(lens[idx], s, self.device)
            out[idx] = self.text_encoder.embed(torch.from_numpy(chunk).to(self.device), mask).float().cpu().numpy()
        return out

    def embed_pairs(self, captions: Sequence[str], features: Any, lengths: Any, **kwargs: Any
                    ) -> tuple[np.ndarray, np.ndarray]:
        """``(text_embeddings, motion_embeddings)`` of paired rows (TMR-normalized features)."""
        if len(captions) != len(to_numpy(lengths)):
            raise ValueError(f"embed_pairs needs as many captions as motions; got {len(captions)} and "
                             f"{len(to_numpy(lengths))}")
        return self.embed_text(captions, **kwargs), self.embed_motion(features, lengths, **kwargs)

    def _chunks(self, order: np.ndarray, batch_size: int | None, progress: bool, what: str) -> Iterator[np.ndarray]:
        default = 256 if self.device.type == "cuda" else 64
        return progress_batches(order, default if batch_size is None else batch_size, desc=f"embedding {what}",
                                enable=progress)


# --------------------------------------------------------------------------------------------- helpers
def _check_captions(captions: Sequence[Any]) -> list[str]:
    texts = list(captions)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"TMR reads free-text captions (strings); row {i} is a {type(t).__name__}. Pass the "
                            f"original caption text, not 'word/POS' tokens (joining tokens loses punctuation and "
                            f"changes the embedding)")
        if not t.strip():
            raise ValueError(f"caption {i} is empty")
    return texts


def _dataset_name(config: dict[str, Any]) -> str:
    base = str(((config.get("data") or {}).get("motion_loader") or {}).get("normalizer", {}).get("base_dir", ""))
    parts = Path(base).parts
    return parts[-2] if len(parts) >= 2 else "custom"


def _find_weights(weights_dir: Path, name: str) -> Path:
    for ext in _WEIGHT_EXTS:
        p = weights_dir / f"{name}{ext}"
        if p.is_file():
            return p
    raise FileNotFoundError(f"{weights_dir} has no {name}.pt (or {name}.safetensors); found "
                            f"{sorted(q.name for q in weights_dir.iterdir())}")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A plain state dict, without executing pickle code: safetensors, or ``torch.load(weights_only=True)``."""
    size = path.stat().st_size
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            sd = load_file(str(path), device="cpu")
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path} holds Python objects beyond tensors, which a weights-only load refuses; TMR's "
                         f"extracted weights are plain state dicts. Details: {str(exc).splitlines()[0]}") from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"could not read {path} ({size:,} bytes): {first}. The file looks truncated or corrupted; "
                         f"download or extract it again") from exc
    if not isinstance(sd, dict):
        raise ValueError(f"{path} holds a {type(sd).__name__}, not a state dict of tensors")
    if "state_dict" in sd and isinstance(sd["state_dict"], dict):
        raise ValueError(f"{path} is a Lightning checkpoint, not one extracted module; run TMR's extract.py")
    return sd


def _find_stats(folder: Path, config: dict[str, Any], stats: str | Path | None) -> tuple[Path, Path]:
    if stats is not None:
        candidates = [Path(stats)]
    else:
        base = ((config.get("data") or {}).get("motion_loader") or {}).get("normalizer", {}).get("base_dir")
        roots = [folder, folder.parent, folder.parent.parent]
        candidates = [r / base for r in roots] if base else []
        candidates += [folder / "stats", folder]
    tried = []
    for c in candidates:
        for ext in (".pt", ".npy"):
            m, s = c / f"mean{ext}", c / f"std{ext}"
            tried.append(str(m))
            if m.is_file() and s.is_file():
                return m, s
    raise FileNotFoundError(
        "TMR's motion statistics (mean.pt/std.pt) were not found; looked for " + ", ".join(tried)
        + ". They live in the TMR repository under stats/<dataset>/guoh3dfeats/ (not in the downloaded model "
        "folder); pass stats=<that folder>. They are TMR's own statistics, not the dataset's Mean.npy/Std.npy."
    )


def _load_stats(mean_path: Path, std_path: Path, nfeats: int, config: dict[str, Any]) -> FeatureStats:
    arrays = []
    for p in (mean_path, std_path):
        try:
            if p.suffix == ".pt":
                t = torch.load(p, map_location="cpu", weights_only=True)
                if not isinstance(t, torch.Tensor):
                    raise ValueError(f"holds a {type(t).__name__}, expected one tensor")
                a = t.detach().to(torch.float32).numpy()
            else:
                a = _npio.load(p, allow_pickle=False).astype(np.float32)
        except Exception as exc:
            raise ValueError(f"could not read TMR statistics {p}: {exc}") from exc
        if a.shape != (nfeats,):
            raise ValueError(f"TMR statistics {p} have shape {a.shape}; the motion encoder reads {nfeats} dims")
        arrays.append(a)
    eps = float(((config.get("data") or {}).get("motion_loader") or {}).get("normalizer", {}).get("eps", NORMALIZER_EPS))
    std = (arrays[1] + np.float32(eps)).astype(np.float32)  # float32 addition, as TMR's torch Normalizer
    return FeatureStats(mean=arrays[0], std=std, name="TMR motion statistics",
                        sources={str(mean_path): sha256_file(mean_path), str(std_path): sha256_file(std_path)})


def load_text_model_folder(text_model: str | Path | None, *, folder: Path | None = None,
                           config: dict[str, Any] | None = None, allow_download: bool = False
                           ) -> tuple[Any, Any, dict[str, str]]:
    """``(tokenizer, model, provenance)`` of TMR's text model from a local folder (never the network unless
    ``allow_download`` and a hub name). Weights load from safetensors or weights-only."""
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise ImportError("TMR's text side needs `transformers`: pip install 'motioneval[tmr]'") from exc
    name = str(((config or {}).get("data") or {}).get("text_to_token_emb", {}).get("modelname", DEFAULT_TEXT_MODEL))
    local: Path | None = None
    if text_model is not None and Path(text_model).is_dir():
        local = Path(text_model)
    elif text_model is None and folder is not None:
        for root in (folder, folder.parent, folder.parent.parent):
            if (root / name).is_dir():
                local = root / name
                break
    if local is not None:
        if not (local / "config.json").is_file():
            raise FileNotFoundError(f"text model folder {local} has no config.json (a transformers model folder, "
                                    f"e.g. saved with save_pretrained)")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        tok = AutoTokenizer.from_pretrained(str(local), local_files_only=True)
        model = AutoModel.from_pretrained(str(local), local_files_only=True)
        files = {str(p.resolve()): sha256_file(p) for p in sorted(local.iterdir()) if p.is_file()}
        return tok, model.eval(), files
    hub = str(text_model) if text_model is not None else name
    if text_model is not None and (Path(hub).is_absolute() or hub.startswith(".")):
        raise FileNotFoundError(f"text model folder {text_model} does not exist")
    try:  # the local Hugging Face cache: no network
        tok = AutoTokenizer.from_pretrained(hub, local_files_only=not allow_download)
        model = AutoModel.from_pretrained(hub, local_files_only=not allow_download)
    except OSError as exc:
        raise FileNotFoundError(
            f"TMR's text model {hub!r} is not available locally: pass text_model=<folder> of a transformers model "
            f"(save_pretrained of {DEFAULT_TEXT_MODEL}), or allow_download=True to fetch {hub!r} from the hub"
        ) from exc
    return tok, model.eval(), {f"hf:{hub}": getattr(model.config, "_commit_hash", None) or "unknown"}
