"""The demo evaluator's files: vocabulary, word vectors, statistics and the small network configuration.

The demo evaluator has the official T2M architecture in a small configuration (:data:`DEMO_T2M_SIZES`,
about 0.8 M parameters, 3 MB), trained on the demo dataset's train split by
``scripts/build_demo_assets.py`` with :func:`motioneval.evaluators.training.train_evaluator`. It ships in
the official layout under ``motioneval/assets/demo``::

    t2m/text_mot_match/model/finest.tar
    glove/our_vab_data.npy  our_vab_words.pkl  our_vab_idx.pkl
    t2m_mean.npy  t2m_std.npy
    BUILD.json     how it was built (command, configuration, training log, test-split retrieval)

Word vectors: GloVe is not available offline, so every word of the demo grammar gets a fixed random
300-d vector (``N(0, 0.4^2)`` per dimension, about GloVe's scale), and words of one synonym group share a
common direction (``sqrt(0.8)`` shared + ``sqrt(0.2)`` own), so that, as with GloVe, "man" is near
"person" and "quickly" near "fast". The evaluator statistics are the dataset's with the root and
foot-contact std divided by 25, as the official evaluator's relate to HumanML3D's (``protocol.md``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .captions import vocabulary

#: Network sizes of the demo evaluator (fields of ``motioneval.evaluators.t2m_modules.T2MConfig``).
DEMO_T2M_SIZES: dict[str, int] = {
    "dim_pose": 259,
    "dim_movement_enc_hidden": 128,
    "dim_movement_latent": 128,
    "dim_word": 300,
    "dim_pos_ohot": 15,
    "dim_text_hidden": 128,
    "dim_motion_hidden": 128,
    "dim_coemb_hidden": 128,
}
WORD_DIM = DEMO_T2M_SIZES["dim_word"]
SPECIAL_WORDS = ("sos", "eos", "unk")

#: Words that share a direction in the demo word-vector space.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("person", "man", "woman", "someone", "figure"),
    ("his", "her", "their", "its"),
    ("forward", "forwards", "straight"),
    ("backward", "backwards", "back"),
    ("counterclockwise", "anticlockwise"),
    ("quickly", "fast", "quick", "very"),
    ("slowly", "slow"),
    ("normal", "steadily"),
    ("walk", "step", "take", "sidestep"),
    ("run", "jog", "sprint"),
    ("jump", "leap", "hop"),
    ("raise", "lift", "put"),
    ("turn", "rotate", "spin"),
    ("twice", "two"),
    ("hand", "arm"),
    ("leg", "foot"),
)


def demo_words() -> list[str]:
    """``sos``, ``eos``, ``unk`` (rows 0-2, as in the official vocabulary), then the grammar's words, sorted."""
    return list(SPECIAL_WORDS) + [w for w in vocabulary() if w not in SPECIAL_WORDS]


def demo_word_vectors(words: list[str], *, dim: int = WORD_DIM, scale: float = 0.4) -> np.ndarray:
    """Fixed random word vectors ``(len(words), dim)`` float32: a word's vector depends only on the word (and
    its synonym group), not on the vocabulary order."""
    group_of = {w: g for g in SYNONYMS for w in g}

    def gaussian(key: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(f"motioneval-demo:{key}".encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(dim)

    rows = []
    for w in words:
        own = gaussian(w)
        if w in group_of:
            own = np.sqrt(0.8) * gaussian("group:" + ",".join(group_of[w])) + np.sqrt(0.2) * own
        rows.append(scale * own)
    return np.asarray(rows, dtype=np.float32)


def write_vocabulary(folder: str | os.PathLike) -> Path:
    """Write ``glove/``-style files (``our_vab_data.npy``, ``our_vab_words.pkl``, ``our_vab_idx.pkl``) to ``folder``."""
    from ..evaluators.word_vectorizer import WordVectorizer

    words = demo_words()
    return WordVectorizer.from_arrays(words, demo_word_vectors(words)).save(folder)


def demo_tmr_run_dir() -> Path:
    """The shipped small TMR-architecture demo evaluator, a TMR run folder for ``TMREvaluator.load``
    (``assets/demo/tmr/models/tmr_demo``; statistics and text model resolve from its checkout-style layout;
    rebuilt by ``scripts/build_demo_tmr_assets.py``)."""
    from importlib import resources

    return Path(str(resources.files("motioneval") / "assets" / "demo" / "tmr" / "models" / "tmr_demo"))
