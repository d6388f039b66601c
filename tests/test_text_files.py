"""Text files a user points motioneval at (results, split lists, checksums, logs, configs) that are not UTF-8 --
a binary file given by mistake, a legacy encoding -- give one error naming the file, the line and byte and
what the file should be; never a bare UnicodeDecodeError."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from motioneval._io import read_json, read_text
from motioneval.diagnostics.evaluator_files import read_checksums
from motioneval.metrics.tmr_retrieval import read_split
from motioneval.protocol.results import Result
from motioneval.viz.plots import read_monitor_log

NOT_UTF8 = b"000001\n000002\n\x93NUMPY\x01\x00binary\n"  # an .npy header on line 3


@pytest.mark.parametrize("reader, name, expected", [
    (Result.load, "results.json", "a results.json written by motioneval"),
    (read_split, "nsim_test.txt", "a split list with one id per line"),
    (read_checksums, "checksums.txt", "a checksums file"),
    (read_monitor_log, "metrics.jsonl", "a monitoring log"),
])
def test_a_file_that_is_not_utf8_is_named_with_line_byte_and_what_it_should_be(tmp_path, reader, name, expected):
    path = tmp_path / name
    path.write_bytes(NOT_UTF8)
    with pytest.raises(ValueError) as info:
        reader(path)
    message = str(info.value)
    assert str(path) in message and "not UTF-8 text at line 3 (byte 0x93)" in message and expected in message


def test_read_text_and_read_json(tmp_path):
    good = tmp_path / "a.json"
    good.write_text(json.dumps({"ü": 1}), encoding="utf-8")
    assert read_text(good, expected="x") == '{"\\u00fc": 1}' and read_json(good, expected="x") == {"ü": 1}
    broken = tmp_path / "b.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"b\.json is not valid JSON .*expected a config"):
        read_json(broken, expected="a config")


def test_compare_cli_names_a_binary_file_given_as_results(tmp_path):
    path = tmp_path / "gen.npy"
    path.write_bytes(NOT_UTF8)
    out = subprocess.run([sys.executable, "-m", "motioneval", "compare", str(path)], capture_output=True, text=True)
    assert out.returncode == 1
    assert f"motioneval compare: error: {path}: not UTF-8 text at line 3 (byte 0x93); expected a results.json" in out.stderr
