"""The replication loop end to end on tiny generated data: wiring checked against direct computations,
reproducibility, normalization chain, sample sets and MDM results.npy, re-scoring from the cache, the CLI
with a random-weight evaluator in the official layout."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import scipy.linalg

pytest.importorskip("motioneval.metrics.frechet", reason="the Fréchet distance module (issue 2) is not installed")

from motioneval.protocol.evaluate import Evaluation, evaluate
from motioneval.protocol.generators import CallableGenerator
from motioneval.protocol.ground_truth import pass_features, pass_raw_tokens
from motioneval.representation.normalization import FeatureStats
from motioneval.testing import ToyEvaluator, ToyGenerator, write_toy_dataset  # noqa: E402

# a small custom protocol: 96 ground-truth rows (3 groups of 32), 2 replications, MultiModality on one group
SMALL = dict(replications=2, mm_captions=32, mm_repeats=12, mm_pairs=5, diversity_pairs=50,
             diversity_pairs_small=None,
             # the generic loop (independent generated pass, second ground-truth pass, ground-truth row); the
             # lineages' own loop semantics are tested in test_reference_loops.py
             generated_rows="independent", fid_reference="independent_pass", ground_truth_row=True,
             generated_padding="zeros")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = write_toy_dataset(tmp_path_factory.mktemp("toy") / "HumanML3D", num_clips=100, segment_fraction=0.1)
    ds_stats = FeatureStats.load(root / "Mean.npy", root / "Std.npy", name="dataset")
    rng = np.random.default_rng(9)
    ev_stats = FeatureStats(ds_stats.mean + 0.1, ds_stats.std * rng.uniform(0.7, 1.4, ds_stats.dim), name="evaluator")
    return root, ds_stats, ev_stats


def _values(result):
    return {r.name: {k: v.values for k, v in r.metrics.items()} for r in result.rows}


def _fid(a, b):
    """Independent Fréchet distance: eigenvalues of sqrt(S1) S2 sqrt(S1) in float64."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a.astype(np.float64), rowvar=False), np.cov(b.astype(np.float64), rowvar=False)
    r = scipy.linalg.sqrtm(s1).real
    lam = np.clip(np.linalg.eigvalsh(r @ s2 @ r), 0, None)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(lam).sum())


def _naive_retrieval(text, motion, pool=32):
    hits, dist_sum, n = np.zeros(3), 0.0, (len(text) // pool) * pool
    for g in range(0, n, pool):
        t, m = text[g:g + pool].astype(np.float64), motion[g:g + pool].astype(np.float64)
        d = np.sqrt(((t[:, None, :] - m[None, :, :]) ** 2).sum(-1))
        for i in range(pool):
            rank = np.sum(d[i] < d[i, i])
            hits += rank < np.arange(1, 4)
        dist_sum += np.trace(d)
    return hits / n, dist_sum / n


def test_end_to_end_api_wiring(toy, tmp_path):
    root, ds_stats, ev_stats = toy
    ev = ToyEvaluator(ev_stats)
    run = Evaluation(dataset=root, evaluator=ev, generator=ToyGenerator(ds_stats), preset="momask",
                     cache_dir=tmp_path / "cache", chunk_size=32, overrides=SMALL)
    run.run()
    result = run.score()
    assert result.preset["name"] == "custom" and result.preset["base"] == "momask"
    assert result.sample_counts["ground_truth_rows"] == 96 and result.sample_counts["generated_rows"] == 96
    assert result.sample_counts["multimodality"] == {"captions": 32, "repeats": 12, "pairs": 5, "replications": 2}
    gt, model = result.ground_truth, result.model
    assert model.name == "toy" and gt.name == "ground truth"
    assert set(model.metrics) == {"r_precision_top1", "r_precision_top2", "r_precision_top3", "matching_score", "fid",
                                  "diversity", "multimodality"}
    assert "multimodality" not in gt.metrics
    assert all(len(s.values) == 2 for s in model.metrics.values())

    for r in range(2):
        emb = run.embeddings(r)
        # ground-truth pass A embeddings are the evaluator's embeddings of the drawn crops and captions
        plan = run._plan(r, "gt_match")
        direct = ev.embed_motion(pass_features(run.items, plan, ev_stats, run.preset), plan.lengths)
        np.testing.assert_array_equal(emb["gt_match/motion"], direct)
        np.testing.assert_array_equal(emb["gt_match/text"], ev.embed_text(pass_raw_tokens(run.items, plan)))
        # every metric against an independent computation from the embeddings
        for row, stage in ((gt, "gt_match"), (model, "generated")):
            rp, ms = _naive_retrieval(emb[f"{stage}/text"], emb[f"{stage}/motion"])
            for k in range(3):
                assert row[f"r_precision_top{k + 1}"].values[r] == pytest.approx(rp[k], abs=1e-12)
            assert row["matching_score"].values[r] == pytest.approx(ms, rel=1e-5)
            assert row["fid"].values[r] == pytest.approx(_fid(emb["gt_fid/motion"], emb[f"{stage}/motion"]),
                                                         rel=1e-6, abs=1e-9)
        assert emb["mm/motion"].shape == (32 * 12, ev.dim)
    # the ground-truth FID compares two independent passes: small but not zero
    assert all(v > 0 for v in gt["fid"].values)
    assert not np.array_equal(run.embeddings(0)["gt_fid/motion"], run.embeddings(0)["gt_match/motion"])
    # overridden item rules reach the dataset reader: no clip of 100 frames or more
    short = Evaluation(dataset=root, evaluator=ev, generator=ToyGenerator(ds_stats), preset="momask",
                       overrides={**SMALL, "max_motion_length": 60, "diversity_pairs": 20})
    assert short.items.lengths.max() < 60 and len(short.items) < len(run.items)
    prov = result.provenance
    assert prov["evaluator"] == ev.provenance and prov["dataset"]["split"] == "test"
    assert prov["generated"]["name"] == "toy" and prov["dataset"]["content_sha256"]
    assert {"python", "numpy", "scipy", "motioneval"} <= set(result.versions)


def test_same_seed_same_numbers(toy):
    root, ds_stats, ev_stats = toy
    kw = dict(dataset=root, evaluator=ToyEvaluator(ev_stats), preset="momask", chunk_size=48,
              **{**SMALL, "mm_replications": 1})
    a = evaluate(generator=ToyGenerator(ds_stats), seed=3, **kw)
    b = evaluate(generator=ToyGenerator(ds_stats), seed=3, **kw)
    c = evaluate(generator=ToyGenerator(ds_stats), seed=4, **kw)
    assert _values(a) == _values(b)
    assert _values(a) != _values(c)


def test_normalization_chain_gives_identical_embeddings(toy):
    """The same motions given raw, dataset-normalized or evaluator-normalized reach the evaluator identically."""
    root, ds_stats, ev_stats = toy
    base = ToyGenerator(ds_stats)

    def make(norm):
        def fn(captions, lengths, seed):
            out, lens = base.generate(captions, lengths, seed)  # dataset-normalized
            raw = ds_stats.denormalize(out.astype(np.float64))
            conv = {"raw": raw, "dataset": out, "evaluator": ev_stats.normalize(raw)}[norm]
            return conv.astype(np.float32), lens
        return CallableGenerator(fn, normalization=norm, name=f"g-{norm}")

    runs = {}
    for norm in ("raw", "dataset", "evaluator"):
        run = Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=make(norm), preset="momask",
                         chunk_size=96, overrides={**SMALL, "replications": 1, "mm_replications": 0})
        runs[norm] = run.embeddings(0)["generated/motion"]
    np.testing.assert_allclose(runs["raw"], runs["dataset"], atol=2e-6)
    np.testing.assert_allclose(runs["raw"], runs["evaluator"], atol=2e-6)


@pytest.mark.slow
def test_rescoring_reuses_embeddings_and_metric_crash_keeps_cache(toy, tmp_path, monkeypatch):
    root, ds_stats, ev_stats = toy
    kw = dict(dataset=root, preset="momask", out=tmp_path / "out", chunk_size=32, **SMALL)
    import motioneval.metrics.diversity as div

    def broken(*a, **k):
        raise RuntimeError("diversity crashed")

    monkeypatch.setattr(div, "diversity", broken)
    with pytest.raises(RuntimeError, match="diversity crashed"):
        evaluate(evaluator=ToyEvaluator(ev_stats), generator=ToyGenerator(ds_stats), **kw)
    monkeypatch.undo()
    cache = tmp_path / "out" / "cache"
    # scoring follows each replication: the crash came after replication 0's units, which are all kept
    run = Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=ToyGenerator(ds_stats),
                     preset="momask", chunk_size=32, overrides=SMALL)
    done = [u for u in run.units() if u.replication == 0 and u.stage in ("generated", "mm")]
    total = [u for u in run.units() if u.stage in ("generated", "mm")]
    assert len(list((cache / "samples").rglob("*.npz"))) == len(done)
    counting = ToyGenerator(ds_stats)
    first = evaluate(evaluator=ToyEvaluator(ev_stats), generator=counting, **kw)
    assert counting.calls == len(total) - len(done)

    def never(captions, lengths, seed):
        raise AssertionError("the generator must not be called when every sample is cached")

    idle = CallableGenerator(never, name="toy", version="1", normalization="dataset")
    ev = ToyEvaluator(ev_stats)
    assert evaluate(evaluator=ev, generator=idle, **kw).to_dict()["rows"] == first.to_dict()["rows"]
    assert ev.calls == {"text": 0, "motion": 0}
    # changed metric settings: same embeddings, new numbers only where the metric changed
    second = evaluate(evaluator=ev, generator=idle, **{**kw, "diversity_pairs": 40, "fid_method": "reference"})
    assert ev.calls == {"text": 0, "motion": 0}
    for key in ("r_precision_top1", "matching_score", "multimodality"):
        assert second.model[key].values == first.model[key].values
    assert second.model["fid"].values == pytest.approx(first.model["fid"].values, rel=1e-6)
    assert second.model["diversity"].values != first.model["diversity"].values
    # another evaluator re-embeds the cached samples without regenerating
    other = ToyEvaluator(ev_stats, seed=1)
    evaluate(evaluator=other, generator=idle, **kw)
    assert other.calls["motion"] > 0
    # another model sharing the cache reuses the ground-truth embeddings: only its own rows are embedded
    ev = ToyEvaluator(ev_stats)
    evaluate(evaluator=ev, generator=ToyGenerator(ds_stats, name="other", noise=0.8), cache_dir=cache,
             **{**kw, "out": tmp_path / "other"})
    # (its captions too: the caption table of the data and evaluator is in the cache, docs/cache.md)
    assert ev.calls == {"text": 0, "motion": 2 * (96 + 32 * 12)}


def test_generator_contract_errors(toy):
    root, ds_stats, ev_stats = toy
    kw = dict(dataset=root, evaluator=ToyEvaluator(ev_stats), preset="momask", chunk_size=96,
              **{**SMALL, "replications": 1, "mm_replications": 0})

    def wrong_lengths(captions, lengths, seed):
        out, lens = ToyGenerator(ds_stats).generate(captions, lengths, seed)
        lens = lens.copy()
        lens[5] -= 4
        return out, lens

    with pytest.raises(ValueError, match="row 5"):
        evaluate(generator=CallableGenerator(wrong_lengths), **kw)

    def nan_rows(captions, lengths, seed):
        out, lens = ToyGenerator(ds_stats).generate(captions, lengths, seed)
        out[7, 3] = np.nan
        return out, lens

    with pytest.raises(ValueError, match="row 7"):
        evaluate(generator=CallableGenerator(nan_rows), **kw)
    with pytest.raises(ValueError, match="diversity"):  # infeasible sizes fail before any generation
        evaluate(generator=ToyGenerator(ds_stats), dataset=root, evaluator=ToyEvaluator(ev_stats), preset="t2m")
    with pytest.raises(ValueError, match="exactly one"):
        evaluate(dataset=root, evaluator=ToyEvaluator(ev_stats))


def test_model_chosen_lengths(toy):
    """t2m-gpt: the generator is asked with lengths=None and must return its own."""
    root, ds_stats, ev_stats = toy
    seen = []

    def fn(captions, lengths, seed):
        seen.append(lengths)
        return ToyGenerator(ds_stats).generate(captions, None, seed)

    r = evaluate(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=CallableGenerator(fn), preset="t2m-gpt",
                 chunk_size=96, **{**SMALL, "replications": 1, "mm_replications": 0, "mm_captions": None})
    assert seen and all(s is None for s in seen)
    assert len(r.model["fid"].values) == 1

    def no_lengths(captions, lengths, seed):
        return ToyGenerator(ds_stats).generate(captions, None, seed)[0]

    with pytest.raises(ValueError, match="choose lengths"):
        evaluate(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=CallableGenerator(no_lengths),
                 preset="t2m-gpt", chunk_size=96, **{**SMALL, "replications": 1, "mm_replications": 0,
                                                    "mm_captions": None})


def _ground_truth_samples(root, ds_stats, repetitions=3, seed=0):
    """A SampleSet of noisy copies of ground-truth clips with the dataset's captions (tokens left out)."""
    from motioneval.data.dataset import MotionDataset
    from motioneval.data.samples import SampleSet

    ds = MotionDataset(root, "test")
    rng = np.random.default_rng(seed)
    items = [ds[i] for i in range(len(ds))]
    n, t = len(items), 80
    motions = np.zeros((n * repetitions, t, ds_stats.dim), np.float32)
    lengths = np.array([4 * (min(len(it.features), t) // 4) for it in items] * repetitions)
    for r in range(repetitions):
        for i, it in enumerate(items):
            L = lengths[i]
            motions[r * n + i, :L] = it.features[:L] + 0.1 * rng.standard_normal((L, ds_stats.dim))
    caps = [it.captions[0].text for it in items] * repetitions
    ids = [it.id for it in items] * repetitions
    return SampleSet(captions=caps, lengths=lengths, motions=motions, kind="features", normalization="raw",
                     ids=ids, num_repetitions=repetitions)


def test_sample_file_end_to_end_and_mismatch(toy, tmp_path):
    root, ds_stats, ev_stats = toy
    samples = _ground_truth_samples(root, ds_stats)
    path = samples.save(tmp_path / "samples.npz")
    kw = dict(dataset=root, evaluator=ToyEvaluator(ev_stats), preset="momask", chunk_size=96, **SMALL)
    with pytest.warns(UserWarning, match="MultiModality needs more than 5 generations"):
        result = evaluate(samples=path, **kw)
    assert result.provenance["generated"]["num_repetitions"] == 3
    assert result.model["multimodality"].values == [None, None]  # 3 repetitions cannot give 5 pairs
    assert any("MultiModality" in w for w in result.warnings)
    assert any("repetition" in w for w in result.warnings)
    # near-copies of the ground truth: FID and R-precision close to the ground-truth row
    assert result.model["fid"].mean < 0.5 + 5 * result.ground_truth["fid"].mean
    # a caption that is not in the split, without tokens: an error naming the row
    bad = _ground_truth_samples(root, ds_stats, repetitions=1)
    bad.captions[4] = "a caption that nobody wrote"
    bad.ids[4] = "x"
    with pytest.raises(ValueError, match="row 4"):
        evaluate(samples=bad, **kw)
    wrong_id = _ground_truth_samples(root, ds_stats, repetitions=1)
    wrong_id.captions[2] = wrong_id.captions[3] + " (edited)"
    with pytest.raises(ValueError, match=r"row 2 .*has no such caption"):
        evaluate(samples=wrong_id, **kw)


def _write_mdm_results(root, path, repetitions=2, frames=64):
    """MDM's results.npy: joint positions (N*R, 22, 3, F) repetition-major, captions, lengths; frames past each
    length are kept (MDM does not trim them)."""
    from motioneval.data.dataset import MotionDataset
    from motioneval.testing import toy_joints

    ds = MotionDataset(root, "test")
    rng = np.random.default_rng(1)
    n = len(ds)
    captions = [ds[i].captions[0].text for i in range(n)] * repetitions
    lengths = np.array([min(ds[i].length, frames) for i in range(n)] * repetitions)
    joints = np.stack([toy_joints(frames, rng) for _ in range(n * repetitions)])  # (N, F, 22, 3)
    motion = np.ascontiguousarray(joints.transpose(0, 2, 3, 1), dtype=np.float32)
    np.save(path, {"motion": motion, "text": captions, "lengths": lengths, "num_samples": n,
                   "num_repetitions": repetitions}, allow_pickle=True)
    return path


def test_mdm_results_end_to_end(toy, tmp_path):
    root, ds_stats, ev_stats = toy
    path = _write_mdm_results(root, tmp_path / "results.npy")
    kw = dict(dataset=root, evaluator=ToyEvaluator(ev_stats), preset="mdm", chunk_size=64,
              replications=2, generated_samples=64, mm_replications=0, diversity_pairs=50)
    with pytest.raises(ValueError, match="allow_pickle"):
        evaluate(samples=path, **kw)
    # the file keeps 64 frames (63 feature rows) per row; mdm feeds 196: rows whose evaluator-read frames
    # (up to length + 3) pass frame 63 are padded in normalized space, and the result says so
    with pytest.warns(UserWarning, match="evaluator-normalized space"):
        result = evaluate(samples=path, allow_pickle=True, **kw)
    assert result.sample_counts["generated_rows"] == 64  # generated_samples caps the generated side
    assert result.provenance["generated"]["kind"] == "joints"
    assert len(result.provenance["generated"]["sha256"]) == 64
    padded = result.sample_counts["padded_rows"]["generated"]
    assert padded["rows"] > 0 and padded["first"][0].startswith("prompt ")
    assert result.warnings[0] == result.settings["table_notes"][0]  # distorting warnings come first
    assert "evaluator-normalized space" in result.to_markdown()  # ... and show under the table
    assert np.isfinite(result.model["fid"].mean)


@pytest.fixture
def one_torch_thread():
    """Tiny networks run fastest single-threaded (and do not fight other processes for the cores)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_cli_with_official_layout_evaluator(toy, tmp_path, capsys, one_torch_thread):
    """The CLI and the API, on a random-weight T2M evaluator saved in the official folder layout."""
    from motioneval.cli.main import main
    from motioneval.protocol.results import Result
    from motioneval.testing import write_toy_evaluator

    root, ds_stats, _ = toy
    evaluator_dir = write_toy_evaluator(tmp_path / "evaluator", root)
    assert (evaluator_dir / "t2m" / "text_mot_match" / "model" / "finest.tar").is_file()
    gen_file = tmp_path / "my_model.py"
    gen_file.write_text(textwrap.dedent(f"""
        from motioneval.testing import ToyGenerator
        from motioneval.representation.normalization import FeatureStats

        def make():
            stats = FeatureStats.load({str(root / 'Mean.npy')!r}, {str(root / 'Std.npy')!r})
            return ToyGenerator(stats, name="my_model", version="7")
    """))
    sets = ["replications=2", "mm_captions=32", "mm_repeats=12", "mm_pairs=5", "diversity_pairs=50",
            "diversity_pairs_small=none", "generated_rows=independent", "fid_reference=independent_pass",
            "ground_truth_row=true", "generated_padding=zeros"]
    argv = ["evaluate", "--dataset", str(root), "--evaluator", str(evaluator_dir), "--generator",
            f"{gen_file}:make", "--preset", "momask", "--out", str(tmp_path / "out"), "--seed", "5",
            "--device", "cpu", "--chunk-size", "64", "--no-progress", "--report"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| Method | R@1" in printed and "| my_model |" in printed and "| ground truth |" in printed
    cli = Result.load(tmp_path / "out")
    assert cli.preset["differences"]["replications"] == {"preset": 20, "value": 2}
    assert any(p.endswith("finest.tar") for p in cli.provenance["evaluator"])
    assert cli.settings["device"] == "cpu"
    for name in ("results.md", "results.csv", "results.tex", "report.html", "samples.gif"):
        assert (tmp_path / "out" / name).is_file()

    import importlib.util
    spec = importlib.util.spec_from_file_location("my_model_api", gen_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    api = evaluate(dataset=root, evaluator=evaluator_dir, generator=module.make(), preset="momask", seed=5,
                   device="cpu", chunk_size=64, replications=2, mm_captions=32, mm_repeats=12, mm_pairs=5,
                   diversity_pairs=50, diversity_pairs_small=None, generated_rows="independent",
                   fid_reference="independent_pass", ground_truth_row=True, generated_padding="zeros")
    assert _values(api) == _values(cli)
    assert json.loads(json.dumps(cli.to_dict()))["schema_version"] == 1


def test_mdm_adapter_contract(toy):
    """MDMGenerator drives an MDM-like (model, diffusion) pair: MDM's (N, 263, 1, 196) layout, seeded by the loop."""
    torch = pytest.importorskip("torch")
    from motioneval.protocol.generators import MDMGenerator

    root, ds_stats, ev_stats = toy

    class FakeMDM(torch.nn.Module):
        njoints, nfeats = 263, 1

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

    class FakeDiffusion:
        calls = []

        def p_sample_loop(self, model, shape, clip_denoised, model_kwargs, progress):
            y = model_kwargs["y"]
            assert shape[1:] == (263, 1, 196) and y["mask"].shape == (shape[0], 1, 1, 196)
            assert torch.equal(y["mask"][:, 0, 0].sum(1), y["lengths"]) and float(y["scale"][0]) == 2.5
            self.calls.append(len(y["text"]))
            return 0.1 * torch.randn(shape)

    gen = MDMGenerator(FakeMDM(), FakeDiffusion(), version="fake")
    assert gen.kind == "features" and gen.normalization == "dataset"
    a = evaluate(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=gen, preset="mdm", chunk_size=64,
                 replications=1, generated_samples=64, mm_replications=0, diversity_pairs=50)
    b = evaluate(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=gen, preset="mdm", chunk_size=64,
                 replications=1, generated_samples=64, mm_replications=0, diversity_pairs=50)
    assert FakeDiffusion.calls == [64, 64] and _values(a) == _values(b)  # torch.manual_seed(seed) per chunk
    with pytest.raises(ValueError, match="ground-truth lengths"):
        gen.generate(["a person walks"], None, 0)


def test_cli_generator_loading_errors(tmp_path):
    from motioneval.cli.evaluate import load_generator

    with pytest.raises(ValueError, match="module:name"):
        load_generator("nocolon")
    with pytest.raises(FileNotFoundError):
        load_generator(str(tmp_path / "missing.py") + ":make")
    (tmp_path / "g.py").write_text("x = 3\nclass G:\n    kind='features'\n    def generate(self, c, l, s):\n"
                                   "        return None\n")
    with pytest.raises(ValueError, match="neither"):
        load_generator(f"{tmp_path / 'g.py'}:x")
    assert type(load_generator(f"{tmp_path / 'g.py'}:G")).__name__ == "G"


def test_cache_keys_follow_what_produced_each_unit(toy):
    root, ds_stats, ev_stats = toy

    def run(**over):
        return Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=ToyGenerator(ds_stats),
                          preset="momask", chunk_size=32, overrides={**SMALL, **over})

    def keys(e, stage, kind):
        return [getattr(e, kind)(u)[0] for u in e.units([0]) if u.stage == stage]

    a, b, c = run(), run(mm_captions=64, diversity_pairs=60, fid_method="reference"), run(max_text_tokens=10)
    assert keys(a, "generated", "sample_key") == keys(b, "generated", "sample_key")
    assert keys(a, "gt_match", "embedding_key") == keys(b, "gt_match", "embedding_key")
    assert keys(a, "mm", "sample_key") != keys(b, "mm", "sample_key")[: len(keys(a, "mm", "sample_key"))]
    assert keys(a, "gt_match", "embedding_key") != keys(c, "gt_match", "embedding_key")
    other_seed = Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=ToyGenerator(ds_stats),
                            preset="momask", chunk_size=32, seed=1, overrides=SMALL)
    assert set(keys(a, "generated", "sample_key")).isdisjoint(keys(other_seed, "generated", "sample_key"))
    other_eval = Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats, seed=5), generator=ToyGenerator(ds_stats),
                            preset="momask", chunk_size=32, overrides=SMALL)
    assert keys(a, "generated", "sample_key") == keys(other_eval, "generated", "sample_key")
    assert set(keys(a, "generated", "embedding_key")).isdisjoint(keys(other_eval, "generated", "embedding_key"))


def test_dataset_kind_is_never_guessed_from_an_unknown_width(tmp_path):
    from motioneval.protocol.evaluate import _infer_kind

    (tmp_path / "new_joint_vecs").mkdir()
    np.save(tmp_path / "new_joint_vecs" / "000000.npy", np.zeros((50, 100), np.float32))
    (tmp_path / "test.txt").write_text("000000\n")
    with pytest.raises(ValueError, match=r"000000\.npy have 100 dims.*name the kind explicitly"):
        _infer_kind(tmp_path, "test")
    np.save(tmp_path / "new_joint_vecs" / "000000.npy", np.zeros((50, 251), np.float32))
    assert _infer_kind(tmp_path, "test") == "kit"


def test_window_table_embeds_only_the_drawn_windows_when_few_replications_draw_fewer_rows(toy, monkeypatch):
    """The ground-truth window table registers every drawable window when the run's passes draw more rows
    than that (the protocol's 20 replications), and only the drawn windows otherwise (a 1-2 replication check
    would otherwise embed ~4x the rows it reads). Both give the same numbers (bitwise with a row-independent
    evaluator), and their cache keys differ (another registered set batches windows differently)."""
    from motioneval.protocol.embedding_memo import every_window
    from motioneval.protocol.plan import Planning

    root, ds_stats, ev_stats = toy

    def make(replications):
        return Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=ToyGenerator(ds_stats),
                          preset="t2m", chunk_size=32, overrides={**SMALL, "replications": replications,
                                                                  "mm_replications": 0})

    assert make(40).window_registration == "every"
    few = make(2)
    assert few.window_registration == "drawn"
    few.run()
    result = few.score()
    windows = len(every_window(few.items.lengths, few.preset))
    drawn = np.unique(np.concatenate([few._windows.plan_keys(few._plan(r, s))
                                      for r in range(2) for s in few.gt_stages]))
    assert few._windows.embedded == len(drawn) < windows
    gt_unit = next(u for u in few.units() if u.stage == "gt_match")
    drawn_key = few.embedding_key(gt_unit)[0]

    monkeypatch.setattr(Planning, "window_registration", property(lambda self: "every"))
    full = make(2)
    full.run()
    assert full._windows.embedded == windows
    assert _values(full.score()) == _values(result)
    assert full.embedding_key(gt_unit)[0] != drawn_key
