"""Every subcommand's --help reads as plain text: no reST markup, and every option says what it does."""
from __future__ import annotations

import argparse
import re

import pytest

from motioneval.cli.main import build_parser


def _subparsers():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices.items())


@pytest.mark.parametrize("name,parser", _subparsers(), ids=[n for n, _ in _subparsers()])
def test_help_is_plain_text_and_complete(name, parser):
    text = parser.format_help()
    assert "``" not in text and not re.search(r":(class|func|meth|attr|mod):", text), text
    missing = [a.option_strings[0] for a in parser._actions
               if a.option_strings and a.help in (None, "") and not isinstance(a, argparse._HelpAction)]
    assert not missing, f"motioneval {name}: options without help: {missing}"
