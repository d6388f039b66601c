"""Training a T2M evaluator on a tiny synthetic dataset: the recipe's pieces, outputs, resume and retrieval."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from motioneval.evaluators.t2m import T2MEvaluator  # noqa: E402
from motioneval.evaluators.t2m_modules import T2MConfig  # noqa: E402
from motioneval.evaluators.training import (  # noqa: E402
    TrainingConfig,
    contrastive_loss,
    evaluator_statistics,
    train_evaluator,
)
from motioneval.evaluators.word_vectorizer import WordVectorizer  # noqa: E402
from motioneval.representation.layout import HUMANML3D_LAYOUT  # noqa: E402

# Four motion classes, each with a distinct feature pattern and its own captions.
CLASSES = {
    "walk": ["a/DET person/NOUN walk/VERB forward/ADV", "someone/PRON walk/VERB slowly/ADV"],
    "jump": ["a/DET person/NOUN jump/VERB up/ADP", "someone/PRON jump/VERB in/ADP place/NOUN"],
    "wave": ["a/DET person/NOUN wave/VERB his/DET hand/NOUN", "someone/PRON raise/VERB an/DET arm/NOUN"],
    "spin": ["a/DET person/NOUN spin/VERB around/ADV", "someone/PRON turn/VERB in/ADP a/DET circle/NOUN"],
}
TINY = T2MConfig(dim_pose=259, dim_movement_enc_hidden=32, dim_movement_latent=32, dim_word=24, dim_pos_ohot=15,
                 dim_text_hidden=32, dim_motion_hidden=32, dim_coemb_hidden=32)


def _vocabulary(dim: int = 24) -> WordVectorizer:
    words = ["sos", "eos", "unk"] + sorted({t.split("/")[0] for caps in CLASSES.values() for c in caps
                                            for t in c.split()})
    return WordVectorizer.from_arrays(words, np.random.default_rng(1).standard_normal((len(words), dim)))


def _make_dataset(root: Path, per_class: dict[str, int], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    base = np.random.default_rng(123).standard_normal((len(CLASSES), 263))  # class signatures
    freq = [0.05, 0.15, 0.3, 0.5]
    splits: dict[str, list[str]] = {}
    n = 0
    all_feats = []
    for split, count in per_class.items():
        for c, name in enumerate(CLASSES):
            for _ in range(count):
                clip = f"{n:06d}"
                n += 1
                t = int(rng.integers(44, 120))
                time = np.arange(t)[:, None]
                x = 0.8 * base[c] + np.sin(freq[c] * time + rng.uniform(0, 6.28, 263)) \
                    + 0.3 * rng.standard_normal((t, 263))
                x[:, HUMANML3D_LAYOUT.contacts] = (x[:, HUMANML3D_LAYOUT.contacts] > 0).astype(float)
                np.save(root / "new_joint_vecs" / f"{clip}.npy", x.astype(np.float32))
                lines = [f"{cap.replace('/', '_')}#{cap}#0.0#0.0" for cap in CLASSES[name]]
                (root / "texts" / f"{clip}.txt").write_text("\n".join(lines) + "\n")
                splits.setdefault(split, []).append(clip)
                all_feats.append(x)
    for split, ids in splits.items():
        (root / f"{split}.txt").write_text("\n".join(ids) + "\n")
    stacked = np.concatenate(all_feats)
    np.save(root / "Mean.npy", stacked.mean(0).astype(np.float32))
    np.save(root / "Std.npy", stacked.std(0).astype(np.float32))


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "dataset"
    _make_dataset(root, {"train": 12, "val": 4, "test": 6})
    return root


def _config(**kw) -> TrainingConfig:
    base = dict(model=TINY, ae_epochs=3, ae_batch_size=16, epochs=25, batch_size=16, lr=3e-3, ae_lr=1e-3,
                device="cpu", seed=0)
    base.update(kw)
    return TrainingConfig(**base)


def test_contrastive_loss_closed_form():
    rng = np.random.default_rng(0)
    t = torch.from_numpy(rng.standard_normal((5, 3)))
    m = torch.from_numpy(rng.standard_normal((5, 3)))
    loss, pos, neg = contrastive_loss(t, m, shift=2, margin=10.0)
    tn, mn = t.numpy(), m.numpy()
    d_pos = np.linalg.norm(tn - mn + 1e-6, axis=1)  # F.pairwise_distance adds eps to the difference
    d_neg = np.linalg.norm(tn - np.roll(mn, -2, axis=0) + 1e-6, axis=1)
    assert pos.item() == pytest.approx(np.mean(d_pos**2), rel=1e-12)
    assert neg.item() == pytest.approx(np.mean(np.maximum(10.0 - d_neg, 0) ** 2), rel=1e-12)
    assert loss.item() == pytest.approx(pos.item() + neg.item(), rel=1e-12)
    # negatives beyond the margin cost nothing; matching pairs cost nothing
    far = torch.arange(5.0, dtype=t.dtype)[:, None] * 100
    _, _, neg_far = contrastive_loss(t + far, m + far, shift=1, margin=10.0)
    assert neg_far.item() == 0.0
    _, pos_same, _ = contrastive_loss(t, t.clone(), shift=1, margin=10.0)
    assert pos_same.item() == pytest.approx(3 * 1e-12, abs=1e-15)  # only the eps of pairwise_distance


def test_evaluator_statistics_feat_bias():
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal((50, 263)) * 2 + 1 for _ in range(3)]
    s1 = evaluator_statistics(clips, feat_bias=1.0)
    s25 = evaluator_statistics(clips, feat_bias=25.0)
    lay = HUMANML3D_LAYOUT
    stacked = np.concatenate(clips)
    np.testing.assert_allclose(s1.mean, stacked.mean(0), atol=1e-12)
    np.testing.assert_allclose(s1.std[lay.ric], stacked[:, lay.ric].std(0).mean(), rtol=1e-12)
    np.testing.assert_allclose(s25.std[lay.root], s1.std[lay.root] / 25, rtol=1e-12)
    np.testing.assert_allclose(s25.std[lay.contacts], s1.std[lay.contacts] / 25, rtol=1e-12)
    np.testing.assert_array_equal(s25.std[lay.rot], s1.std[lay.rot])


def test_config_validation():
    with pytest.raises(ValueError, match="batch_size"):
        TrainingConfig(batch_size=1)
    with pytest.raises(ValueError, match="multiples of 4"):
        TrainingConfig(ae_window=10)
    with pytest.raises(ValueError, match="name"):
        TrainingConfig(name="a/b")


@pytest.mark.slow
def test_train_tiny_dataset_end_to_end(tiny_dataset, tmp_path):
    out = tmp_path / "evaluator"
    records = []
    result = train_evaluator(tiny_dataset, out, _vocabulary(), config=_config(name="synthetic"),
                             callback=records.append)
    # official layout beside the vocabulary and statistics
    ckpt = out / "synthetic" / "text_mot_match" / "model" / "finest.tar"
    assert result.checkpoint == ckpt and ckpt.is_file()
    assert (out / "synthetic" / "text_mot_match" / "model" / "latest.tar").is_file()
    assert (out / "synthetic" / "movement_ae" / "model" / "finest.tar").is_file()
    assert {p.name for p in (out / "glove").iterdir()} == {"our_vab_data.npy", "our_vab_words.pkl", "our_vab_idx.pkl"}
    assert (out / "synthetic_mean.npy").is_file() and (out / "synthetic_std.npy").is_file()
    saved = torch.load(ckpt, weights_only=True)
    assert set(saved) == {"movement_encoder", "text_encoder", "motion_encoder", "epoch"}
    log = json.loads((out / "synthetic" / "training.json").read_text())
    assert len(log["history"]) == 3 + 25 == len(records)

    # stage 1: the autoencoder learns; the movement encoder is frozen afterwards
    ae = [r for r in result.history if r["stage"] == "movement_ae"]
    assert ae[-1]["train_loss"] < ae[0]["train_loss"]
    stage1 = torch.load(out / "synthetic" / "movement_ae" / "model" / "finest.tar", weights_only=True)
    for k, v in stage1["movement_encoder"].items():
        torch.testing.assert_close(saved["movement_encoder"][k], v, rtol=0, atol=0)

    # stage 2: the contrastive loss decreases (train and validation)
    match = [r for r in result.history if r["stage"] == "text_motion_match"]
    first, last = np.mean([r["train_loss"] for r in match[:3]]), np.mean([r["train_loss"] for r in match[-3:]])
    assert last < 0.7 * first
    assert min(r["val_loss"] for r in match) < match[0]["val_loss"]
    assert result.best_val_loss == min(r["val_loss"] for r in match)
    assert saved["epoch"] == result.best_epoch

    # the trained evaluator loads through the public path and retrieves better than chance on the test split
    ev = T2MEvaluator.load(out)
    assert ev.dataset == "synthetic" and ev.config == TINY
    assert set(ev.provenance) >= {str(ckpt.resolve()), str((out / "synthetic_mean.npy").resolve())}
    r1 = _pool_r1(ev, tiny_dataset, "test")
    assert r1 >= 0.6, r1  # chance is 0.25 in pools of 4 (one motion per class)


def _pool_r1(ev: T2MEvaluator, root: Path, split: str) -> float:
    """R@1 in pools of 4 items, one per class: text i must be nearest to its own class's motion."""
    ids = (root / f"{split}.txt").read_text().split()
    per_class = len(ids) // len(CLASSES)
    hits = total = 0
    for j in range(per_class):
        rows = [ids[c * per_class + j] for c in range(len(CLASSES))]
        feats = [np.load(root / "new_joint_vecs" / f"{i}.npy") for i in rows]
        lengths = np.array([len(f) // 4 * 4 for f in feats])
        x = np.zeros((len(rows), lengths.max(), 263), np.float32)
        for k, f in enumerate(feats):
            x[k, :lengths[k]] = ev.stats.normalize(f[:lengths[k]])
        for cap in range(2):
            tokens = [list(CLASSES)[c] for c in range(len(CLASSES))]
            text = ev.embed_text([CLASSES[name][cap].split() for name in tokens])
            motion = ev.embed_motion(x, lengths)
            d = np.linalg.norm(text[:, None] - motion[None], axis=-1)
            hits += int((d.argmin(1) == np.arange(len(rows))).sum())
            total += len(rows)
    return hits / total


@pytest.mark.slow
def test_resume_continues_where_it_stopped(tiny_dataset, tmp_path):
    cfg = _config(name="res", ae_epochs=2, epochs=4)
    full = train_evaluator(tiny_dataset, tmp_path / "full", _vocabulary(), config=cfg)
    # interrupted after 2 matching epochs, then resumed to 4
    part = train_evaluator(tiny_dataset, tmp_path / "part", _vocabulary(), config=_config(name="res", ae_epochs=2,
                                                                                          epochs=2))
    assert [r["epoch"] for r in part.history if r["stage"] == "text_motion_match"] == [1, 2]
    resumed = train_evaluator(tiny_dataset, tmp_path / "part", _vocabulary(), config=cfg)
    assert [(r["stage"], r["epoch"]) for r in resumed.history] == [(r["stage"], r["epoch"]) for r in full.history]
    # same seed, same data order, restored optimizer and RNG states: the same weights as the uninterrupted run
    a = torch.load(tmp_path / "full" / "res" / "text_mot_match" / "model" / "latest.tar", weights_only=True)
    b = torch.load(tmp_path / "part" / "res" / "text_mot_match" / "model" / "latest.tar", weights_only=True)
    for name in ("text_encoder", "motion_encoder", "movement_encoder"):
        for k in a[name]:
            torch.testing.assert_close(a[name][k], b[name][k], rtol=1e-5, atol=1e-6)
    # a finished run resumed again trains nothing more
    again = train_evaluator(tiny_dataset, tmp_path / "part", _vocabulary(), config=cfg)
    assert len(again.history) == len(resumed.history)
    # resuming with other sizes is refused
    with pytest.raises(ValueError, match="cannot resume"):
        train_evaluator(tiny_dataset, tmp_path / "part", _vocabulary(),
                        config=_config(name="res", model=T2MConfig(**{**TINY.to_dict(), "dim_motion_hidden": 16})))


def test_training_input_errors(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="word-vector size"):
        train_evaluator(tiny_dataset, tmp_path / "o", WordVectorizer.from_arrays(["sos", "eos", "unk"], np.zeros((3, 7))),
                        config=_config(epochs=0, ae_epochs=0))
    with pytest.raises(ValueError, match="reserved"):
        train_evaluator(tiny_dataset, tmp_path / "o", _vocabulary(),
                        config=_config(name="kit", model=T2MConfig(**{**TINY.to_dict(), "dim_pose": 259})))
    with pytest.raises(FileNotFoundError, match="split file"):
        train_evaluator(tiny_dataset, tmp_path / "o", _vocabulary(), config=_config(val_split="nosuchsplit"))


@pytest.mark.slow
def test_cli_train_evaluator(tiny_dataset, tmp_path, capsys):
    from motioneval.cli.main import main

    _vocabulary().save(tmp_path / "vocab")
    args = [str(tiny_dataset), "--out", str(tmp_path / "ev"), "--glove", str(tmp_path / "vocab"), "--name", "tiny",
            "--epochs", "2", "--ae-epochs", "1", "--batch-size", "16", "--device", "cpu"]
    sizes = ["--dim-movement-enc-hidden", "16", "--dim-movement-latent", "16", "--dim-text-hidden", "16",
             "--dim-motion-hidden", "16", "--dim-coemb-hidden", "8"]
    assert main(["train-evaluator", *args, *sizes]) == 0
    out = capsys.readouterr()
    assert "evaluator written to" in out.out and "text_motion_match" in out.err
    ev = T2MEvaluator.load(tmp_path / "ev")
    assert ev.dataset == "tiny" and ev.dim_embedding == 8 and ev.config.dim_motion_hidden == 16
    assert main(["train-evaluator", *args, "--mean", str(tmp_path / "ev" / "tiny_mean.npy")]) == 1
    assert "both --mean and --std" in capsys.readouterr().err
