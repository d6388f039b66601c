"""The small TMR-architecture evaluator trained by our code: TMR's layout round trip, and the shipped demo asset."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from motioneval._io import sha256_file  # noqa: E402
from motioneval.evaluators.tmr import TMREvaluator  # noqa: E402
from motioneval.evaluators.tmr_training import (  # noqa: E402
    TMRTrainingConfig,
    caption_words,
    info_nce,
    train_tmr_evaluator,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")
ASSET = Path(__file__).resolve().parents[1] / "src" / "motioneval" / "assets" / "demo" / "tmr"


def test_caption_words_split_like_bert_basic_tokenizer():
    assert caption_words("A man walks, then JUMPS twice.") == ["a", "man", "walks", ",", "then", "jumps", "twice", "."]


def test_info_nce_masks_identical_captions_only_off_diagonal():
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    m = t.clone()
    none = torch.zeros(3, 3, dtype=torch.bool)
    same = torch.tensor([[True, False, True], [False, True, False], [True, False, True]])
    a, b = info_nce(t, m, none, 0.5), info_nce(t, m, same, 0.5)
    assert b < a  # the near-identical pair 0/2 no longer counts as a negative
    # brute force of the masked loss
    tn, mn = torch.nn.functional.normalize(t, dim=-1), torch.nn.functional.normalize(m, dim=-1)
    logits = (tn @ mn.T / 0.5).double().numpy()
    keep = ~(same.numpy() & ~np.eye(3, dtype=bool))
    rows = [-logits[i, i] + np.log(np.exp(logits[i][keep[i]]).sum()) for i in range(3)]
    cols = [-logits[i, i] + np.log(np.exp(logits[:, i][keep[:, i]]).sum()) for i in range(3)]
    assert float(b) == pytest.approx((np.mean(rows) + np.mean(cols)) / 2, rel=1e-5)


@pytest.mark.slow
def test_train_writes_tmr_layout_that_loads(tmp_path):
    from motioneval.demo.dataset import DemoDatasetConfig, build_demo_dataset

    ds = build_demo_dataset(tmp_path / "ds", DemoDatasetConfig(num_train=48, num_val=16, num_test=8))
    conf = TMRTrainingConfig(epochs=2, latent_dim=16, ff_size=32, num_layers=1, num_heads=2, text_dim=16,
                             text_layers=1, text_hidden=32, batch_size=16)
    seen = []
    result = train_tmr_evaluator(ds, tmp_path / "out", conf, callback=seen.append)
    assert [r["epoch"] for r in seen] == [1, 2] and result["best_epoch"] in (1, 2)
    run = result["run"]
    assert run == tmp_path / "out" / "models" / "tmr_demo"
    ev = TMREvaluator.load(run, device="cpu")
    assert ev.dim_embedding == 16 and ev.dataset == "demo"
    sd = torch.load(run / "last_weights" / "motion_encoder.pt", weights_only=True)
    np.testing.assert_array_equal(ev.motion_encoder.tokens.numpy(), sd["tokens"].numpy())
    from motioneval.data.dataset import MotionDataset

    train = list(MotionDataset(ds, "train"))
    allf = np.concatenate([it.features for it in train]).astype(np.float64)
    np.testing.assert_allclose(ev.stats.mean, allf.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ev.stats.std, allf.std(0, ddof=1), rtol=1e-5, atol=1e-7)
    emb = ev.embed_text([it.captions[0].text for it in train[:4]])
    assert emb.shape == (4, 16) and np.isfinite(emb).all()


@pytest.mark.skipif(not (ASSET / "BUILD.json").is_file(), reason="demo TMR asset not built")
def test_shipped_demo_asset_loads_and_matches_its_build_record():
    build = json.loads((ASSET / "BUILD.json").read_text())
    for rel, digest in build["files"].items():
        assert sha256_file(ASSET / rel) == digest, rel
    size = sum(p.stat().st_size for p in ASSET.rglob("*") if p.is_file())
    assert size < 3_000_000
    from motioneval.demo.evaluator_assets import demo_tmr_run_dir

    assert demo_tmr_run_dir().resolve() == (ASSET / "models" / "tmr_demo").resolve()
    ev = TMREvaluator.load(demo_tmr_run_dir(), device="cpu")
    assert set(build["files"]) <= {Path(p).relative_to(ASSET.resolve()).as_posix() for p in ev.provenance} | {
        "models/demo-distilbert/tokenizer.json", "models/demo-distilbert/tokenizer_config.json"}
    assert build["test_protocols"]["guo"]["t2m/R01"] >= 100 * 8 / 32
    text = ev.embed_text(["a man does two squats.", "a person walks forward."])
    assert text.shape == (2, ev.dim_embedding) and np.abs(text[0] - text[1]).max() > 1e-3
