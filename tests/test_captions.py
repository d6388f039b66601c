"""Caption lines ``caption#word/POS ...#from#to``: parsing, NaN times, frame ranges, precise errors."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motioneval.data.captions import (
    MAX_TOKENS,
    Caption,
    CaptionFormatError,
    parse_caption_line,
    parse_captions,
    read_captions,
)

EXAMPLE = ("a man kicks something with his left leg.#a/DET man/NOUN kick/VERB something/PRON with/ADP his/DET "
           "left/ADJ leg/NOUN#0.0#0.0")


def test_example_line_from_the_spec():
    c = parse_caption_line(EXAMPLE)
    assert c.text == "a man kicks something with his left leg."
    assert c.tokens == ("a/DET", "man/NOUN", "kick/VERB", "something/PRON", "with/ADP", "his/DET", "left/ADJ",
                        "leg/NOUN")
    assert (c.start, c.end) == (0.0, 0.0) and c.is_whole


def test_nan_times_count_as_zero():
    assert parse_caption_line("walk.#walk/VERB#nan#nan").is_whole
    c = parse_caption_line("walk.#walk/VERB#NaN#2.5")
    assert (c.start, c.end) == (0.0, 2.5) and not c.is_whole
    assert c.frame_range(20) == (0, 50)


def test_frame_range_truncates_like_the_reference():
    # int(x * fps) truncates the float product: 2.32 * 12.5 is 28.999999999999996 in binary64 -> 28, not 29
    c = parse_caption_line("x.#x/NOUN#2.32#4.56")
    assert c.frame_range(12.5) == (28, 56)
    assert c.frame_range(12.5) == (int(2.32 * 12.5), int(4.56 * 12.5))
    assert parse_caption_line("x.#x/NOUN#1.26#3.049").frame_range(20) == (25, 60)


def test_tokens_split_on_single_spaces_and_extra_fields_warn():
    captions, issues = parse_captions(["a b.#a/DET b/NOUN#0#0#extra"])
    assert captions[0].tokens == ("a/DET", "b/NOUN")
    assert [i.severity for i in issues] == ["warning"] and "first four" in issues[0].message


@pytest.mark.parametrize("line, fragment", [
    ("just a caption", "found 1 '#'"),
    ("a.#a/DET#0.0", "found 3 '#'"),
    ("a.#a/DET#zero#1.0", "from time 'zero' is not a number"),
    ("a.#a/DET#0.0#-1.0", "to time '-1.0' must be a finite number"),
    ("a.#a/DET#inf#1.0", "from time 'inf' must be a finite"),
    ("a.#a/DET man#0#0", "token 2 'man' is not 'word/POS'"),
    ("a.#a/DET  man/NOUN#0#0", "token 2 '' is not 'word/POS'"),
    ("a.#a/b/DET#0#0", "token 1 'a/b/DET'"),
])
def test_malformed_lines_name_file_and_line(tmp_path, line, fragment):
    path = tmp_path / "000123.txt"
    path.write_text(f"{EXAMPLE}\n{EXAMPLE}\n{line}\n", encoding="utf-8")
    with pytest.raises(CaptionFormatError) as info:
        read_captions(path)
    message = str(info.value)
    assert str(path) in message and "line 3" in message and fragment in message


def test_bad_token_past_the_read_tokens_is_only_a_warning():
    tokens = " ".join(f"w{i}/NOUN" for i in range(MAX_TOKENS)) + " oops"
    captions, issues = parse_captions([f"long.#{tokens}#0#0"])
    assert len(captions) == 1 and len(captions[0].tokens) == MAX_TOKENS + 1
    assert [i.severity for i in issues] == ["warning"] and "past the tokens" in issues[0].message


def test_blank_lines_are_skipped_with_a_warning(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text(f"{EXAMPLE}\n\n{EXAMPLE}\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="line 2: blank line"):
        captions = read_captions(path)
    assert [c.line for c in captions] == [1, 3]


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    assert read_captions(tmp_path / "empty.txt") == []
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_captions(tmp_path / "nope.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(CaptionFormatError, match="bin.txt: not UTF-8"):
        read_captions(tmp_path / "bin.txt")


def test_parse_caption_line_error_names_source():
    with pytest.raises(CaptionFormatError, match=r"texts/9\.txt, line 7: found 2"):
        parse_caption_line("a#b", source="texts/9.txt", line_no=7)


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz'-", min_size=1, max_size=8)
_pos = st.sampled_from(["NOUN", "VERB", "ADP", "DET", "ADJ", "OTHER"])
_time = st.one_of(st.just(float("nan")), st.floats(0, 30, allow_nan=False).map(lambda x: round(x, 3)))


@settings(max_examples=60, deadline=None)
@given(words=st.lists(st.tuples(_word, _pos), min_size=1, max_size=25), start=_time, end=_time,
       text=st.text(alphabet="abc ,.!?'xyz", min_size=1, max_size=40))
def test_formatted_lines_parse_back(words, start, end, text):
    text = text.strip() or "a"
    tokens = tuple(f"{w}/{p}" for w, p in words)
    line = f"{text}#{' '.join(tokens)}#{start}#{end}"
    c = parse_caption_line(line)
    s = 0.0 if math.isnan(start) else start
    e = 0.0 if math.isnan(end) else end
    assert c == Caption(text=text, tokens=tokens, start=s, end=e, line=0)
    assert c.is_whole == (s == 0 and e == 0)
    assert c.frame_range(20) == (int(s * 20), int(e * 20))
