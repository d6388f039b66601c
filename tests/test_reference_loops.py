"""A reference-loop harness (issue 11): every preset's loop written out plainly from the spec
(``protocol.md``, "Loop semantics per lineage") and replayed with the same draws as ``evaluate``.

The reference below uses only the documented seeding contract (``pass_rng(seed, r, stream)`` and
``draw_pass`` for the shuffles, crops and captions) and then does everything else with its own loops:
cropping and normalizing the ground truth, choosing the generated rows (an independent pass, or the rows
of the scored ground-truth batches), truncating, deciding which generated frames reach the evaluator
(zeros past the length / every generated frame / up to the batch's longest motion, with frames a sample
lacks zero in evaluator-normalized space), the text lengths, the FID reference statistics and the rows of
the table. R-precision, matching score and FID are computed independently (brute-force ranks, scipy
``sqrtm``). Per replication every number must agree.

Then statistical checks of the means over replications per preset, and the issue's "done when": the
ground truth saved as MDM ``results.npy`` (with real frames past each length) scores under ``mdm`` as it
does under ``t2m``.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import scipy.linalg

from motioneval.metrics.diversity import diversity
from motioneval.protocol.evaluate import GROUND_TRUTH_ROW, Evaluation
from motioneval.protocol.generators import GeneratedMotion
from motioneval.protocol.ground_truth import draw_pass, pass_rng
from motioneval.protocol.presets import PRESET_NAMES
from motioneval.representation.normalization import FeatureStats
from motioneval.testing import (
    VERBS,
    ToyEvaluator,
    toy_features,
    write_toy_dataset,
)

SEED = 4
FRAMES = 204  # the harness generator's array length (T2M-GPT-like lengths reach 200)
SMALL = dict(replications=2, mm_replications=0, diversity_pairs=50, diversity_pairs_small=None)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = write_toy_dataset(tmp_path_factory.mktemp("refloop") / "HumanML3D", num_clips=110, seed=5,
                             segment_fraction=0.15)
    ds = FeatureStats.load(root / "Mean.npy", root / "Std.npy")
    rng = np.random.default_rng(2)
    ev = FeatureStats(ds.mean + 0.2, ds.std * rng.uniform(0.6, 1.5, ds.dim), name="evaluator")
    return root, ev


def _caption_rng(caption: str, length: int | None) -> np.random.Generator:
    digest = hashlib.sha256(f"{caption}|{length}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


class ReplayGenerator:
    """Deterministic per (caption, length), whatever the batch or seed: raw features of the caption's toy action,
    with a per-row number of real frames past the length (0, 5, 30 or all) and garbage (1e6) after them, which
    must never reach the evaluator. With ``lengths=None`` it picks lengths up to ``max_length``."""

    kind = "features"
    normalization = "raw"
    name = "replay"
    version = "1"

    def __init__(self, max_length: int = 196) -> None:
        self.max_length = max_length

    def generate(self, captions, lengths, seed):
        n = len(captions)
        out = np.full((n, FRAMES, 263), 1e6, np.float32)
        lens = np.empty(n, np.int64)
        frames = np.empty(n, np.int64)
        for i, caption in enumerate(captions):
            asked = None if lengths is None else int(lengths[i])
            rng = _caption_rng(caption, asked)
            length = asked if asked is not None else int(4 * rng.integers(10, min(self.max_length, 196) // 4 + 1))
            if asked is None and self.max_length > 196 and "quickly" in caption:
                length = self.max_length  # T2M-GPT's sampler can return more than 196 frames
            extra = [0, 5, 30, FRAMES][int(rng.integers(4))]
            real = min(FRAMES, length + extra)
            verb = caption.split()[2][:-1]
            out[i, :real] = toy_features(VERBS.index(verb) if verb in VERBS else 0, real, rng)
            lens[i], frames[i] = length, real
        return GeneratedMotion(out, lens, frames)


# ------------------------------------------------------------------------------------------ the reference
def _normalize(x, stats):
    return ((np.asarray(x, np.float64) - np.asarray(stats.mean, np.float64)) / np.asarray(stats.std, np.float64))


def _gt_features(items, plan, stats, max_frames):
    out = np.zeros((len(plan.item), max_frames, items.dim), np.float32)
    for r in range(len(plan.item)):
        i, start, length = int(plan.item[r]), int(plan.starts[r]), int(plan.lengths[r])
        clip = items.frames[items.offsets[i]: items.offsets[i] + items.lengths[i]]
        out[r, :length] = _normalize(clip[start: start + length], stats).astype(np.float32)
    return out


def _retrieval(text, motion, pool):
    n = (len(text) // pool) * pool
    hits, dist = np.zeros(3), 0.0
    for g in range(0, n, pool):
        t, m = text[g:g + pool].astype(np.float64), motion[g:g + pool].astype(np.float64)
        d = np.sqrt(((t[:, None, :] - m[None, :, :]) ** 2).sum(-1))
        for i in range(pool):  # ties count against the true match (metrics.md): rank = #{j != i: d_ij <= d_ii}
            hits += (np.sum(d[i] <= d[i, i]) - 1) < np.arange(1, 4)
        dist += np.trace(d)
    return hits / n, dist / n


def _fid(a, b):
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a.astype(np.float64), rowvar=False), np.cov(b.astype(np.float64), rowvar=False)
    root = scipy.linalg.sqrtm(s1).real
    lam = np.clip(np.linalg.eigvalsh(root @ s2 @ root), 0, None)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(lam).sum())


def reference_replication(run: Evaluation, generator: ReplayGenerator, r: int) -> dict[str, dict[str, float | None]]:
    """One replication of the preset's loop, written from the spec (see the module docstring)."""
    p, items, ev = run.preset, run.items, run.evaluator
    pool, max_frames = p.pool_size, p.max_frames

    a = draw_pass(items, p, pass_rng(run.seed, r, "gt_match"))
    a_tokens = [items.tokens[i][j] for i, j in zip(a.item, a.caption)]
    a_text = ev.embed_text([list(t)[:20] for t in a_tokens])
    a_motion = ev.embed_motion(_gt_features(items, a, ev.stats, max_frames), a.lengths)

    # generated rows: the scored ground-truth batches (MoMask, T2M-GPT) or an independent pass
    if p.generated_rows == "ground_truth_batches":
        n = (min(len(a.item), p.generated_samples or len(a.item)) // pool) * pool
        rows = (a.item[:n], a.caption[:n], a.lengths[:n])
    else:
        g = draw_pass(items, p, pass_rng(run.seed, r, "generated"), limit=p.generated_samples)
        rows = (g.item, g.caption, g.lengths)
    captions = [items.captions[i][j] for i, j in zip(rows[0], rows[1])]
    tokens = [items.tokens[i][j] for i, j in zip(rows[0], rows[1])]
    asked = rows[2] if p.generated_length == "ground_truth" else None
    out = generator.generate(captions, asked, 0)
    lengths = np.asarray(out.lengths).copy()
    if p.long_motions == "truncate":
        lengths = np.minimum(lengths, max_frames)
    assert lengths.max() <= max_frames
    feats = np.zeros((len(captions), max_frames, items.dim), np.float32)
    for k in range(len(captions)):
        if p.generated_padding == "zeros":
            fed = lengths[k]
        elif p.generated_padding == "none":
            fed = max_frames
        else:  # up to the longest motion of the row's batch of pool_size
            batch = slice((k // pool) * pool, (k // pool + 1) * pool)
            fed = min(int(lengths[batch].max()), max_frames)
        fed = min(fed, int(out.frames[k]))  # frames the sample lacks stay zero in normalized space
        feats[k, :fed] = _normalize(out.motions[k, :fed], ev.stats).astype(np.float32)
    g_motion = ev.embed_motion(feats, lengths)
    if p.text_length == "max":
        g_text = ev.embed_text([list(t)[:20] for t in tokens], text_lengths=np.full(len(tokens), 22))
    else:
        g_text = ev.embed_text([list(t)[:20] for t in tokens])

    if p.fid_reference == "same_batches":
        reference = a_motion[: len(captions)] if p.generated_rows == "ground_truth_batches" else a_motion
    else:
        b = draw_pass(items, p, pass_rng(run.seed, r, "gt_fid"))
        reference = ev.embed_motion(_gt_features(items, b, ev.stats, max_frames), b.lengths)

    table = {}
    for row, text, motion, stream in ((GROUND_TRUTH_ROW, a_text, a_motion, 0), (run.name, g_text, g_motion, 1)):
        rp, ms = _retrieval(text, motion, pool)
        same = row == GROUND_TRUTH_ROW and p.fid_reference == "same_batches"
        table[row] = {"r_precision_top1": rp[0], "r_precision_top2": rp[1], "r_precision_top3": rp[2],
                      "matching_score": ms, "fid": None if same else _fid(reference, motion),
                      "diversity": diversity(motion, p.diversity_pairs_for(len(motion)),
                                             rng=pass_rng(run.seed, r, "diversity", stream))}
    if not p.ground_truth_row:
        del table[GROUND_TRUTH_ROW]
    return table


@pytest.mark.filterwarnings("ignore:preset .* feeds each generated row:UserWarning")
@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_replayed_draws_give_the_same_numbers(toy, preset):
    root, ev_stats = toy
    generator = ReplayGenerator(max_length=200 if preset == "t2m-gpt" else 196)
    extra = {"generated_samples": 64} if preset.startswith("mdm") else {}
    run = Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=generator, preset=preset, seed=SEED,
                     chunk_size=40, overrides={**SMALL, **extra})  # chunks straddle the groups of 32
    result = run.score()
    assert [row.name for row in result.rows] == ([GROUND_TRUTH_ROW] if run.preset.ground_truth_row else []) + ["replay"]
    for r in range(run.preset.replications):
        expected = reference_replication(run, generator, r)
        assert set(expected) == {row.name for row in result.rows}
        for row in result.rows:
            for metric, value in expected[row.name].items():
                got = row.metrics[metric].values[r]
                if value is None:
                    assert got is None, (preset, row.name, metric)
                elif metric.startswith("r_precision"):
                    assert got == pytest.approx(value, abs=1e-12), (preset, row.name, metric, r)
                else:
                    assert got == pytest.approx(value, rel=1e-5, abs=1e-8), (preset, row.name, metric, r)
    if preset == "t2m-gpt":  # lengths over 196 occurred and were cut, not refused
        req = run._plan(0, "generated")
        assert req.lengths is None
        assert generator.generate(req.captions, None, 0).lengths.max() == 200
        assert run.embeddings(0)["generated/lengths"].max() == 196
    if preset in ("mdm", "momask"):  # some rows lack the frames the preset feeds: counted and said
        assert result.sample_counts["padded_rows"]["generated"]["rows"] > 0
        assert any("evaluator-normalized" in note for note in result.settings["table_notes"])


def test_ground_truth_batches_are_the_scored_pass(toy):
    """momask / t2m-gpt generate from the scored ground-truth rows: same captions, same crop lengths."""
    root, ev_stats = toy
    run = Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=ReplayGenerator(), preset="momask",
                     seed=SEED, overrides=SMALL)
    a = run._plan(1, "gt_match")
    req = run._plan(1, "generated")
    assert req.items == a.item[: len(req.items)].tolist()
    np.testing.assert_array_equal(req.lengths, a.lengths[: len(req.lengths)])
    assert not any(u.stage == "gt_fid" for u in run.units())  # no second ground-truth pass is drawn


# ------------------------------------------------------------------------------------------ statistics
class GroundTruthLike:
    """A model that returns real clips of the caption's item (random window, the asked length or a crop-rule
    length), i.e. samples from the ground-truth distribution; frames past the length continue the clip."""

    kind = "features"
    normalization = "raw"
    name = "gt-like"
    version = "1"

    def __init__(self, items):
        self.items = items
        self.index = items.caption_index()

    def generate(self, captions, lengths, seed):
        rng = np.random.default_rng(seed)
        out = np.zeros((len(captions), 196, self.items.dim), np.float32)
        lens, frames = np.empty(len(captions), np.int64), np.empty(len(captions), np.int64)
        for k, caption in enumerate(captions):
            hits = [h[0] for h in self.index[caption]
                    if lengths is None or self.items.lengths[h[0]] >= lengths[k]]  # items long enough
            i = hits[int(rng.integers(len(hits)))]
            total = int(self.items.lengths[i])
            length = int(lengths[k]) if lengths is not None else 4 * (total // 4 - int(rng.random() < 1 / 3))
            start = int(rng.integers(0, total - length + 1))
            clip = self.items.frames[self.items.offsets[i] + start: self.items.offsets[i] + total]
            out[k, : len(clip)] = clip[:196]
            lens[k], frames[k] = length, min(len(clip), 196)
        return GeneratedMotion(out, lens, frames)


def _mean_and_se(summary):
    values = np.asarray([v for v in summary.values if v is not None], np.float64)
    return values.mean(), values.std(ddof=1) / np.sqrt(len(values))


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_ground_truth_like_model_matches_the_ground_truth_row_on_average(toy, preset):
    """Over replications, a model drawing from the ground-truth distribution has the ground-truth row's
    R-precision and matching score (within 4 standard errors), whatever the preset's loop."""
    root, ev_stats = toy
    run = Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), generator=_gt_like(root, ev_stats),
                     preset=preset, seed=11, chunk_size=96,
                     overrides={**SMALL, "replications": 8, "ground_truth_row": True, "generated_padding": "zeros",
                                **({"generated_samples": 96} if preset.startswith("mdm") else {})})
    result = run.score()
    gt, model = result.ground_truth, result.model
    keys = ["r_precision_top1", "r_precision_top3", "matching_score"]
    if preset != "mdm-2023":  # the 22-token text length changes the text side of the model row only
        for key in keys:
            (m1, s1), (m2, s2) = _mean_and_se(gt[key]), _mean_and_se(model[key])
            assert abs(m1 - m2) <= 4 * np.hypot(s1, s2) + 1e-9, (preset, key, m1, m2)
    else:
        assert model["matching_score"].mean != pytest.approx(gt["matching_score"].mean, rel=1e-3)


def _gt_like(root, ev_stats):
    from motioneval.data.dataset import MotionDataset
    from motioneval.protocol.ground_truth import GroundTruthItems

    return GroundTruthLike(GroundTruthItems.from_dataset(MotionDataset(root, "test")))


def test_fid_against_the_same_batches_is_smaller_for_a_ground_truth_like_model(toy):
    """The issue's momask / t2m-gpt finding: with generated rows from the ground-truth batches and FID against
    those batches, a ground-truth-like model scores a clearly lower FID than against an independent pass."""
    root, ev_stats = toy
    kw = dict(dataset=root, evaluator=ToyEvaluator(ev_stats), seed=3, chunk_size=96)
    same = Evaluation(generator=_gt_like(root, ev_stats), preset="momask",
                      overrides={**SMALL, "replications": 6, "generated_padding": "zeros"}, **kw).score()
    independent = Evaluation(generator=_gt_like(root, ev_stats), preset="momask",
                             overrides={**SMALL, "replications": 6, "generated_padding": "zeros",
                                        "generated_rows": "independent", "fid_reference": "independent_pass"},
                             **kw).score()
    (m1, s1), (m2, s2) = _mean_and_se(same.model["fid"]), _mean_and_se(independent.model["fid"])
    assert m1 < m2 and (m2 - m1) > 3 * np.hypot(s1, s2), (m1, m2)
    assert "ground truth" not in [r.name for r in same.rows]  # MoMask prints only the model's row


# ------------------------------------------------------------------------------------------ done when
def _write_joint_dataset(root, *, num_clips=100, seed=0):
    """A HumanML3D-layout folder whose features come from joints (``joints_to_features``); returns the folder
    and, per clip, a longer joint sequence whose first ``T + 1`` frames are the clip (the rest continues it)."""
    from motioneval.representation.forward import joints_to_features
    from motioneval.testing import toy_caption, toy_joints

    rng = np.random.default_rng(seed)
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    ids, feats, sequences, classes = [], [], [], []
    for i in range(num_clips):
        cls = int(rng.integers(4))
        rows = int(rng.integers(60, 190))
        seq = toy_joints(rows + 1 + 200, rng, speed=0.01 + 0.01 * cls)
        f = np.asarray(joints_to_features(seq[: rows + 1]), np.float32)
        cid = f"{i:06d}"
        np.save(root / "new_joint_vecs" / f"{cid}.npy", f)
        text, tokens = toy_caption(cls, rng)
        (root / "texts" / f"{cid}.txt").write_text(f"{text}#{' '.join(tokens)}#0.0#0.0\n")
        ids.append(cid)
        feats.append(f)
        sequences.append(seq)
        classes.append(cls)
    stacked = np.concatenate(feats)
    np.save(root / "Mean.npy", stacked.mean(0).astype(np.float32))
    np.save(root / "Std.npy", (stacked.std(0) + 0.01).astype(np.float32))
    (root / "test.txt").write_text("\n".join(ids) + "\n")
    return ids, feats, sequences


@pytest.fixture(scope="module")
def joint_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("joints") / "HumanML3D"
    ids, feats, sequences = _write_joint_dataset(root)
    ds = FeatureStats.load(root / "Mean.npy", root / "Std.npy")
    rng = np.random.default_rng(8)
    ev = FeatureStats(ds.mean + 0.05 * ds.std, ds.std * rng.uniform(0.7, 1.3, ds.dim), name="evaluator")
    return root, ids, feats, sequences, ev


def _save_results(path, captions, joints, lengths):
    """MDM's results.npy layout: (N, 22, 3, F) joints, captions, lengths, one repetition."""
    motion = np.ascontiguousarray(np.stack(joints).transpose(0, 2, 3, 1), dtype=np.float32)
    np.save(path, {"motion": motion, "text": list(captions), "lengths": np.asarray(lengths),
                   "num_samples": len(captions), "num_repetitions": 1}, allow_pickle=True)
    return path


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ground_truth_saved_as_mdm_results_scores_like_ground_truth_under_mdm(joint_data, tmp_path):
    """Issue 11, "done when": the dataset's own motions saved as MDM results.npy (196 real frames, lengths
    within) score under --preset mdm as they do under t2m (FID within the noise)."""
    from motioneval.data.dataset import MotionDataset
    from motioneval.protocol.evaluate import evaluate

    root, ids, _feats, sequences, ev_stats = joint_data
    ds = MotionDataset(root, "test")
    captions = [ds[i].captions[0].text for i in range(len(ds))]
    order = {it: n for n, it in enumerate(ids)}
    seqs = [sequences[order[ds[i].id]] for i in range(len(ds))]
    lengths = [min(ds[i].length + 1, 196) for i in range(len(ds))]  # joint frames: L + 1 give L feature rows
    real = _save_results(tmp_path / "results.npy", captions, [s[:196] for s in seqs], lengths)
    kw = dict(dataset=root, evaluator=ToyEvaluator(ev_stats), allow_pickle=True, seed=1, chunk_size=96,
              replications=6, mm_replications=0, diversity_pairs=50, generated_samples=96)
    under_t2m = evaluate(samples=real, preset="t2m", **kw)
    under_mdm = evaluate(samples=real, preset="mdm", **kw)
    (m_t2m, s_t2m), (m_mdm, s_mdm) = _mean_and_se(under_t2m.model["fid"]), _mean_and_se(under_mdm.model["fid"])
    noise = np.hypot(s_t2m, s_mdm)
    gt_fid = under_mdm.ground_truth["fid"].mean
    assert abs(m_mdm - m_t2m) <= 4 * noise + 0.5 * gt_fid, (m_mdm, m_t2m, noise, gt_fid)
    for key in ("r_precision_top1", "matching_score"):
        (a, sa), (b, sb) = _mean_and_se(under_t2m.model[key]), _mean_and_se(under_mdm.model[key])
        assert abs(a - b) <= 4 * np.hypot(sa, sb) + 1e-9, key
    # only rows whose length reaches the last frame lack a frame (196 joint frames give 195 rows)
    padded = under_mdm.sample_counts["padded_rows"].get("generated", {"rows": 0})["rows"]
    assert padded <= sum(n - 1 + 3 > 195 for n in lengths)



@pytest.mark.filterwarnings("ignore::UserWarning")
def test_feature_folder_with_frames_past_lengths_scores_like_ground_truth_under_mdm(joint_data, tmp_path):
    """The same for a folder of raw feature files that keep frames past each manifest length."""
    import json

    from motioneval.data.dataset import MotionDataset
    from motioneval.protocol.evaluate import evaluate
    from motioneval.representation.forward import joints_to_features

    root, ids, _feats, sequences, ev_stats = joint_data
    ds = MotionDataset(root, "test")
    order = {it: n for n, it in enumerate(ids)}
    rows = []
    for i in range(len(ds)):
        item = ds[i]
        f = np.asarray(joints_to_features(sequences[order[item.id]][:197]), np.float32)  # 196 real rows
        np.save(tmp_path / f"{item.id}.npy", f)
        rows.append({"id": item.id, "caption": item.captions[0].text, "length": min(item.length, 196)})
    (tmp_path / "manifest.json").write_text(json.dumps({"normalization": "raw", "samples": rows}))
    kw = dict(dataset=root, evaluator=ToyEvaluator(ev_stats), seed=2, chunk_size=96, replications=6,
              mm_replications=0, diversity_pairs=50, generated_samples=96)
    under_t2m = evaluate(samples=tmp_path, preset="t2m", **kw)
    under_mdm = evaluate(samples=tmp_path, preset="mdm", **kw)
    (a, sa), (b, sb) = _mean_and_se(under_t2m.model["fid"]), _mean_and_se(under_mdm.model["fid"])
    assert abs(a - b) <= 4 * np.hypot(sa, sb) + 0.5 * under_mdm.ground_truth["fid"].mean, (a, b)
    assert "padded_rows" in under_mdm.sample_counts and not under_mdm.sample_counts["padded_rows"]

    # what the issue saw: raw zeros past each length fed as if generated (normalized into large values)
    zeros = tmp_path / "zeros"
    zeros.mkdir()
    for row in rows:
        f = np.load(tmp_path / f"{row['id']}.npy")
        f[row["length"]:] = 0.0
        np.save(zeros / f"{row['id']}.npy", f)
    (zeros / "manifest.json").write_text((tmp_path / "manifest.json").read_text())
    broken = evaluate(samples=zeros, preset="mdm", **kw)
    assert broken.model["fid"].mean > 5 * max(a, b) + 10 * np.hypot(sa, sb), (broken.model["fid"].mean, a, b)
    # the same motions without the zero frames (a version-1 style set: nothing past the lengths) are padded in
    # evaluator-normalized space instead, say so, and score close to the real continuation
    from motioneval.data.samples import read_sample_folder

    trimmed = read_sample_folder(tmp_path)
    trimmed = type(trimmed)(captions=trimmed.captions, lengths=trimmed.lengths, motions=trimmed.motions,
                            normalization="raw", ids=trimmed.ids)  # frames default to the lengths
    padded = evaluate(samples=trimmed, preset="mdm", **kw)
    assert padded.sample_counts["padded_rows"]["generated"]["rows"] > 0
    assert padded.model["fid"].mean < broken.model["fid"].mean / 5


# ------------------------------------------------------------------------------------------ loop details
def test_too_few_rows_names_the_counts(toy, tmp_path):
    """MDM's default generate.py output (10 prompts x 3 repetitions) under mdm: the error says how many rows
    there are and how many the preset needs."""
    from motioneval.data.dataset import MotionDataset
    from motioneval.data.samples import SampleSet
    from motioneval.protocol.ground_truth import GroundTruthItems

    root, ev_stats = toy
    items = GroundTruthItems.from_dataset(MotionDataset(root, "test"))
    caps = [items.captions[i][0] for i in range(10)]
    feats = np.zeros((30, 60, 263), np.float32) + 0.1
    s = SampleSet(captions=caps * 3, lengths=np.full(30, 48), motions=feats, num_repetitions=3,
                  tokens=[list(items.tokens[i][0]) for i in range(10)] * 3)
    with pytest.raises(ValueError, match=r"10 prompt\(s\) x 3 repetition\(s\) = 30 rows.*at least 32.*1024"):
        Evaluation(dataset=root, evaluator=ToyEvaluator(ev_stats), samples=s, preset="mdm")


def test_kit_caption_times_follow_the_lineage(tmp_path):
    """KIT-ML segment times: x 20 for t2m/mdm/momask (their shared loader), x 12.5 for t2m-gpt."""
    from motioneval.protocol.evaluate import _load_ground_truth

    root = tmp_path / "KIT-ML"
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    rng = np.random.default_rng(0)
    np.save(root / "new_joint_vecs" / "00001.npy", rng.normal(size=(150, 251)).astype(np.float32))
    (root / "texts" / "00001.txt").write_text("a person walks#a/DET person/NOUN walk/VERB#0.0#0.0\n"
                                             "a person turns#a/DET person/NOUN turn/VERB#2.0#5.0\n")
    np.save(root / "Mean.npy", np.zeros(251, np.float32))
    np.save(root / "Std.npy", np.ones(251, np.float32))
    (root / "test.txt").write_text("00001\n")
    lengths = {}
    for preset in ("t2m", "mdm", "momask", "t2m-gpt"):
        items, info = _load_ground_truth(root, "test", preset, {}, "raise")
        assert info["kind"] == "kit"
        lengths[preset] = sorted(items.lengths.tolist())
    assert lengths["t2m"] == lengths["mdm"] == lengths["momask"] == [60, 150]   # [40, 100): int(2*20)..int(5*20)
    assert lengths["t2m-gpt"] == [37, 150]                                      # [25, 62): x 12.5


def test_mdm_2023_reads_every_generated_caption_with_text_length_22(toy):
    root, ev_stats = toy
    ev = ToyEvaluator(ev_stats)
    kw = dict(dataset=root, evaluator=ev, generator=ReplayGenerator(), seed=1,
              overrides={**SMALL, "replications": 1, "generated_samples": 64})
    new, old = Evaluation(preset="mdm", **kw), Evaluation(preset="mdm-2023", **kw)
    a, b = new.embeddings(0), old.embeddings(0)
    np.testing.assert_array_equal(a["gt_match/text"], b["gt_match/text"])  # the ground-truth row is unchanged
    np.testing.assert_array_equal(a["generated/motion"], b["generated/motion"])
    tokens = [list(t) for t in old._plan(0, "generated").tokens]
    np.testing.assert_array_equal(b["generated/text"], ev.embed_text(tokens, text_lengths=np.full(len(tokens), 22)))
    assert not np.array_equal(a["generated/text"], b["generated/text"])


def test_another_lineages_evaluator_statistics_is_said_under_the_table(toy):
    root, ev_stats = toy

    class Loaded(ToyEvaluator):
        pass

    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp()) / "checkpoints" / "t2m" / "Comp_v6_KLD01" / "meta"
    folder.mkdir(parents=True)
    np.save(folder / "mean.npy", np.asarray(ev_stats.mean, np.float32))
    np.save(folder / "std.npy", np.asarray(ev_stats.std, np.float32))
    ev = Loaded(FeatureStats.load(folder / "mean.npy", folder / "std.npy"))
    with pytest.warns(UserWarning, match="Comp_v6_KLD005"):
        run = Evaluation(dataset=root, evaluator=ev, generator=ReplayGenerator(), preset="momask",
                         overrides={**SMALL, "replications": 1})
    assert any("Comp_v6_KLD005" in note for note in run.table_notes)
    quiet = Evaluation(dataset=root, evaluator=ev, generator=ReplayGenerator(), preset="t2m",
                       overrides={**SMALL, "replications": 1})
    assert not quiet.table_notes
