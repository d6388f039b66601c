"""The one-page report: table, plots and rendered samples embedded, Markdown beside it."""
from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from motioneval.protocol.results import MetricSummary, Result, Row  # noqa: E402
from motioneval.viz.report import write_report  # noqa: E402


def _result():
    rng = np.random.default_rng(0)
    gt = {"r_precision_top1": MetricSummary.from_values(0.51 + 0.003 * rng.standard_normal(5)),
          "fid": MetricSummary.from_values(0.002 + 0.0004 * rng.standard_normal(5))}
    model = {"r_precision_top1": MetricSummary.from_values(0.42 + 0.004 * rng.standard_normal(5)),
             "fid": MetricSummary.from_values(0.49 + 0.05 * rng.standard_normal(5))}
    return Result(rows=[Row("ground truth", "ground_truth", gt, 4384), Row("my<model>", "model", model, 4384)],
                  preset={"name": "t2m"}, seed=3, replications=5, warnings=["something to know"],
                  provenance={"evaluator": {"/x/finest.tar": "ab" * 32}})


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.cells = [], []
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])
        self._in_td = tag == "td"

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data)


@pytest.fixture(scope="module")
def clip(data_dir):
    return np.load(data_dir / "HumanML3D" / "new_joint_vecs" / "012314.npy")


def test_report_with_samples(tmp_path, clip):
    from motioneval.data.samples import SampleSet

    sset = SampleSet(captions=["a person walks", "a person turns"], lengths=np.array([40, 36]),
                     motions=np.stack([clip[:40], clip[60:100]]), normalization="raw")
    result = _result()
    files = write_report(result, tmp_path, sset, reference=np.stack([clip[10:50], clip[100:140]]))
    page = files["html"].read_text()
    parser = _Images()
    parser.feed(page)
    # the results table: mean ± CI of each row as the protocol computes it
    fid = result.row("my<model>")["fid"]
    assert f"{fid.mean:.3f} ± {fid.ci95:.3f}" in parser.cells
    assert "my&lt;model&gt;" in page and "something to know" in page
    # images are embedded (self-contained page): replication plot, animated samples, filmstrip
    kinds = sorted(re.match(r"data:image/(\w+);base64,", s).group(1) for s in parser.srcs)
    assert kinds == ["gif", "png", "png"]
    for src in parser.srcs:
        im = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        im.verify()
    gif = Image.open(files["samples"])
    assert gif.n_frames == 40
    md = files["markdown"].read_text()
    assert "| my<model> |" in md or "my<model>" in md
    for name in re.findall(r"\]\(([^)]+)\)", md):
        assert (tmp_path / name).is_file()


def test_report_without_renderable_samples_and_from_path(tmp_path, clip):
    from motioneval.data.samples import SampleSet

    result = _result()
    result.save(tmp_path / "run")
    sset = SampleSet(captions=["x"], lengths=np.array([40]), motions=clip[None, :40], normalization="dataset")
    files = write_report(tmp_path / "run", tmp_path / "rep", sset, formats=("md",))
    assert "html" not in files and "samples" not in files
    md = files["markdown"].read_text()
    assert "dataset-normalized and no statistics were given" in md
    with pytest.raises(ValueError, match="formats"):
        write_report(result, tmp_path / "rep2", formats=("pdf",))
