"""Fuzz suite (issue 12): crafted files and property-based inputs for the readers, the cache and every CLI
subcommand. Each case asserts the error class, that the message names the culprit (file, sample id, caption
line or option), that no traceback reaches the CLI user, and that no number changes silently."""
from __future__ import annotations

import errno
import io
import json
import math
import os
import re
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motioneval.cli.main import main
from motioneval.data.captions import (
    MAX_SECONDS,
    CaptionFormatError,
    parse_captions,
    read_captions,
)
from motioneval.data.dataset import (
    MAX_ABS_FEATURE,
    DatasetError,
    MotionDataset,
    check_dataset,
)
from motioneval.data.samples import (
    SampleSet,
    SampleSetError,
    load_samples,
    read_sample_folder,
)
from motioneval.protocol.cache import Cache, content_key

WHOLE = "a person walks.#a/DET person/NOUN walk/VERB#0.0#0.0\n"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_cli(argv, capsys):
    """Run the CLI in-process; return (status, stdout, stderr) and check the one error style."""
    status = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    if status not in (0, 141) and err:
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")]
        assert lines and lines[0].startswith("motioneval"), err
    return status, out, err


def make_dataset(root, n=3, dim=263):
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    ids = [f"{i:06d}" for i in range(1, n + 1)]
    for k, cid in enumerate(ids):
        np.save(root / "new_joint_vecs" / f"{cid}.npy", np.full((60 + k, dim), 0.5, np.float32))
        (root / "texts" / f"{cid}.txt").write_text(WHOLE)
    (root / "test.txt").write_text("\n".join(ids) + "\n")
    np.save(root / "Mean.npy", np.zeros(dim, np.float32))
    np.save(root / "Std.npy", np.ones(dim, np.float32))
    return root


# ------------------------------------------------------------------------------------------- captions
@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_caption_parser_never_crashes_and_keeps_times_usable(text):
    captions, issues = parse_captions(text)
    for c in captions:
        assert 0.0 <= c.start <= MAX_SECONDS and 0.0 <= c.end <= MAX_SECONDS
        c.frame_range(20.0)  # never OverflowError
        assert all(t.count("/") == 1 for t in c.tokens[:20])
    assert all(i.line >= 1 for i in issues)


@FUZZ
@given(st.floats(allow_nan=False) | st.sampled_from(["1e308", "inf", "-1", "nan", "0x10", "1e400", "", " "]))
def test_caption_times(value):
    line = f"a person walks.#a/DET person/NOUN#{value}#{value}"
    captions, issues = parse_captions(line)
    errors = [i for i in issues if i.severity == "error"]
    assert bool(captions) != bool(errors)
    if captions:
        assert captions[0].frame_range(12.5) == (int(captions[0].start * 12.5), int(captions[0].end * 12.5))


@pytest.mark.parametrize("line, culprit", [
    ("a#a/DET#1e308#1e308", "1e308"),
    ("a#a/DET#0#1e6", "1e6"),
    ("a#walk#0#0", "walk"),
    ("a#a/b/c#0#0", "a/b/c"),
    ("a#a/DET#x#0", "'x'"),
])
def test_bad_caption_lines_are_named_by_line(tmp_path, line, culprit):
    path = tmp_path / "c.txt"
    path.write_text(WHOLE + line + "\n")
    with pytest.raises(CaptionFormatError, match=f"c.txt, line 2: .*{culprit}"):
        read_captions(path)


def test_non_utf8_caption_file_names_the_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(WHOLE.encode() + b"caf\xe9#caf\xe9/NOUN#0#0\n")
    with pytest.raises(CaptionFormatError, match=r"c.txt: not UTF-8 text at line 2 \(byte 0xe9\)"):
        read_captions(path)


# ------------------------------------------------------------------------------------------- datasets
def _break(root, case):
    """Apply one crafted fault; return (text the report must contain, clip id or None)."""
    if case == "time_overflow":
        (root / "texts" / "000002.txt").write_text(WHOLE + "x#a/DET#1e308#1e308\n")
        return "000002: texts/000002.txt, line 2", "000002"
    if case == "bad_token":
        (root / "texts" / "000002.txt").write_text("a person walks.#a/DET person walk/VERB#0#0\n")
        return "000002: texts/000002.txt, line 1: token 2 'person'", "000002"
    if case == "non_utf8":
        (root / "texts" / "000003.txt").write_bytes(b"\xff\xfe" + WHOLE.encode("utf-16-le"))
        return "000003: texts/000003.txt: not UTF-8 text at line 1", "000003"
    if case == "absurd":
        x = np.full((61, 263), 0.5, np.float32)
        x[7, 3] = 1e38
        np.save(root / "new_joint_vecs" / "000002.npy", x)
        return "000002: ground-truth clip new_joint_vecs/000002.npy has finite but absurd values", "000002"
    if case == "complex":
        np.save(root / "new_joint_vecs" / "000002.npy", np.full((61, 263), 0.5 + 1j, np.complex64))
        return "000002: new_joint_vecs/000002.npy has shape (61, 263) dtype complex64", "000002"
    if case == "kit_stats":
        np.save(root / "Mean.npy", np.zeros(251, np.float32))
        np.save(root / "Std.npy", np.ones(251, np.float32))
        return "Mean.npy has 251 dims (kit statistics?)", None
    if case == "absurd_stats":
        std = np.ones(263, np.float32)
        std[4] = 1e30
        np.save(root / "Std.npy", std)
        return "Std.npy: values beyond", None
    raise AssertionError(case)


CASES = ["time_overflow", "bad_token", "non_utf8", "absurd", "complex", "kit_stats", "absurd_stats"]


@pytest.mark.parametrize("case", CASES)
def test_check_dataset_names_each_fault(tmp_path, capsys, case):
    root = make_dataset(tmp_path / "HumanML3D")
    expected, clip = _break(root, case)
    report = check_dataset(root)
    assert not report.ok and report.kind == "humanml3d"
    assert any(expected in p.message for p in report.errors), [p.message for p in report.errors]
    if clip:
        assert clip in report.bad_ids
    status, out, _ = run_cli(["check-dataset", str(root)], capsys)
    assert status == 1 and expected in out
    # the reader refuses before any long work, with the same words
    with pytest.raises(DatasetError, match=re.escape(expected.split(":")[0])):
        MotionDataset(root)


def test_absurd_ground_truth_is_not_blamed_on_the_generator(tmp_path):
    root = make_dataset(tmp_path / "HumanML3D")
    _break(root, "absurd")
    report = check_dataset(root)
    message = next(p.message for p in report.errors if p.kind == "absurd_values")
    assert "ground-truth" in message and "generator" not in message
    assert 1e38 > MAX_ABS_FEATURE


@pytest.mark.parametrize("case", ["split_dir", "split_txt_dir", "split_non_utf8", "split_traversal", "root_file"])
def test_split_faults(tmp_path, capsys, case):
    root = make_dataset(tmp_path / "HumanML3D")
    target, split = str(root), "test"
    if case == "split_dir":
        split = str(tmp_path)
        expected = "is a folder"
    elif case == "split_txt_dir":
        (root / "test.txt").unlink()
        (root / "test.txt").mkdir()
        expected = "test.txt is a folder"
    elif case == "split_non_utf8":
        (root / "test.txt").write_bytes(b"000001\n00\xff0002\n")
        expected = "test.txt, line 2: not UTF-8"
    elif case == "split_traversal":
        (root / "test.txt").write_text("000001\n../../etc/passwd\n")
        expected = "test.txt, line 2: '../../etc/passwd' is not a clip id"
    else:
        target = str(tmp_path / "file")
        (tmp_path / "file").write_text("x")
        expected = "is a file, not a folder"
    with pytest.raises((OSError, ValueError), match=expected.replace("(", r"\(")):
        check_dataset(target, split)
    status, _, err = run_cli(["check-dataset", target, "--split", split], capsys)
    assert status == 1 and expected in err and len(err.strip().splitlines()) <= 2


# -------------------------------------------------------------------------------------------- samples
def _folder(tmp_path, files):
    folder = tmp_path / "samples"
    folder.mkdir()
    rows = []
    for i, name in enumerate(files):
        rows.append({"id": f"s{i}", "caption": "a person walks", "file": name})
    (folder / "manifest.json").write_text(json.dumps({"normalization": "raw", "samples": rows}))
    return folder


@pytest.mark.parametrize("name", ["../outside.npy", "/etc/passwd", "sub/../../outside.npy", "link.npy"])
def test_manifest_cannot_reach_outside_its_folder(tmp_path, capsys, name):
    np.save(tmp_path / "outside.npy", np.zeros((30, 263), np.float32))
    folder = _folder(tmp_path, [name])
    (folder / "sub").mkdir()
    os.symlink(tmp_path / "outside.npy", folder / "link.npy")
    with pytest.raises(SampleSetError, match=f"sample 's0'.*{name!r}.*outside the sample folder"):
        read_sample_folder(folder)
    status, _, err = run_cli(["convert", str(folder), str(tmp_path / "o.npz")], capsys)
    assert status == 1 and "outside the sample folder" in err and "--allow-outside-files" in err
    if name != "/etc/passwd":  # the explicit option reads it
        assert read_sample_folder(folder, allow_outside=True).num_rows == 1
        status, _, _ = run_cli(["convert", str(folder), str(tmp_path / "o.npz"), "--allow-outside-files"], capsys)
        assert status == 0


def test_symlink_inside_the_folder_is_fine(tmp_path):
    folder = _folder(tmp_path, ["link.npy"])
    np.save(folder / "real.npy", np.zeros((30, 263), np.float32))
    os.symlink(folder / "real.npy", folder / "link.npy")
    assert read_sample_folder(folder).num_rows == 1


@FUZZ
@given(st.text(min_size=1, max_size=30))
def test_manifest_file_names_fuzz(tmp_path_factory, name):
    folder = _folder(tmp_path_factory.mktemp("m"), [name])
    try:
        read_sample_folder(folder)
    except (SampleSetError, FileNotFoundError) as exc:
        assert "sample 's0'" in str(exc) or "manifest" in str(exc)
    else:  # only a file inside the folder can have been read (none exists but the manifest)
        raise AssertionError(f"read a sample from {name!r}")


@pytest.mark.parametrize("content, expected", [
    (None, "an empty file (0 bytes)"),
    (b"not numpy at all", "not a NumPy .npy file"),
    ("plain", "holds a plain float32 array of shape (4, 30, 263)"),
])
def test_odd_npy_passed_as_samples(tmp_path, capsys, content, expected):
    path = tmp_path / "results.npy"
    if content == "plain":
        np.save(path, np.zeros((4, 30, 263), np.float32))
    else:
        path.write_bytes(content or b"")
    with pytest.raises(SampleSetError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_samples(path)
    status, _, err = run_cli(["convert", str(path), str(tmp_path / "o.npz")], capsys)
    assert status == 1 and expected in err and "is a pickled Python dict" not in err


@FUZZ
@given(st.lists(st.text(max_size=8), min_size=1, max_size=25))
def test_sample_tokens_must_be_word_pos(tokens):
    kw = {"motions": np.zeros((1, 10, 263), np.float32), "lengths": [10], "captions": ["x"], "ids": ["clip7"],
          "normalization": "raw"}
    if all(t.count("/") == 1 for t in tokens[:20]):
        assert SampleSet(tokens=[tokens], **kw).tokens == [tokens]
    else:
        with pytest.raises(SampleSetError, match="sample 'clip7'.*is not 'word/POS'"):
            SampleSet(tokens=[tokens], **kw)


@FUZZ
@given(st.binary(max_size=400))
def test_sample_file_bytes_fuzz(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b") / "s.npz"
    path.write_bytes(data)
    with pytest.raises((SampleSetError, ValueError)) as info:
        SampleSet.load(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------- cache
@FUZZ
@given(st.data())
def test_cache_never_returns_changed_numbers(tmp_path_factory, data):
    """Flip, truncate or overwrite bytes of an entry: load returns the exact arrays or None, never others."""
    cache = Cache(tmp_path_factory.mktemp("c"))
    parts = {"n": 1}
    key = content_key(parts)
    arrays = {"motion": np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6), "lengths": np.arange(4)}
    path = cache.save("embeddings", key, parts, **arrays)
    raw = bytearray(path.read_bytes())
    action = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    if action == "flip":
        for pos in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=4)):
            raw[pos] ^= data.draw(st.integers(1, 255))
    elif action == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
    path.write_bytes(bytes(raw))
    got = cache.load("embeddings", key)
    if got is not None:
        assert set(got) == set(arrays)
        for k, v in arrays.items():
            assert got[k].dtype == v.dtype
            np.testing.assert_array_equal(got[k], v)
    else:
        assert not path.exists() and str(path) in cache.problems[-1]


# ------------------------------------------------------------------------------------------------ CLI
class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_closed_pipe_is_quiet(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    status = main(["presets", "--json"])
    monkeypatch.undo()
    _, err = capsys.readouterr()
    assert status == 141 and err == ""


def _raise(exc):
    def fn(*args, **kwargs):
        raise exc
    return fn


@pytest.mark.parametrize("exc, expected", [
    (MemoryError(), "out of memory"),
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out/x.npz"), "disk full: /data/out/x.npz"),
    (OSError(errno.EROFS, os.strerror(errno.EROFS), "/ro/x"), "read-only file system: /ro/x"),
    (PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/secret"), "permission denied: /secret"),
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "disk full"),
    (__import__("zipfile").BadZipFile("Bad CRC-32 for file 'motion.npy'"), "corrupt or truncated zip/.npz"),
    (EOFError("No data left in file"), "unexpected end of file"),
    (KeyError("x"), "KeyError"),
])
def test_every_failure_class_gets_the_error_style(monkeypatch, capsys, exc, expected):
    import motioneval.cli.presets as presets_cli

    monkeypatch.setattr(presets_cli, "format_table", _raise(exc))
    status, _, err = run_cli(["presets"], capsys)
    lines = err.strip().splitlines()
    assert status == 1 and 1 <= len(lines) <= 2
    assert lines[0].startswith("motioneval presets: error: ") and expected in lines[0]
    with pytest.raises(type(exc)):
        main(["presets", "--debug"])
    capsys.readouterr()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    np.save(d / "a.npy", np.random.default_rng(0).normal(size=(40, 4)))
    (d / "empty.npy").write_bytes(b"")
    np.save(d / "complex.npy", np.ones((40, 4)) * (1 + 1j))
    (d / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (d / "afile").write_text("x")
    np.save(d / "plain.npy", np.zeros((4, 30, 263), np.float32))
    make_dataset(d / "HumanML3D")
    return d


@pytest.mark.parametrize("argv, culprit", [
    (["fid", "{d}/empty.npy", "{d}/a.npy"], "empty.npy"),
    (["fid", "{d}/bad.npz", "{d}/a.npy"], "bad.npz"),
    (["fid", "{d}/a.npy", "{d}/missing.npy"], "missing.npy"),
    (["fid", "{d}/a.npy", "{d}"], "{d}"),
    (["fid", "{d}/complex.npy", "{d}/a.npy"], "complex.npy: complex features"),
    (["presets", "nope"], "nope"),
    (["check-dataset", "{d}/missing"], "missing"),
    (["check-dataset", "{d}/afile"], "afile"),
    (["convert", "{d}/plain.npy", "{d}/o.npz"], "plain.npy"),
    (["convert", "{d}/bad.npz", "{d}/o.npz"], "bad.npz"),
    (["render", "{d}/empty.npy", "-o", "{d}/x.gif"], "empty.npy"),
    (["doctor", "{d}/bad.npz"], "bad.npz"),
    (["evaluate", "--dataset", "{d}/HumanML3D", "--evaluator", "{d}", "--samples", "{d}/plain.npy",
      "--out", "{d}/afile"], "--out {d}/afile"),
    (["evaluate", "--dataset", "{d}/HumanML3D", "--evaluator", "{d}", "--samples", "{d}/plain.npy",
      "--out", "{d}/o", "--cache-dir", "{d}/afile"], "--cache-dir {d}/afile"),
    (["evaluate", "--dataset", "{d}/HumanML3D", "--evaluator", "{d}", "--samples", "{d}/plain.npy",
      "--out", "{d}/o", "--chunk-size", "0"], "--chunk-size"),
    (["evaluate", "--dataset", "{d}/nope", "--evaluator", "{d}", "--samples", "{d}/plain.npy",
      "--out", "{d}/o"], "{d}/nope"),
    (["evaluate", "--dataset", "{d}/HumanML3D", "--evaluator", "{d}", "--generator", "nocolon",
      "--out", "{d}/o"], "nocolon"),
    (["train-evaluator", "{d}/nope", "--out", "{d}/afile", "--glove", "{d}"], "--out {d}/afile"),
])
def test_cli_subcommands_name_the_culprit(files, capsys, argv, culprit):
    argv = [a.format(d=files) for a in argv]
    status, out, err = run_cli(argv, capsys)
    assert status != 0
    if argv[0] == "doctor":  # the doctor reports (exit 2) in its own format, on stdout
        assert culprit in out and "Traceback" not in out
        return
    assert culprit.format(d=files) in err, err
    assert len([ln for ln in err.splitlines() if ln.strip()]) <= 2, err


@pytest.mark.parametrize("command", [
    ["evaluate", "--dataset", "D", "--evaluator", "E", "--samples", "S", "--out", "{d}/o"],
    ["doctor", "S"],
    ["train-evaluator", "D", "--out", "{d}/t", "--glove", "G"],
    ["demo", "--out", "{d}/demo"],
])
def test_device_cuda_without_cuda(files, capsys, command):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = [a.format(d=files) for a in command] + ["--device", "cuda"]
    status, _, err = run_cli(argv, capsys)
    assert status == 1 and "--device cuda: no CUDA device is available" in err and "--device cpu" in err


def test_debug_shows_the_traceback(files, capsys):
    with pytest.raises(Exception, match="empty"):
        main(["fid", str(files / "empty.npy"), str(files / "a.npy"), "--debug"])
    capsys.readouterr()


# ------------------------------------------------------------------------ results survive a full disk
@pytest.mark.slow
def test_full_disk_keeps_the_table_and_the_other_files(tmp_path, capsys, monkeypatch):
    pytest.importorskip("motioneval.metrics.frechet")
    from motioneval import _io
    from motioneval.cli.evaluate import write_outputs
    from motioneval.protocol.evaluate import Evaluation
    from motioneval.representation.normalization import FeatureStats
    from motioneval.testing import ToyEvaluator, ToyGenerator, write_toy_dataset

    root = write_toy_dataset(tmp_path / "HumanML3D", num_clips=70, seed=4)
    stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy", name="dataset")
    run = Evaluation(dataset=root, evaluator=ToyEvaluator(stats), generator=ToyGenerator(stats), preset="t2m",
                     overrides={"replications": 1, "mm_replications": 0, "diversity_pairs": 40,
                                "diversity_pairs_small": None}, chunk_size=64)
    result = run.score()
    real = _io.atomic_write_bytes

    def full_for_csv(path, data):
        if str(path).endswith(".csv"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data)

    monkeypatch.setattr(_io, "atomic_write_bytes", full_for_csv)
    args = type("A", (), {"out": str(tmp_path / "out"), "report": False})()
    from motioneval.cli.evaluate import ResultWriteError

    with pytest.raises(ResultWriteError, match=r"results.csv \(disk full\)"):
        write_outputs(args, run, result)
    out = capsys.readouterr().out
    assert out.index("| Method") < out.index("wrote")  # the table came first
    for name in ("results.json", "results.md", "results.tex"):
        assert (tmp_path / "out" / name).is_file()
    assert not (tmp_path / "out" / "results.csv").exists()
    loaded = json.loads((tmp_path / "out" / "results.json").read_text())
    assert not any(isinstance(v, float) and math.isnan(v) for v in loaded.get("settings", {}).values())


def test_generated_values_that_overflow_are_named_by_sample_id(tmp_path):
    pytest.importorskip("motioneval.metrics.frechet")
    from motioneval.protocol.evaluate import evaluate
    from motioneval.representation.normalization import FeatureStats
    from motioneval.testing import ToyEvaluator, write_toy_dataset

    root = write_toy_dataset(tmp_path / "HumanML3D", num_clips=70, seed=4)
    ds = MotionDataset(root)
    stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy")
    items = [ds[i] for i in range(len(ds))]
    motions = np.zeros((len(items), 196, 263), np.float32)
    for i, it in enumerate(items):
        motions[i, : len(it.features)] = it.features
    motions[5, 3, 7] = 3e38  # finite in float32, but not once divided by a small std
    samples = SampleSet(motions=motions, lengths=[len(it.features) for it in items],
                        captions=[it.captions[0].text for it in items], ids=[f"gen_{it.id}" for it in items],
                        normalization="raw")
    evaluator = ToyEvaluator(FeatureStats(stats.mean, stats.std * 0.01, name="e"))
    with pytest.raises(ValueError, match=f"overflow float32.*sample 'gen_{items[5].id}'"):
        evaluate(dataset=root, evaluator=evaluator, samples=samples, preset="t2m", replications=1,
                 mm_replications=0, diversity_pairs=40, diversity_pairs_small=None)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_check_dataset_caption_bytes_fuzz(tmp_path_factory, data):
    """Any bytes in a caption file: check_dataset never raises, names the clip and the file for every error."""
    root = make_dataset(tmp_path_factory.mktemp("d") / "HumanML3D")
    (root / "texts" / "000002.txt").write_bytes(data)
    report = check_dataset(root)
    for problem in report.errors:
        assert problem.id == "000002" and "texts/000002.txt" in problem.message
    if report.ok:
        assert len(MotionDataset(root)) >= 2
    else:
        with pytest.raises(DatasetError, match="000002"):
            MotionDataset(root)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.sampled_from([".npy", ".npz"]))
def test_cli_fid_file_bytes_fuzz(tmp_path_factory, capsys, data, suffix):
    d = tmp_path_factory.mktemp("f")
    np.save(d / "good.npy", np.random.default_rng(0).normal(size=(30, 3)))
    bad = d / f"x{suffix}"
    bad.write_bytes(data)
    status, _, err = run_cli(["fid", str(bad), str(d / "good.npy")], capsys)
    assert status == 1 and str(bad.name) in err


def test_evaluate_reads_an_outside_folder_only_with_the_option(tmp_path, capsys):
    pytest.importorskip("motioneval.metrics.frechet")
    import argparse

    from motioneval.cli.evaluate import build_evaluation
    from motioneval.representation.normalization import FeatureStats
    from motioneval.testing import ToyEvaluator, write_toy_dataset

    root = write_toy_dataset(tmp_path / "HumanML3D", num_clips=40, seed=4)
    ds = MotionDataset(root)
    (tmp_path / "elsewhere").mkdir()
    rows = []
    for i in range(len(ds)):
        item = ds[i]
        np.save(tmp_path / "elsewhere" / f"{item.id}.npy", item.features)
        rows.append({"id": item.id, "caption": item.captions[0].text, "file": f"../elsewhere/{item.id}.npy"})
    folder = tmp_path / "samples"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"normalization": "raw", "samples": rows}))
    stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy")
    args = argparse.Namespace(dataset=str(root), evaluator=ToyEvaluator(stats), samples=str(folder), generator=None,
                              preset="t2m", seed=0, split="test", no_cache=True, cache_dir=None, out=str(tmp_path),
                              chunk_size=64, allow_pickle=False, device=None, no_progress=True, name=None,
                              skip_bad_items=False, allow_outside_files=False,
                              overrides=["replications=1", "mm_replications=0", "diversity_pairs=20",
                                         "diversity_pairs_small=none"])
    with pytest.raises(SampleSetError, match="outside the sample folder"):
        build_evaluation(args)
    args.allow_outside_files = True
    evaluation = build_evaluation(args)
    assert evaluation.source.num_prompts == len(ds) and evaluation.name == "samples"


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True) | st.text(max_size=6),
                     lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children,
                                                                                        max_size=3), max_leaves=8)
_ROW = st.fixed_dictionaries({}, optional={"id": _JSON | st.just("s0"), "caption": _JSON | st.just("walk"),
                                           "file": _JSON | st.just("s0.npy"), "length": _JSON | st.just(20),
                                           "repetition": _JSON | st.just(0), "tokens": _JSON | st.just(["a/DET"])})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({"samples": st.lists(_ROW, max_size=3) | _JSON},
                             optional={"normalization": _JSON | st.just("raw"), "kind": _JSON, "format": _JSON,
                                       "metadata": _JSON}))
def test_manifest_json_fuzz(tmp_path_factory, manifest):
    folder = tmp_path_factory.mktemp("j")
    np.save(folder / "s0.npy", np.zeros((30, 263), np.float32))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    try:
        samples = read_sample_folder(folder)
    except (SampleSetError, FileNotFoundError) as exc:
        assert "manifest" in str(exc) or str(folder) in str(exc)
    else:
        assert samples.num_rows >= 1


_CLASS = ("class G:\n    kind = 'features'\n    normalization = 'raw'\n    name = 'g'\n"
          "    def generate(self, captions, lengths, seed):\n        {body}\n"
          "def make():\n    return G()\n")
GENERATORS = {
    "syntax": ("def make(:\n", "importing .*syntax.py failed: SyntaxError"),
    "factory": ("def make():\n    raise OSError('no weights here')\n", r"calling make\(\) failed: OSError: no weights"),
    "raises": (_CLASS.format(body="raise RuntimeError('model exploded')"),
               r"RuntimeError raised by the generator's code at .*raises.py:6: model exploded"),
    "weird": (_CLASS.format(body="return {'x': 1}"), "g returned dict, which is not motions"),
}


@pytest.fixture(scope="module")
def toy_folders(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("motioneval.metrics.frechet")
    from motioneval.testing import write_toy_dataset, write_toy_evaluator

    d = tmp_path_factory.mktemp("gen")
    root = write_toy_dataset(d / "HumanML3D", num_clips=40, seed=4)
    return root, write_toy_evaluator(d / "evaluator", root)


@pytest.mark.parametrize("case", sorted(GENERATORS))
def test_generator_failures_name_the_generator(toy_folders, tmp_path, capsys, case):
    root, evaluator = toy_folders
    code, expected = GENERATORS[case]
    (tmp_path / f"{case}.py").write_text(code)
    argv = ["evaluate", "--dataset", str(root), "--evaluator", str(evaluator), "--generator",
            f"{tmp_path / case}.py:make", "--out", str(tmp_path / "out"), "--no-cache", "--no-progress", "--device",
            "cpu", "--set", "replications=1", "--set", "mm_replications=0", "--set", "diversity_pairs=20",
            "--set", "diversity_pairs_small=none"]
    status, _, err = run_cli(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert status == 1 and len(lines) <= 2 and re.search(expected, lines[0]), err
    assert "bug in motioneval" not in err


_CELLS = st.sampled_from(["id", "caption", "file", "length", "repetition", "tokens", "s0", "s0.npy", "walk",
                          "a/DET b", "0", "-1", "1e9", "", '"', ",", "../s0.npy"]) | st.text(max_size=4)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_CELLS, min_size=1, max_size=5), min_size=1, max_size=4), st.binary(max_size=4))
def test_manifest_csv_fuzz(tmp_path_factory, rows, junk):
    folder = tmp_path_factory.mktemp("csv")
    np.save(folder / "s0.npy", np.zeros((30, 263), np.float32))
    (folder / "manifest.csv").write_bytes("\n".join(",".join(r) for r in rows).encode() + junk)
    try:
        samples = read_sample_folder(folder, normalization="raw")
    except (SampleSetError, FileNotFoundError) as exc:
        assert "manifest.csv" in str(exc)
    else:
        assert samples.num_rows >= 1


def test_non_utf8_csv_manifest_names_the_line(tmp_path):
    (tmp_path / "manifest.csv").write_bytes(b"id,caption\ns0,walk\ns1,caf\xe9\n")
    with pytest.raises(SampleSetError, match=r"manifest.csv: not UTF-8 text at line 3"):
        read_sample_folder(tmp_path, normalization="raw")
