"""TMREvaluator: an official-layout TMR folder built here with random weights (tiny DistilBERT from a config
and a hand-made vocabulary, no download), key/shape parity with TMR's checkpoints, a hand-written forward
pass, padding/length rules and precise loading errors."""
from __future__ import annotations

import inspect
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from motioneval._io import sha256_file  # noqa: E402
from motioneval.evaluators import TMREvaluator  # noqa: E402
from motioneval.evaluators.tmr_modules import (  # noqa: E402
    TMREncoderConfig,
    build_encoder,
    expected_shapes,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

WORDS = ["a", "person", "walks", "forward", "and", "then", "turns", "around", "slowly", "jumps", "kicks", "with",
         "his", "left", "right", "leg", "the", "man"]
TEXT_DIM = 24
MOTION_CONF = dict(_target_="src.model.ACTORStyleEncoder", nfeats=263, vae=True, latent_dim=16, ff_size=32,
                   num_layers=2, num_heads=2, dropout=0.1, activation="gelu")
TEXT_CONF = dict(MOTION_CONF, nfeats=TEXT_DIM)
CAPTIONS = ["A person walks forward.", "a man kicks with his left leg, then turns around", "jumps",
            "the person slowly walks forward and then jumps"]


def _config() -> dict:
    """The parts of TMR's resolved ``config.json`` that matter (as written by its ``save_config``)."""
    return {
        "data": {"_target_": "src.data.text_motion.TextMotionDataset", "path": "datasets/annotations/humanml3d",
                 "motion_loader": {"_target_": "src.data.motion.AMASSMotionLoader",
                                   "base_dir": "datasets/motions/guoh3dfeats", "fps": 20.0, "nfeats": 263,
                                   "normalizer": {"_target_": "src.data.motion.Normalizer",
                                                  "base_dir": "stats/humanml3d/guoh3dfeats", "eps": 1e-12}},
                 "text_to_token_emb": {"modelname": "distilbert-base-uncased"},
                 "text_to_sent_emb": {"modelname": "sentence-transformers/all-mpnet-base-v2"}},
        "model": {"_target_": "src.model.TMR", "motion_encoder": MOTION_CONF, "text_encoder": TEXT_CONF,
                  "motion_decoder": {"_target_": "src.model.ACTORStyleDecoder", "nfeats": 263, "latent_dim": 16},
                  "vae": True, "threshold_selfsim_metrics": 0.95},
    }


def make_text_model(folder: Path) -> Path:
    """A tiny DistilBERT (random weights) and a word-level uncased vocabulary, saved with save_pretrained."""
    folder.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","] + sorted(set(WORDS))
    cls = transformers.DistilBertTokenizer
    params = inspect.signature(cls.__init__).parameters
    if "vocab_file" in params:  # transformers 4
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
        tok = cls(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    else:  # transformers 5: the vocabulary as a dict
        tok = cls(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    tok.save_pretrained(folder)
    cfg = transformers.DistilBertConfig(vocab_size=len(vocab), dim=TEXT_DIM, n_layers=2, n_heads=2, hidden_dim=48,
                                        max_position_embeddings=64)
    torch.manual_seed(0)
    transformers.DistilBertModel(cfg).save_pretrained(folder)
    return folder


def random_state_dict(conf: dict, seed: int) -> dict:
    torch.manual_seed(seed)
    enc = build_encoder(TMREncoderConfig.from_tmr(conf))
    sd = enc.state_dict()
    # non-trivial LayerNorm and bias values
    return {k: (v + 0.05 * torch.randn_like(v)) for k, v in sd.items()}


@pytest.fixture(scope="session")
def tmr_root(tmp_path_factory) -> Path:
    """``<root>/models/tmr_humanml3d_guoh3dfeats/{config.json,last_weights/*.pt}``, ``<root>/stats/...``,
    ``<root>/models/distilbert-base-uncased/`` (the TMR checkout layout)."""
    root = tmp_path_factory.mktemp("TMR")
    run = root / "models" / "tmr_humanml3d_guoh3dfeats"
    (run / "last_weights").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(_config(), indent=4))
    torch.save(random_state_dict(MOTION_CONF, 1), run / "last_weights" / "motion_encoder.pt")
    torch.save(random_state_dict(TEXT_CONF, 2), run / "last_weights" / "text_encoder.pt")
    torch.save({"final_layer.weight": torch.zeros(263, 16)}, run / "last_weights" / "motion_decoder.pt")
    stats = root / "stats" / "humanml3d" / "guoh3dfeats"
    stats.mkdir(parents=True)
    g = torch.Generator().manual_seed(3)
    torch.save(torch.randn(263, generator=g), stats / "mean.pt")
    torch.save(torch.rand(263, generator=g) + 0.2, stats / "std.pt")
    make_text_model(root / "models" / "distilbert-base-uncased")
    return root


@pytest.fixture(scope="session")
def run_dir(tmr_root) -> Path:
    return tmr_root / "models" / "tmr_humanml3d_guoh3dfeats"


@pytest.fixture(scope="session")
def ev(run_dir) -> TMREvaluator:
    return TMREvaluator.load(run_dir, device="cpu")


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of the whole checkout (stats and text model resolve relative to the run)."""
    root = tmp_path / "TMR"
    shutil.copytree(run_dir.parent.parent, root)
    return root / "models" / run_dir.name


# ------------------------------------------------------------------------------------------- independent forward
def reference_embed(sd: dict, conf: dict, x: np.ndarray) -> np.ndarray:
    """One unpadded sequence ``(T, nfeats)`` through TMR's encoder, written out by hand in float64: projection,
    learned tokens first, sinusoidal positions, post-norm layers (attention, GELU MLP), output 0."""
    p = {k: v.double().numpy() for k, v in sd.items()}
    d, heads = conf["latent_dim"], conf["num_heads"]
    h = np.asarray(x, np.float64) @ p["projection.weight"].T + p["projection.bias"]
    seq = np.concatenate([p["tokens"], h], axis=0)
    pos = np.arange(seq.shape[0])[:, None]
    freq = np.exp(-np.arange(0, d, 2) * math.log(10000.0) / d)
    pe = np.zeros((seq.shape[0], d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(pos * freq), np.cos(pos * freq)
    z = seq + pe

    def ln(v, w, b):
        mu = v.mean(-1, keepdims=True)
        var = ((v - mu) ** 2).mean(-1, keepdims=True)
        return (v - mu) / np.sqrt(var + 1e-5) * w + b

    for i in range(conf["num_layers"]):
        k = f"seqTransEncoder.layers.{i}."
        qkv = z @ p[k + "self_attn.in_proj_weight"].T + p[k + "self_attn.in_proj_bias"]
        q, kk, v = np.split(qkv, 3, axis=1)
        dh = d // heads
        att = np.zeros_like(q)
        for hd in range(heads):
            sl = slice(hd * dh, (hd + 1) * dh)
            logits = q[:, sl] @ kk[:, sl].T / math.sqrt(dh)
            w = np.exp(logits - logits.max(1, keepdims=True))
            att[:, sl] = (w / w.sum(1, keepdims=True)) @ v[:, sl]
        z = ln(z + att @ p[k + "self_attn.out_proj.weight"].T + p[k + "self_attn.out_proj.bias"],
               p[k + "norm1.weight"], p[k + "norm1.bias"])
        a = z @ p[k + "linear1.weight"].T + p[k + "linear1.bias"]
        a = 0.5 * a * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))
        z = ln(z + a @ p[k + "linear2.weight"].T + p[k + "linear2.bias"], p[k + "norm2.weight"], p[k + "norm2.bias"])
    return z[0]


# ------------------------------------------------------------------------------------------- parity
def test_official_key_list_and_shapes():
    """TMR's ACTORStyleEncoder keys (``projection``, ``tokens``, ``seqTransEncoder.layers.<i>.*`` of
    ``nn.TransformerEncoderLayer``; the positional table is a non-persistent buffer) for the released sizes:
    latent 256, ff 1024, 6 layers, 4 heads, VAE (2 tokens); motion 263-d, text 768-d (DistilBERT)."""
    per_layer = [("self_attn.in_proj_weight", (768, 256)), ("self_attn.in_proj_bias", (768,)),
                 ("self_attn.out_proj.weight", (256, 256)), ("self_attn.out_proj.bias", (256,)),
                 ("linear1.weight", (1024, 256)), ("linear1.bias", (1024,)), ("linear2.weight", (256, 1024)),
                 ("linear2.bias", (256,)), ("norm1.weight", (256,)), ("norm1.bias", (256,)),
                 ("norm2.weight", (256,)), ("norm2.bias", (256,))]
    for nfeats in (263, 768):
        official = {"tokens": (2, 256), "projection.weight": (256, nfeats), "projection.bias": (256,)}
        official.update({f"seqTransEncoder.layers.{i}.{k}": s for i in range(6) for k, s in per_layer})
        conf = TMREncoderConfig(nfeats=nfeats)
        assert expected_shapes(conf) == official
        with torch.device("meta"):
            module = build_encoder(conf)
        assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == official
        assert "sequence_pos_encoding.pe" not in module.state_dict()


def test_loaded_like_the_release(ev, run_dir, tmr_root):
    assert ev.dataset == "humanml3d" and ev.dim_features == 263 and ev.dim_embedding == 16
    assert ev.device.type == "cpu" and not ev.motion_encoder.training and not ev.text_encoder.training
    mean = torch.load(tmr_root / "stats/humanml3d/guoh3dfeats/mean.pt").numpy()
    std = torch.load(tmr_root / "stats/humanml3d/guoh3dfeats/std.pt").numpy()
    np.testing.assert_array_equal(ev.stats.mean, mean)
    np.testing.assert_array_equal(ev.stats.std, (torch.from_numpy(std) + 1e-12).numpy())
    files = [run_dir / "config.json", run_dir / "last_weights/motion_encoder.pt", run_dir / "last_weights/text_encoder.pt",
             tmr_root / "stats/humanml3d/guoh3dfeats/mean.pt", tmr_root / "stats/humanml3d/guoh3dfeats/std.pt",
             *sorted((tmr_root / "models/distilbert-base-uncased").iterdir())]
    assert ev.provenance == {str(p.resolve()): sha256_file(p) for p in files}
    assert str((run_dir / "last_weights/motion_decoder.pt").resolve()) not in ev.provenance


def test_default_device_follows_t2m_style(run_dir):
    ev = TMREvaluator.load(run_dir, load_text_model=False)
    assert ev.device.type == ("cuda" if torch.cuda.is_available() else "cpu") and ev.text_model is None
    with pytest.raises(ValueError, match="no text model"):
        ev.embed_text(["a person walks"])


def test_motion_matches_hand_written_forward(ev, run_dir):
    rng = np.random.default_rng(0)
    raw = rng.standard_normal((4, 30, 263)).astype(np.float32)
    lens = np.array([30, 7, 1, 19])
    got = ev.embed_raw_motion(raw, lens)
    sd = torch.load(run_dir / "last_weights/motion_encoder.pt", weights_only=True)
    mean = torch.load(run_dir.parent.parent / "stats/humanml3d/guoh3dfeats/mean.pt")
    std = torch.load(run_dir.parent.parent / "stats/humanml3d/guoh3dfeats/std.pt")
    for i, n in enumerate(lens):
        x = ((torch.from_numpy(raw[i, :n]) - mean) / (std + 1e-12)).numpy()  # TMR's Normalizer
        np.testing.assert_allclose(got[i], reference_embed(sd, MOTION_CONF, x), rtol=0, atol=2e-5)


def test_text_matches_distilbert_then_hand_written_forward(ev, run_dir, tmr_root):
    got = ev.embed_text(CAPTIONS)
    tm = tmr_root / "models" / "distilbert-base-uncased"
    tok = transformers.AutoTokenizer.from_pretrained(tm, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(tm, local_files_only=True).eval()
    sd = torch.load(run_dir / "last_weights/text_encoder.pt", weights_only=True)
    for i, caption in enumerate(CAPTIONS):
        enc = tok([caption], return_tensors="pt", padding=True)  # TMR's TextToEmb, one caption
        assert enc["input_ids"][0, 0] == tok.cls_token_id and enc["input_ids"][0, -1] == tok.sep_token_id
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state[0].numpy()
        np.testing.assert_allclose(got[i], reference_embed(sd, TEXT_CONF, hidden), rtol=0, atol=2e-5)


def test_text_model_is_found_or_refused(run_dir, tmp_path, tmr_root):
    # explicit folder, elsewhere
    moved = shutil.copytree(tmr_root / "models" / "distilbert-base-uncased", tmp_path / "my_bert")
    a = TMREvaluator.load(run_dir, device="cpu", text_model=moved)
    assert str((moved / "config.json").resolve()) in a.provenance
    # nothing next to the run and no hub download unless asked
    root = tmp_path / "bare"
    run = root / "models" / run_dir.name
    shutil.copytree(run_dir, run)
    shutil.copytree(tmr_root / "stats", root / "stats")
    with pytest.raises(FileNotFoundError, match="allow_download=True"):
        TMREvaluator.load(run, device="cpu", text_model="no-such-org/no-such-model-for-tests")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TMREvaluator.load(run, device="cpu", text_model=tmp_path / "missing_folder")


# ------------------------------------------------------------------------------------------- padding / lengths
def test_padding_and_frames_past_length_do_not_change_embeddings(ev):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 40, 263)).astype(np.float32)
    lens = np.array([40, 3, 17, 1, 26])
    base = ev.embed_motion(x, lens)
    junk = x.copy()
    past = np.arange(40)[None, :] >= lens[:, None]
    junk[past] = np.nan  # even NaN past a length is never read
    np.testing.assert_array_equal(ev.embed_motion(junk, lens), base)
    alone = np.stack([ev.embed_motion(x[i:i + 1, :lens[i]], lens[i:i + 1])[0] for i in range(5)])
    np.testing.assert_allclose(base, alone, rtol=0, atol=1e-5)  # other rows' lengths/padding: float noise only
    wider = np.concatenate([x, np.zeros((5, 60, 263), np.float32)], axis=1)
    np.testing.assert_allclose(ev.embed_motion(wider, lens, batch_size=2), base, rtol=0, atol=1e-5)
    # and a frame within the length does matter
    changed = x.copy()
    changed[1, 2] += 1.0
    assert np.abs(ev.embed_motion(changed, lens)[1] - base[1]).max() > 1e-4


def test_embed_equals_the_full_module_forward(ev):
    """The last-layer shortcut of ``embed`` gives the plain ``nn.TransformerEncoder`` output 0."""
    rng = np.random.default_rng(4)
    x = torch.from_numpy(rng.standard_normal((6, 33, 263)).astype(np.float32))
    mask = torch.arange(33)[None, :] < torch.tensor([33, 1, 12, 30, 5, 20])[:, None]
    with torch.inference_mode():
        full = ev.motion_encoder(x, mask)
        fast = ev.motion_encoder.embed(x, mask)
    assert full.shape == (6, 2, 16)
    np.testing.assert_allclose(fast.numpy(), full[:, 0].numpy(), rtol=0, atol=2e-6)


def test_text_batching_does_not_change_embeddings(ev):
    batch = ev.embed_text(CAPTIONS)
    alone = np.stack([ev.embed_text([c])[0] for c in CAPTIONS])
    np.testing.assert_allclose(batch, alone, rtol=0, atol=1e-5)
    assert np.abs(batch[0] - batch[3]).max() > 1e-4


def test_no_196_frame_cap(ev):
    x = np.random.default_rng(2).standard_normal((1, 300, 263)).astype(np.float32)
    a = ev.embed_motion(x, [300])
    b = ev.embed_motion(x, [196])
    assert np.abs(a - b).max() > 1e-4  # frames past 196 are read (TMR does not crop)


def test_motion_input_errors(ev):
    x = np.zeros((2, 10, 263), np.float32)
    with pytest.raises(ValueError, match="263"):
        ev.embed_motion(np.zeros((2, 10, 251), np.float32), [10, 10])
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        ev.embed_motion(x, [10, 0])
    with pytest.raises(ValueError, match=r"rows \[0\]"):
        ev.embed_motion(x, [11, 3])
    bad = x.copy()
    bad[1, 4, 0] = np.nan
    with pytest.raises(ValueError, match=r"\[1\]"):
        ev.embed_motion(bad, [10, 10])
    with pytest.raises(TypeError, match="free-text"):
        ev.embed_text([["a/DET", "person/NOUN"]])


# ------------------------------------------------------------------------------------------- formats and errors
def test_safetensors_weights_load_identically(ev, run_dir, tmp_path):
    from safetensors.torch import save_file

    run = copy_run(run_dir, tmp_path)
    for name in ("motion_encoder", "text_encoder"):
        sd = torch.load(run / "last_weights" / f"{name}.pt", weights_only=True)
        (run / "last_weights" / f"{name}.pt").unlink()
        save_file({k: v.contiguous() for k, v in sd.items()}, run / "last_weights" / f"{name}.safetensors")
    other = TMREvaluator.load(run, device="cpu")
    x = np.random.default_rng(3).standard_normal((2, 12, 263)).astype(np.float32)
    np.testing.assert_array_equal(other.embed_motion(x, [12, 5]), ev.embed_motion(x, [12, 5]))


def test_wrong_shapes_and_names_are_named(run_dir, tmp_path):
    run = copy_run(run_dir, tmp_path)
    path = run / "last_weights" / "motion_encoder.pt"
    sd = torch.load(path, weights_only=True)
    sd["projection.weight"] = torch.zeros(16, 251)
    sd["extra.weight"] = torch.zeros(1)
    del sd["seqTransEncoder.layers.1.norm2.bias"]
    torch.save(sd, path)
    with pytest.raises(ValueError) as err:
        TMREvaluator.load(run, device="cpu")
    msg = str(err.value)
    assert str(path) in msg and "projection.weight: shape [16, 251], expected [16, 263]" in msg
    assert "extra.weight" in msg and "seqTransEncoder.layers.1.norm2.bias" in msg


def test_config_disagreeing_with_weights(run_dir, tmp_path):
    run = copy_run(run_dir, tmp_path)
    conf = json.loads((run / "config.json").read_text())
    conf["model"]["text_encoder"]["num_layers"] = 3
    (run / "config.json").write_text(json.dumps(conf))
    with pytest.raises(ValueError, match=r"text_encoder.pt.*\n.*missing \['seqTransEncoder.layers.2"):
        TMREvaluator.load(run, device="cpu")


def test_pickled_objects_are_refused(run_dir, tmp_path):
    run = copy_run(run_dir, tmp_path)
    torch.save({"projection.weight": torch.zeros(1), "obj": argparse_namespace()},
               run / "last_weights" / "text_encoder.pt")
    with pytest.raises(ValueError, match="weights-only"):
        TMREvaluator.load(run, device="cpu")


def argparse_namespace():
    import argparse
    return argparse.Namespace(x=1)


def test_truncated_weights(run_dir, tmp_path):
    run = copy_run(run_dir, tmp_path)
    path = run / "last_weights" / "motion_encoder.pt"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        TMREvaluator.load(run, device="cpu")


def test_missing_pieces_are_explained(run_dir, tmp_path):
    run = copy_run(run_dir, tmp_path)
    shutil.rmtree(run.parent.parent / "stats")
    with pytest.raises(FileNotFoundError, match="stats=<that folder>"):
        TMREvaluator.load(run, device="cpu")
    (run / "last_weights" / "text_encoder.pt").unlink()
    with pytest.raises(FileNotFoundError, match="text_encoder.pt"):
        TMREvaluator.load(run, device="cpu", stats=run_dir.parent.parent / "stats/humanml3d/guoh3dfeats")
    (run / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json"):
        TMREvaluator.load(run, device="cpu")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TMREvaluator.load(tmp_path / "nowhere")


def test_stats_override_and_shape_check(run_dir, tmp_path):
    stats = tmp_path / "s"
    stats.mkdir()
    np.save(stats / "mean.npy", np.zeros(263, np.float32))
    np.save(stats / "std.npy", np.ones(263, np.float32))
    ev = TMREvaluator.load(run_dir, device="cpu", stats=stats, load_text_model=False)
    np.testing.assert_array_equal(ev.stats.mean, 0)
    assert str((stats / "mean.npy").resolve()) in ev.provenance
    np.save(stats / "mean.npy", np.zeros(251, np.float32))
    with pytest.raises(ValueError, match="shape"):
        TMREvaluator.load(run_dir, device="cpu", stats=stats, load_text_model=False)


def test_import_motioneval_pulls_neither_torch_nor_transformers():
    code = "import sys, motioneval, motioneval.evaluators; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_detect_evaluator_kind(run_dir, tmp_path):
    from motioneval.evaluators import detect_evaluator_kind

    assert detect_evaluator_kind(run_dir) == "tmr"
    t2m = tmp_path / "ev" / "t2m" / "text_mot_match" / "model"
    t2m.mkdir(parents=True)
    (t2m / "finest.tar").write_bytes(b"")
    assert detect_evaluator_kind(tmp_path / "ev") == "t2m"
    assert detect_evaluator_kind(t2m / "finest.tar") == "t2m"
    with pytest.raises(ValueError, match="TMR checkout"):
        detect_evaluator_kind(run_dir.parent.parent)
    with pytest.raises(ValueError, match="cannot tell"):
        detect_evaluator_kind(tmp_path / "ev" / "t2m" / "text_mot_match")
