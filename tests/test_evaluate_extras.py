"""evaluate's extras from the same rows: the physical block, the TMR block, --stop-when, fingerprints without save.

Checked against independent computations from the dataset files and the generator's own output: the ground-truth
row's physical values are those of the scored windows read from new_joint_vecs/, the TMR block's those of
TMREvaluator embeddings of whole clips and raw captions computed here; generation runs once per unit.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from motioneval import _npio  # noqa: E402
from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset  # noqa: E402
from motioneval.demo.generators import GroundTruthResampler, JitteryGenerator  # noqa: E402
from motioneval.demo.run import demo_evaluator_dir  # noqa: E402
from motioneval.metrics.physical import physical_metrics  # noqa: E402
from motioneval.protocol.evaluate import Evaluation  # noqa: E402
from motioneval.protocol.results import Result  # noqa: E402
from motioneval.representation.inverse import features_to_joints  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")
CONFIG = DemoDatasetConfig(num_train=24, num_val=4, num_test=64, seed=3)
SETTINGS = {"replications": 2, "mm_replications": 0, "diversity_pairs": 30}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return build_demo_dataset(tmp_path_factory.mktemp("demo") / "ds", CONFIG)


class Counting:
    """A demo generator that counts its calls."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.kind, self.normalization, self.name, self.version = inner.kind, inner.normalization, inner.name, inner.version

    def generate(self, captions, lengths, seed):
        self.calls += 1
        return self.inner.generate(captions, lengths, seed)


def _evaluation(root, gen, **kw):
    return Evaluation(dataset=root, evaluator=demo_evaluator_dir(), generator=gen, preset="t2m", seed=0,
                      overrides=dict(SETTINGS), chunk_size=32, **kw)


def _raw_clip(root, item_id):
    return _npio.load(root / "new_joint_vecs" / f"{item_id}.npy").astype(np.float64)


def test_physical_block_equals_an_independent_computation(root):
    gen = Counting(JitteryGenerator())
    ev = _evaluation(root, gen, physical=True)
    res = ev.score()
    assert gen.calls == len([u for u in ev.units() if u.stage == "generated"])  # generated once per unit
    assert [r.name for r in res.rows] == ["ground truth", "jittery"]
    assert not any(k.startswith("phys_") for r in res.rows for k in r.metrics)  # not protocol metrics
    block = res.block("physical")
    assert [r.kind for r in block.rows] == ["ground_truth", "model"] and "not protocol metrics" in block.title
    assert block.settings["variant"] == "default" and block.settings["fps"] == 20.0
    # ground truth, replication 0: the scored windows read from the dataset files
    plan = ev._plan(0, "gt_match")
    ids = ev.items.ids
    windows = [_raw_clip(root, ids[i])[s:s + n] for i, s, n in zip(plan.item, plan.starts, plan.lengths)]
    accel = [physical_metrics(features_to_joints(w), 20.0)["accel"] for w in windows]
    assert block.row("ground truth")["phys_accel"].values[0] == pytest.approx(np.mean(accel), rel=1e-9)
    np.testing.assert_allclose(block.per_clip["ground truth"]["phys_accel"], accel, rtol=1e-9)
    # the model, replication 1: the generator's output for the generated rows, measured here
    raw = [ev._generated_raw(u) for u in ev.units([1]) if u.stage == "generated"]
    speed = np.concatenate([physical_metrics(features_to_joints(r.astype(np.float64)), 20.0, n)["speed"]
                            for r, n, _ in raw])
    assert block.row("jittery")["phys_speed"].values[1] == pytest.approx(speed.mean(), rel=1e-9)
    gt_accel, model_accel = (block.row(n)["phys_accel"].mean for n in ("ground truth", "jittery"))
    assert model_accel > 5 * gt_accel  # the jitter shows
    assert "fingerprints" in res.provenance  # also on a result that is never saved


def test_extras_are_cached_apart_from_the_protocol_embeddings(root, tmp_path):
    gen = Counting(GroundTruthResampler())
    first = _evaluation(root, gen, cache_dir=tmp_path / "c", physical=True).score()
    calls = gen.calls
    again = _evaluation(root, gen, cache_dir=tmp_path / "c", physical=True).score()
    assert gen.calls == calls and again.block("physical").to_dict() == first.block("physical").to_dict()
    # without extras: every protocol embedding comes from the cache, the numbers are unchanged
    plain_ev = _evaluation(root, gen, cache_dir=tmp_path / "c")
    plain = plain_ev.score()
    assert plain_ev.cache.misses == 0 and gen.calls == calls and not plain.blocks
    assert [r.to_dict() for r in plain.rows] == [r.to_dict() for r in first.rows]
    # another variant: new extras from the cached samples, no new generation
    other = _evaluation(root, gen, cache_dir=tmp_path / "c", physical="kimodo").score()
    assert gen.calls == calls and other.block("physical").settings["variant"] == "kimodo"
    assert other.block("physical").row("ground truth")["phys_skate_speed"].mean != \
        first.block("physical").row("ground truth")["phys_skate_speed"].mean


def test_tmr_block_equals_embeddings_computed_here(root):
    pytest.importorskip("transformers")
    from motioneval.demo.evaluator_assets import demo_tmr_run_dir
    from motioneval.evaluators.tmr import TMREvaluator
    from motioneval.protocol.blocks import tmr_replication_values

    tmr = TMREvaluator.load(demo_tmr_run_dir(), device="cpu")
    gen = Counting(GroundTruthResampler())
    ev = _evaluation(root, gen, tmr_evaluator=tmr)
    res = ev.score()
    assert gen.calls == len([u for u in ev.units() if u.stage == "generated"])
    block = res.block("tmr")
    assert "not comparable" in block.note and block.provenance["evaluator"] == tmr.provenance
    assert res.provenance["tmr_evaluator"] == tmr.provenance
    ids = ev.items.ids

    def clips(items):
        cl = [_raw_clip(root, ids[i]) for i in items]
        x = np.zeros((len(cl), max(len(c) for c in cl), 263), np.float32)
        for k, c in enumerate(cl):
            x[k, :len(c)] = c
        return x, np.array([len(c) for c in cl])

    # ground truth, replication 1: whole clips and raw captions of pass A
    plan = ev._plan(1, "gt_match")
    x, n = clips(plan.item)
    caps = [ev.items.captions[i][j] for i, j in zip(plan.item, plan.caption)]
    want = tmr_replication_values(tmr.embed_text(caps), tmr.embed_raw_motion(x, n))
    got = {k: v.values[1] for k, v in block.row("ground truth").metrics.items()}
    assert got == pytest.approx(want, rel=1e-5, abs=1e-9)
    assert "tmr_fid" not in block.row("ground truth").metrics  # whole clips: both passes hold the same clips
    # the model, replication 0: its raw samples and captions; FID against pass B's whole clips
    raw = [ev._generated_raw(u) for u in ev.units([0]) if u.stage == "generated"]
    motion = np.concatenate([tmr.embed_raw_motion(r, m) for r, m, _ in raw])
    text = tmr.embed_text(ev._plan(0, "generated").captions)
    ref_x, ref_n = clips(ev._plan(0, "gt_fid").item)
    want = tmr_replication_values(text, motion, tmr.embed_raw_motion(ref_x, ref_n))
    got = {k: v.values[0] for k, v in block.row("ground-truth resampling").metrics.items()}
    assert got == pytest.approx(want, rel=1e-5, abs=1e-9)


def test_stop_when_stops_early_and_marks_the_result(root):
    full = _evaluation(root, GroundTruthResampler()).score()
    # target met only after 3 replications
    from motioneval.protocol.stopping import StopRule

    stopped_ev = Evaluation(dataset=root, evaluator=demo_evaluator_dir(), generator=GroundTruthResampler(),
                            preset="t2m", seed=0, chunk_size=32, overrides={**SETTINGS, "replications": 6},
                            physical=True, stop_when=StopRule.parse("fid=1e6", min_replications=2))
    with pytest.warns(UserWarning, match="stopped early after 2 of 6"):
        res = stopped_ev.score()
    assert res.replications == 2 and res.preset["name"] == "custom"
    assert res.preset["differences"]["replications"] == {"preset": 20, "value": 2}
    assert res.settings["stop_when"]["stopped"].startswith("stopped early after 2 of 6 replications")
    assert any("stopped early" in n for n in res.settings["table_notes"])
    # the replications run are those of the same run without the rule: same draws, bitwise the same embeddings
    same_run = Evaluation(dataset=root, evaluator=demo_evaluator_dir(), generator=GroundTruthResampler(),
                          preset="t2m", seed=0, chunk_size=32, overrides={**SETTINGS, "replications": 6},
                          physical=True)
    for r in range(2):
        expected = same_run.embeddings(r)
        for key, value in stopped_ev.embeddings(r).items():
            np.testing.assert_array_equal(value, expected[key], err_msg=key)
    # and a 2-replication run draws the same rows; its ground-truth window table holds other windows (fewer
    # replications draw fewer), whose batched float32 embeddings may differ in the last bits
    np.testing.assert_allclose(res.model["fid"].values, full.model["fid"].values, rtol=1e-6)
    assert len(res.block("physical").row("ground truth")["phys_accel"].values) == 2
    with pytest.raises(ValueError, match="does not compute"):
        _evaluation(root, GroundTruthResampler(), stop_when="tmr_fid=1")


def test_blocks_in_every_file_format(root, tmp_path):
    res = _evaluation(root, JitteryGenerator(), physical="motionlcm").score()
    files = res.save(tmp_path)
    assert files["physical_per_clip"] == tmp_path / "physical_per_clip.npz"
    data = json.loads((tmp_path / "results.json").read_text())
    assert [b["name"] for b in data["blocks"]] == ["physical"]
    loaded = Result.load(tmp_path)
    assert loaded.block("physical").to_dict() == res.block("physical").to_dict()
    np.testing.assert_array_equal(loaded.block("physical").per_clip["jittery"]["phys_jerk"],
                                  res.block("physical").per_clip["jittery"]["phys_jerk"])
    md = (tmp_path / "results.md").read_text()
    assert "### Physical plausibility (variant motionlcm, 20 fps; not protocol metrics)" in md
    csv_text = (tmp_path / "results.csv").read_text()
    assert "jittery,model,physical/phys_accel," in csv_text
    assert "% Physical plausibility" in (tmp_path / "results.tex").read_text()
    with pytest.raises(KeyError, match="no block 'tmr'"):
        res.block("tmr")
