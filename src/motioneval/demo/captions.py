"""Captions of the demo clips, tagged ``word/POS`` the way HumanML3D's texts are.

Each :class:`~motioneval.demo.motions.MotionSpec` has two or three paraphrase templates with slots
(subject, possessive, speed, count, ...); every slot has a few alternatives, so a class has dozens of
distinct captions and :func:`caption_index` can map any of them back to its class.

Tagging follows HumanML3D (spaCy, universal POS tags): nouns and verbs are lemmatized (except
"left"), other words are kept as written, punctuation is dropped. The lexicon below gives each word's
tag and lemma; a template may override the tag of an ambiguous word as ``word/TAG`` (``to the
left/NOUN`` against ``his left/ADJ hand``).
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from .motions import MOTION_SPECS, MotionSpec

# surface word -> (universal POS tag, lemma)
LEXICON: dict[str, tuple[str, str]] = {}


def _add(tag: str, words: str) -> None:
    for item in words.split():
        surface, _, lemma = item.partition("=")
        LEXICON[surface] = (tag, lemma or surface)


_add("DET", "a the both his her their")
_add("PRON", "someone it them")
_add("NOUN", "person man woman figure circle chair place pace hand hands=hand arm arms=arm leg foot "
             "head way times=time jump=jump jumps=jump squat squats=squat kick kicks=kick step steps=step")
_add("VERB", "walks=walk walking=walk runs=run running=run jogs=jog jogging=jog sprints=sprint "
             "jumps=jump jumping=jump leaps=leap hops=hop turns=turn turning=turn rotates=rotate "
             "spins=spin face waves=wave waving=wave raises=raise raising=raise lifts=lift lifting=lift "
             "puts=put lowers=lower kicks=kick kicking=kick sits=sit sitting=sit stands=stand gets=get "
             "squats=squat squatting=squat does=do takes=take sidesteps=sidestep moves=move shuffles=shuffle")
_add("AUX", "is")
_add("ADP", "with to in on over above of at up down around")
_add("ADV", "forward forwards=forwards backward backwards=backwards slowly quickly fast briskly "
            "sideways clockwise counterclockwise anticlockwise once twice again back then straight "
            "steadily very")
_add("ADJ", "slow quick normal steady left right other")
_add("NUM", "two three")
_add("CCONJ", "and")
_add("PART", "not")

SUBJECTS: tuple[tuple[str, str], ...] = (
    ("a person", "his"), ("a man", "his"), ("someone", "their"), ("the person", "his"),
    ("a woman", "her"), ("a figure", "its"),
)
_add("DET", "its")

_SPEED = {
    "slow": ["slowly", "at a slow pace"],
    "normal": ["", "at a normal pace", "steadily"],
    "quick": ["quickly", "fast", "at a quick pace"],
}
_COUNT = {1: ["", "once"], 2: ["twice", "two times"], 3: ["three times"]}
_WALK_DIR = {
    "forward": ["forward", "straight forward"],
    "backward": ["backward", "backwards"],
    "clockwise": ["in a clockwise circle", "in a circle clockwise"],
    "counterclockwise": ["in a counterclockwise circle", "in a circle anticlockwise"],
}


def _templates(spec: MotionSpec) -> list[str]:
    """Paraphrase templates of a class; ``{S}`` subject, ``{P}`` possessive, ``{V}``/``{C}``/``{D}`` slots."""
    f, d, side = spec.family, spec.direction, spec.side
    if f == "walk" and d in ("left", "right"):
        return [f"{{S}} walks sideways to the {d}/NOUN {{V}}", f"{{S}} sidesteps to the {d}/NOUN {{V}}",
                f"{{S}} takes steps sideways to {{P}} {d}/NOUN {{V}}"]
    if f == "walk":
        return ["{S} walks {D} {V}", "{S} is walking {D} {V}", "{S} takes steps {D} {V}"]
    if f == "run":
        if d in ("clockwise", "counterclockwise"):
            return ["{S} runs {D}", "{S} is running {D}", "{S} jogs around {D}"]
        return {"slow": ["{S} jogs forward slowly", "{S} is jogging forward", "{S} runs forward slowly"],
                "normal": ["{S} runs forward", "{S} is running forward", "{S} runs straight forward"],
                "quick": ["{S} sprints forward", "{S} runs forward very fast", "{S} runs forward quickly"],
                }[spec.speed or "normal"]
    if f == "jump":
        if d == "up":
            return ["{S} jumps up {C}", "{S} jumps in place {C}", "{S} jumps straight up {C}"]
        return ["{S} jumps forward {C}", "{S} leaps forward {C}", "{S} hops forward {C}"]
    if f == "turn":
        if side == "around":
            return ["{S} turns around", "{S} turns around in place", "{S} spins around to face the other way"]
        return [f"{{S}} turns to the {side}/NOUN", f"{{S}} turns {side}/ADV",
                f"{{S}} rotates to {{P}} {side}/NOUN"]
    if f == "wave":
        if side == "both":
            return ["{S} waves with both hands", "{S} waves both arms", "{S} is waving both hands"]
        return [f"{{S}} waves with {{P}} {side} hand", f"{{S}} raises {{P}} {side} hand and waves",
                f"{{S}} is waving {{P}} {side} hand"]
    if f == "raise":
        if side == "both":
            return ["{S} raises both arms", "{S} lifts both arms over {P} head",
                    "{S} raises {P} arms up and puts them down"]
        return [f"{{S}} raises {{P}} {side} arm", f"{{S}} lifts {{P}} {side} arm above {{P}} head",
                f"{{S}} puts {{P}} {side} arm up and lowers it"]
    if f == "kick":
        return [f"{{S}} kicks with {{P}} {side} leg {{C}}", f"{{S}} kicks {{C}} with {{P}} {side} foot",
                f"{{S}} kicks {{P}} {side} leg forward {{C}}"]
    if f == "sit":
        if spec.count == 1:
            return ["{S} sits down", "{S} sits down on a chair", "{S} lowers down and sits"]
        return ["{S} sits down and stands up", "{S} sits down and then stands back up",
                "{S} sits on a chair and gets up again"]
    if f == "squat":
        return {1: ["{S} squats down and stands up", "{S} does a squat", "{S} squats once"],
                2: ["{S} squats twice", "{S} does two squats/NOUN", "{S} squats down two times"],
                3: ["{S} squats three times", "{S} does three squats/NOUN", "{S} squats down three times"],
                }[spec.count or 1]
    raise ValueError(f"no caption templates for motion family {f!r}")


def _fill(template: str, spec: MotionSpec, subject: tuple[str, str], speed: str, count: str,
          direction: str) -> str:
    text = template.replace("{S}", subject[0]).replace("{P}", subject[1])
    text = text.replace("{V}", speed).replace("{C}", count).replace("{D}", direction)
    return " ".join(text.split()) + "."


def _slot_options(spec: MotionSpec) -> tuple[list[str], list[str], list[str]]:
    speeds = _SPEED[spec.speed] if spec.family == "walk" and spec.speed else [""]
    counts = _COUNT[spec.count] if spec.family in ("jump", "kick") and spec.count else [""]
    if spec.family in ("walk", "run") and spec.direction in _WALK_DIR:
        dirs = _WALK_DIR[spec.direction]
    else:
        dirs = [""]
    return speeds, counts, dirs


def all_captions(spec: MotionSpec) -> list[str]:
    """Every caption (with ``/TAG`` overrides) the grammar can produce for ``spec``."""
    speeds, counts, dirs = _slot_options(spec)
    caps = (_fill(t, spec, s, v, c, d) for t in _templates(spec)
            for s, v, c, d in itertools.product(SUBJECTS, speeds, counts, dirs))
    return list(dict.fromkeys(caps))  # templates without a slot repeat the same caption


def sample_captions(spec: MotionSpec, rng: np.random.Generator, n: int = 3) -> list[str]:
    """``n`` captions of ``spec`` (templates without repetition while there are enough), tags included."""
    templates = _templates(spec)
    order = rng.permutation(len(templates))
    speeds, counts, dirs = _slot_options(spec)
    out = []
    for i in range(n):
        t = templates[order[i % len(templates)]]
        out.append(_fill(t, spec, SUBJECTS[rng.integers(len(SUBJECTS))], speeds[rng.integers(len(speeds))],
                         counts[rng.integers(len(counts))], dirs[rng.integers(len(dirs))]))
    return out


def tag(caption: str) -> tuple[str, list[str]]:
    """``(plain caption, ["word/POS", ...])`` from a caption with optional ``word/TAG`` overrides.

    Nouns and verbs become lemmas (except "left"); the final period is dropped from the tokens.
    """
    plain, tokens = [], []
    for raw in caption.split():
        word, _, override = raw.rstrip(".").partition("/")
        end = "." if raw.endswith(".") else ""
        key = word.lower()
        if key not in LEXICON:
            raise ValueError(f"demo caption {caption!r}: word {word!r} is missing from the demo LEXICON")
        pos, lemma = LEXICON[key]
        pos = override or pos
        if pos in ("NOUN", "VERB") and key != "left":
            key = lemma
        plain.append(word + end)
        tokens.append(f"{key}/{pos}")
    return " ".join(plain), tokens


def caption_line(caption: str, start: float = 0.0, end: float = 0.0) -> str:
    """One line of ``texts/<id>.txt``: ``caption#word/POS ...#from#to``."""
    plain, tokens = tag(caption)
    return f"{plain}#{' '.join(tokens)}#{start:.1f}#{end:.1f}"


@lru_cache(maxsize=1)
def caption_index() -> dict[str, MotionSpec]:
    """Plain caption (lower case, as in the dataset's texts) -> its class, over the whole grammar."""
    index: dict[str, MotionSpec] = {}
    for spec in MOTION_SPECS:
        for cap in all_captions(spec):
            plain = tag(cap)[0].lower()
            other = index.setdefault(plain, spec)
            if other != spec:  # the grammar must be unambiguous
                raise RuntimeError(f"demo caption {plain!r} is produced by both {other.key} and {spec.key}")
    return index


def spec_of_caption(caption: str) -> MotionSpec:
    """The class a demo caption describes; ``ValueError`` for a caption outside the demo grammar."""
    key = " ".join(caption.strip().lower().split())
    if not key.endswith("."):
        key += "."
    try:
        return caption_index()[key]
    except KeyError:
        raise ValueError(
            f"caption {caption!r} is not one of the demo dataset's captions; the demo generators only know "
            f"the bundled procedural grammar (motioneval.demo.captions)"
        ) from None


def vocabulary() -> list[str]:
    """Every token word the grammar produces, sorted (the demo evaluator's vocabulary, without sos/eos/unk)."""
    words: set[str] = set()
    for spec in MOTION_SPECS:
        for cap in all_captions(spec):
            words.update(tok.rsplit("/", 1)[0] for tok in tag(cap)[1])
    return sorted(words)
