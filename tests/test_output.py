"""cli/_output.py: header, phases, grouped warnings, --verbose / --quiet / --json, Python warnings shown once."""
from __future__ import annotations

import argparse
import io
import json
import logging
import time
import warnings

import pytest

from motioneval._messages import MAX_WARNING_LINES, group_warnings, warning_lines
from motioneval._progress import Phase, phase
from motioneval.cli._output import Output, add_output_options, mode_from_args

COMPLEX = ("FID ({row}): the reference's matrix square root came back complex (imaginary parts up to {imag}) "
           "and it kept the real part")
SIDE = "FID ({row}): side {side}: 320 samples for 128-d features: the covariance estimate is noisy"
ROWS = ["ground truth", "noisy", "jittery", "mode-collapsed", "caption-ignoring"]


def _run_like_messages() -> list[str]:
    """What a demo run used to print: per-row, per-replication repeats differing in numbers and labels."""
    out = []
    for r, row in enumerate(ROWS):
        out += [SIDE.format(row=row, side=s) for s in (1, 2)]
        out += [COMPLEX.format(row=row, imag=f"{(r + 1) * (k + 1)}.5e-09") for k in range(4)]
    return out


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _output(mode: str = "normal", **kw) -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Output("evaluate", mode, stdout=out, stderr=err, **kw), out, err


# -- grouping ---------------------------------------------------------------------------------------------
def test_repeats_that_differ_in_numbers_and_labels_are_one_line_with_count_and_ranges():
    messages = _run_like_messages()
    lines = warning_lines(messages)
    assert len(lines) == 2
    side, cplx = lines
    assert side.startswith("warning: FID (ground truth, noisy, jittery, +2 more): side 1..2: 320 samples")
    assert side.endswith(f"({2 * len(ROWS)} times)")
    # numbers compared as numbers, not strings: 1.5e-09 .. 20.5e-09 (5 rows x replication 4)
    assert "imaginary parts up to 1.5e-09..20.5e-09" in cplx
    assert cplx.endswith(f"({4 * len(ROWS)} times)")


def test_a_lone_message_is_printed_as_is_and_identical_messages_count_once():
    groups = group_warnings(["only 3 of 10 rows", "only 3 of 10 rows"])
    assert [g.count for g in groups] == [1]
    assert groups[0].summary() == "only 3 of 10 rows"


def test_numbers_inside_words_and_dotted_names_are_text():
    # t2m, sha256 and motioneval.fid_infinity are not numbers: messages that differ there are different kinds
    a = "preset t2m uses sha256 keys (see motioneval.fid_infinity)"
    b = "preset t3m uses sha256 keys (see motioneval.fid_infinity)"
    assert len(group_warnings([a, b])) == 2
    # while a plain count differing is the same kind
    assert len(group_warnings(["3 clips skipped in train", "12 clips skipped in train"])) == 1


def test_more_kinds_than_fit_leave_a_last_line_pointing_to_verbose():
    kinds = [f"kind {chr(97 + k)} happened" for k in range(9)]  # nine distinct templates (letters, not numbers)
    messages = kinds + [f"replication {i}: low count" for i in range(1, 21)]
    lines = warning_lines(messages)
    assert len(lines) == MAX_WARNING_LINES
    assert lines[:4] == [f"warning: {k}" for k in kinds[:4]]
    # 5 more letter kinds + the 20 replication messages (one kind)
    assert lines[-1] == "warning: 25 more (6 kinds): rerun with --verbose to see every warning"


def test_exactly_the_limit_needs_no_summary_line():
    messages = [f"kind {chr(97 + k)}" for k in range(MAX_WARNING_LINES)]
    assert warning_lines(messages) == [f"warning: {m}" for m in messages]


def test_multiline_messages_stay_on_one_line():
    assert warning_lines(["first line\n  second line"]) == ["warning: first line second line"]


# -- modes ------------------------------------------------------------------------------------------------
def test_default_run_prints_header_table_and_at_most_five_warning_lines():
    output, out, err = _output()
    with output as o:
        o.header("preset t2m", [("samples", "results.npy (3 repetitions)"), ("device", "cpu"), ("cache", None)])
        for message in _run_like_messages() + [f"kind {chr(97 + k)}" for k in range(8)]:
            o.warn(message)
        o.table("| model | FID |")
    assert out.getvalue() == "| model | FID |\n"
    text = err.getvalue()
    assert text.startswith("motioneval evaluate: preset t2m\n  samples  results.npy (3 repetitions)\n"
                           "  device   cpu\n")
    assert "cache" not in text  # items without a value are left out
    warning_rows = [line for line in text.splitlines() if line.startswith("warning:")]
    assert len(warning_rows) == 5
    assert "rerun with --verbose" in warning_rows[-1]


def test_verbose_lists_every_warning_and_quiet_prints_the_table_only():
    messages = _run_like_messages()
    output, out, err = _output("verbose")
    with output as o:
        o.header("preset t2m", [("device", "cpu")])
        for m in messages:
            o.warn(m)
        o.table("TABLE")
    assert [line[len("warning: "):] for line in err.getvalue().splitlines() if line.startswith("warning:")] \
        == messages

    output, out, err = _output("quiet")
    with output as o:
        o.header("preset t2m", [("device", "cpu")])
        o.note("building the dataset")
        for m in messages:
            o.warn(m)
        with o.phase("embedding", total=3) as p:
            p.advance(3)
        for _ in o.progress(range(3), desc="units"):
            pass
        o.table("TABLE")
        o.info("wrote results.json")
    assert out.getvalue() == "TABLE\n"
    assert err.getvalue() == ""


def test_json_prints_one_object_and_nothing_else_on_stdout():
    output, out, err = _output("json")
    with output as o:
        o.header("preset t2m", [("device", "cpu")])
        print("a stray print from some library")  # goes to stderr, not into the JSON
        warnings.warn("the evaluator is old", UserWarning, stacklevel=1)
        o.warn("the evaluator is old")
        o.warn("replication 1: short")
        o.table("TABLE")
        o.info("wrote x")
        o.set(result={"rows": [{"FID": 0.5}]}, files=["out/results.json"])
    payload = json.loads(out.getvalue())  # the whole of stdout is one JSON document
    assert out.getvalue().count("\n") == 1
    assert payload["result"] == {"rows": [{"FID": 0.5}]}
    assert payload["files"] == ["out/results.json"]
    assert payload["warnings"] == ["the evaluator is old", "replication 1: short"]
    assert "a stray print" in err.getvalue()
    assert "warning" not in err.getvalue()


def test_json_after_an_error_prints_nothing_on_stdout():
    output, out, err = _output("json")
    with pytest.raises(RuntimeError), output as o:
        o.warn("something")
        raise RuntimeError("boom")
    assert out.getvalue() == ""


def test_warnings_so_far_are_printed_when_the_run_fails():
    output, out, err = _output()
    with pytest.raises(ValueError), output as o:
        o.warn("3 clips have NaN frames")
        raise ValueError("bad")
    assert err.getvalue() == "warning: 3 clips have NaN frames\n"


def test_notes_already_under_the_table_are_not_repeated():
    class FakeResult:
        settings = {"table_notes": ["MultiModality uses 10 repetitions, not 30"]}
        warnings = ["MultiModality uses 10 repetitions, not 30", "the cache was rebuilt"]

        def to_markdown(self):
            return "TABLE\n\nnote: MultiModality uses 10 repetitions, not 30"

        def to_json(self):
            return json.dumps({"warnings": self.warnings})

    output, out, err = _output()
    with output as o:
        o.report_result(FakeResult())
    assert out.getvalue().count("MultiModality uses") == 1
    assert err.getvalue() == "warning: the cache was rebuilt\n"

    output, out, err = _output("json")
    with output as o:
        o.report_result(FakeResult())
    payload = json.loads(out.getvalue())
    assert payload["result"]["warnings"] == FakeResult.warnings
    assert payload["warnings"] == FakeResult.warnings  # JSON keeps every warning


# -- Python warnings and logging --------------------------------------------------------------------------
@pytest.fixture
def cli_logging():
    """The logging set-up of cli/main.py: a root handler and logging.captureWarnings(True)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield stream
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)


def test_a_python_warning_the_run_also_reports_is_printed_once(cli_logging):
    message = "preset asks for 1000 generated samples per replication; only 320 available"
    before = warnings.showwarning  # logging.captureWarnings' hook
    output, out, err = _output()
    with output as o:
        warnings.warn(message, UserWarning, stacklevel=1)  # as Evaluation._warn does
        o.warn(message)  # and the run's Result.warnings
        o.table("TABLE")
    assert cli_logging.getvalue() == ""  # not through logging.captureWarnings with a source line
    assert err.getvalue() == f"warning: {message}\n"
    # after the run the usual routing (logging.captureWarnings' hook) is back
    assert warnings.showwarning is before


def test_verbose_names_the_source_of_a_python_warning(cli_logging):
    output, out, err = _output("verbose")
    with output:
        warnings.warn("deprecated option", DeprecationWarning, stacklevel=1)
    line = err.getvalue().strip()
    assert line.startswith("warning: deprecated option  [DeprecationWarning at ")
    assert "test_output.py:" in line


def test_log_warnings_are_collected_other_levels_pass(cli_logging):
    logger = logging.getLogger("motioneval.protocol.cache")
    logger.setLevel(logging.INFO)
    output, out, err = _output()
    with output:
        for unit in range(7):
            logger.warning("cache entry unit-%d.npz is corrupt; recomputing it", unit)
        logger.error("a real error")
        logger.info("an info line")
    logged = cli_logging.getvalue()
    assert "corrupt" not in logged
    assert "ERROR motioneval.protocol.cache: a real error" in logged
    assert "INFO motioneval.protocol.cache: an info line" in logged
    assert err.getvalue() == "warning: cache entry unit-0..6.npz is corrupt; recomputing it (7 times)\n"
    logger.setLevel(logging.NOTSET)


def test_log_records_of_captured_python_warnings_keep_only_the_message(cli_logging):
    # if something re-routes warnings through logging inside the run, the "file:line: Category:" prefix goes
    output, out, err = _output()
    with output:
        logging.getLogger("py.warnings").warning("/x/y.py:12: UserWarning: low sample count\n  warnings.warn(m)\n")
    assert err.getvalue() == "warning: low sample count\n"


# -- phases -----------------------------------------------------------------------------------------------
def test_phase_on_a_terminal_redraws_and_leaves_a_done_line(monkeypatch):
    monkeypatch.setattr("motioneval._progress.QUIET_SECONDS", 0.0)
    stream = _Tty()
    bar = Phase("embedding", total=10, unit="clip", stream=stream, interval=0.01)
    bar.start()
    for _ in range(5):
        bar.advance(2)
        time.sleep(0.02)
    bar.close()
    text = stream.getvalue()
    assert "\rembedding: " in text and "/10" in text and "clip/s]" in text  # live redraws with rate, ETA
    assert text.endswith("embedding: done (10/10 clip, " + text.rsplit("clip, ", 1)[1])
    assert text.endswith("\033[K\n")


def test_phase_text_has_the_eta_of_the_rate_so_far():
    bar = Phase("features", total=100, unit="clip")
    bar.advance(25)
    assert bar.text(elapsed=10.0) == "features: 25/100  25% [10 s<30 s, 2.50 clip/s]"
    unknown = Phase("loading the evaluator")
    assert unknown.text(elapsed=47.0) == "loading the evaluator: 47 s"
    assert unknown.text(elapsed=125.0) == "loading the evaluator: 2:05 min"


def test_short_phase_leaves_nothing_and_a_pipe_gets_only_the_final_line(monkeypatch):
    stream = _Tty()
    bar = Phase("quick", stream=stream, interval=10)
    bar.start()
    bar.close()
    assert stream.getvalue() == ""
    monkeypatch.setattr("motioneval._progress.QUIET_SECONDS", 0.0)
    pipe = io.StringIO()  # not a terminal: no redraws
    bar = Phase("slow", stream=pipe, interval=0.001)
    bar.start()
    time.sleep(0.01)
    bar.close()
    assert pipe.getvalue().startswith("slow: done (") and pipe.getvalue().count("\n") == 1
    assert "\r" not in pipe.getvalue()


def test_no_progress_silences_phases_and_bars():
    err = io.StringIO()
    args = argparse.Namespace(no_progress=True, quiet=False, json=False, all_warnings=False, verbose=0)
    output = Output.from_args("demo", args, stderr=err, stdout=io.StringIO())
    assert output.mode == "normal" and not output.show_progress
    with output as o, o.phase("building", total=2) as p:
        p.advance(2)
    assert err.getvalue() == ""


# -- options ----------------------------------------------------------------------------------------------
def test_options_parse_and_do_not_clobber_the_global_verbose_count():
    from motioneval.cli.main import build_parser

    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command")
    add_output_options(sub.add_parser("run"))
    assert mode_from_args(parser.parse_args(["run"])) == "normal"
    assert mode_from_args(parser.parse_args(["run", "--verbose"])) == "verbose"
    assert parser.parse_args(["run", "--verbose"]).verbose == 0
    assert mode_from_args(parser.parse_args(["-v", "run"])) == "verbose"
    assert mode_from_args(parser.parse_args(["run", "--quiet"])) == "quiet"
    assert mode_from_args(parser.parse_args(["run", "--json"])) == "json"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--quiet", "--json"])
    own = argparse.ArgumentParser()
    own.add_argument("--json", action="store_true")
    add_output_options(own, json_option=False)  # a command with its own --json keeps it
    assert mode_from_args(own.parse_args(["--json"])) == "json"
    assert build_parser() is not None  # the real CLI still builds with the module importable


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="output mode 'loud'"):
        Output("x", "loud")


def test_library_phase_is_silent_unless_enabled(monkeypatch):
    monkeypatch.setattr("motioneval._progress.QUIET_SECONDS", 0.0)
    stream = io.StringIO()
    with phase("reading", total=4, enable=False, stream=stream) as p:
        p.advance(4)
    assert stream.getvalue() == "" and p.n == 4
    with phase("reading", total=4, enable=True, stream=stream) as p:
        p.advance(4)
    assert stream.getvalue().startswith("reading: done (4/4 it, ")


def test_the_header_waits_for_the_first_output_so_an_immediate_error_stays_short(monkeypatch):
    output, out, err = _output()
    with pytest.raises(FileNotFoundError), output as o:
        o.header("preset t2m", [("dataset", "nope/")])
        with o.phase("reading the dataset"):
            raise FileNotFoundError("dataset folder not found: nope/")
    assert err.getvalue() == ""  # neither the header nor a "done" line for the failed phase

    monkeypatch.setattr("motioneval._progress.QUIET_SECONDS", 0.0)
    output, out, err = _output()
    with output as o:
        o.header("preset t2m", [("dataset", "d/")])
        assert err.getvalue() == ""
        with o.phase("reading the dataset"):
            pass
        o.table("TABLE")
    assert err.getvalue().startswith("motioneval evaluate: preset t2m\n  dataset  d/\nreading the dataset: done (")


def test_lines_learnt_later_join_the_header_while_it_is_not_shown():
    output, out, err = _output()
    with output as o:
        o.header("preset t2m", [("dataset", "d/")])
        o.add_to_header("plan", "3 replications")
        o.table("TABLE")
        o.add_to_header("late", "x")  # the header is out: a note
    assert err.getvalue() == "motioneval evaluate: preset t2m\n  dataset  d/\n  plan     3 replications\n  late     x\n"


def test_show_header_prints_it_before_library_bars_only_when_progress_is_on():
    output, out, err = _output()
    with output as o:
        o.header("preset t2m", [("dataset", "d/")])
        o.show_header()
        assert err.getvalue() == "motioneval evaluate: preset t2m\n  dataset  d/\n"
    output, out, err = _output(progress=False)
    with pytest.raises(RuntimeError), output as o:
        o.header("preset t2m", [("dataset", "d/")])
        o.show_header()
        raise RuntimeError("the generator failed")
    assert err.getvalue() == ""
