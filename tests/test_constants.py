"""``motioneval.constants`` is the one home of the protocol's numbers (issue 14).

The library is read with :mod:`tokenize`: only ``NUMBER`` tokens count, so docstrings, comments and strings
that *describe* 196 frames or 263-d features are fine; a literal ``196``/``263``/``251`` in code outside
``constants.py`` is a second copy of a protocol fact and fails the test.
"""
from __future__ import annotations

import ast
import importlib
import io
import tokenize
from pathlib import Path

import pytest

import motioneval
from motioneval import constants

PACKAGE = Path(motioneval.__file__).resolve().parent
#: max frames, HumanML3D feature dims, KIT-ML feature dims
FACTS = {constants.MAX_MOTION_FRAMES, constants.HUMANML3D_DATASET.dim, constants.KIT_DATASET.dim}

#: (file relative to the package, number of stray literals) still allowed, each with why: none left.
ALLOWED: dict[str, tuple[int, str]] = {}


def stray_literals(source: str) -> list[tuple[int, str]]:
    """``(line, token)`` of every numeric literal in ``source`` whose value is one of :data:`FACTS`."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.NUMBER:
            continue
        value = ast.literal_eval(tok.string)
        if not isinstance(value, complex) and value in FACTS:
            out.append((tok.start[0], tok.string))
    return out


def _library_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "constants.py" or p.parent != PACKAGE)


def test_the_checker_reads_code_not_prose():
    src = ('"""pads to 196 frames; 263-d"""\n# 251 in a comment\nx = "196"\n'
           'MAX = 196\ny = f(263.0)\nz = 0x0fb  # 251\nw = 1960 + 19.6\n')
    assert stray_literals(src) == [(4, "196"), (5, "263.0"), (6, "0x0fb")]


def test_protocol_numbers_are_written_only_in_constants():
    found: dict[str, list[tuple[int, str]]] = {}
    for path in _library_files():
        hits = stray_literals(path.read_text(encoding="utf-8"))
        if hits:
            found[path.relative_to(PACKAGE).as_posix()] = hits
    new = {f: hits for f, hits in found.items() if f not in ALLOWED or len(hits) > ALLOWED[f][0]}
    assert not new, ("protocol numbers written outside motioneval/constants.py (import them from there):\n"
                     + "\n".join(f"{f}:{line}: {tok}" for f, hits in new.items() for line, tok in hits))
    stale = sorted(f for f, (n, _) in ALLOWED.items() if len(found.get(f, [])) < n)
    assert not stale, f"fewer stray literals than allowed in {stale}; lower or remove their ALLOWED entries"


@pytest.mark.parametrize("name, expected", [
    ("motioneval.data.dataset", ("DatasetSpec", "HUMANML3D_DATASET", "KIT_DATASET", "get_dataset_spec")),
    ("motioneval.evaluators.t2m_modules", ("UNIT_LENGTH", "LOOKAHEAD_FRAMES")),
    ("motioneval.evaluators.word_vectorizer", ("SOS", "EOS", "UNK")),
])
def test_old_homes_re_export_the_same_objects(name, expected):
    if name.endswith("t2m_modules"):
        pytest.importorskip("torch")
    module = importlib.import_module(name)
    for attr in expected:
        assert getattr(module, attr) is getattr(constants, attr), f"{name}.{attr}"


def test_old_constant_names_keep_their_values():
    from motioneval.data.captions import MAX_TOKENS
    from motioneval.data.dataset import HUMANML3D_DATASET, KIT_DATASET

    assert MAX_TOKENS == 20
    assert (HUMANML3D_DATASET.dim, HUMANML3D_DATASET.num_joints, HUMANML3D_DATASET.fps) == (263, 22, 20.0)
    assert (KIT_DATASET.dim, KIT_DATASET.num_joints, KIT_DATASET.fps) == (251, 21, 12.5)
    assert (HUMANML3D_DATASET.min_length, KIT_DATASET.min_length, KIT_DATASET.max_length) == (40, 24, 200)


def test_caption_tokens_is_the_padding_rule():
    from motioneval.evaluators.word_vectorizer import caption_tokens

    toks = [f"w{i}/NOUN" for i in range(25)]
    padded, n = caption_tokens(toks)
    assert n == 22 and len(padded) == 22 and padded[0] == "sos/OTHER" and padded[-1] == "eos/OTHER"
    assert padded[1:21] == toks[:20]
    padded, n = caption_tokens(["a/DET"], 3)
    assert (padded, n) == (["sos/OTHER", "a/DET", "eos/OTHER", "unk/OTHER", "unk/OTHER"], 3)


def test_viz_labels_come_from_the_catalog():
    from motioneval.viz import plots, report

    assert list(report._LABELS) == list(constants.METRICS)
    assert report._LABELS["fid"] == "FID ↓" and report._LABELS["diversity"] == "Diversity →"
    assert plots._label("multimodality") == "MultiModality (higher is better)"
    assert plots._label("not_a_metric") == "not_a_metric"


def test_skeletons_and_layouts_agree_with_the_dataset_specs():
    from motioneval.representation.layout import HUMANML3D_LAYOUT, KIT_LAYOUT
    from motioneval.representation.skeleton import HUMANML3D, KIT, skeleton_for_joints

    for skel, layout, spec in ((HUMANML3D, HUMANML3D_LAYOUT, constants.HUMANML3D_DATASET),
                               (KIT, KIT_LAYOUT, constants.KIT_DATASET)):
        assert (skel.num_joints, skel.feature_dim, skel.fps) == (spec.num_joints, spec.dim, spec.fps)
        assert layout.dim == spec.dim and 12 * spec.num_joints - 1 == spec.dim
        assert skeleton_for_joints(spec.num_joints) is skel
        assert constants.dataset_spec_for_dim(spec.dim) is spec
        assert constants.dataset_spec_for_joints(spec.num_joints) is spec
    for bad in (20, 23):  # never a silent default
        with pytest.raises(ValueError, match=f"no known skeleton has {bad} joints"):
            skeleton_for_joints(bad)
        with pytest.raises(ValueError, match="name the kind explicitly|matches no known"):
            constants.dataset_spec_for_dim(12 * bad - 1)
