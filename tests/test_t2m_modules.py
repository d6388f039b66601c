"""T2M evaluator networks: official parameter names/shapes, size inference, receptive field, GRU semantics."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from motioneval.evaluators.t2m_modules import (  # noqa: E402
    MODULE_NAMES,
    MovementConvDecoder,
    T2MConfig,
    build_modules,
    check_state_dicts,
    expected_shapes,
    infer_config,
)

SMALL = T2MConfig(dim_pose=11, dim_movement_enc_hidden=6, dim_movement_latent=5, dim_word=7, dim_pos_ohot=15,
                  dim_text_hidden=4, dim_motion_hidden=3, dim_coemb_hidden=2)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def reference_json(fixtures_dir):
    path = fixtures_dir / "evaluator_reference.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return json.loads(path.read_text())


@pytest.mark.parametrize("dataset,dim_pose", [("t2m", 259), ("kit", 247)])
def test_official_keys_shapes_and_order(reference_json, dataset, dim_pose):
    shapes = expected_shapes(T2MConfig(dim_pose=dim_pose))
    ours = [(m, k, list(s)) for m in MODULE_NAMES for k, s in shapes[m].items()]
    ref = [(e["module"], e["key"], e["shape"]) for e in reference_json[f"state_dict_order_{dataset}"]]
    assert ours == ref  # same keys, shapes and state_dict order (the weight rule depends on it)


def test_parameter_counts(reference_json):
    shapes = expected_shapes(T2MConfig())
    counts = {m: sum(math.prod(s) for s in shapes[m].values()) for m in MODULE_NAMES}
    assert counts == reference_json["n_params"]


def test_infer_config_roundtrip_and_checks():
    torch.manual_seed(0)
    modules = build_modules(SMALL)
    sds = {n: modules[n].state_dict() for n in MODULE_NAMES}
    assert infer_config(sds) == SMALL
    check_state_dicts(sds, SMALL)  # no error
    # a KIT-sized first convolution against a HumanML3D configuration
    kit = {n: dict(sd) for n, sd in sds.items()}
    kit["movement_encoder"]["main.0.weight"] = torch.zeros(6, 9, 4)
    with pytest.raises(ValueError, match=r"main.0.weight: shape \[6, 9, 4\], expected \[6, 11, 4\]"):
        check_state_dicts(kit, SMALL, source="ckpt.tar")
    broken = {n: dict(sd) for n, sd in sds.items()}
    del broken["text_encoder"]["hidden"]
    broken["motion_encoder"]["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"(?s)ckpt.tar.*text_encoder: missing \['hidden'\].*unexpected \['extra.weight'\]"):
        check_state_dicts(broken, SMALL, source="ckpt.tar")
    # NaN weights and a non-tensor entry (an array saved by another tool) are named, not loaded
    poisoned = {n: dict(sd) for n, sd in sds.items()}
    poisoned["motion_encoder"]["output_net.0.bias"] = torch.full_like(sds["motion_encoder"]["output_net.0.bias"], float("nan"))
    poisoned["text_encoder"]["hidden"] = sds["text_encoder"]["hidden"].numpy()
    with pytest.raises(ValueError, match=r"(?s)text_encoder.hidden: a ndarray, expected a tensor.*"
                                         r"motion_encoder.output_net.0.bias: contains NaN or Inf"):
        check_state_dicts(poisoned, SMALL, source="ckpt.tar")
    with pytest.raises(ValueError, match="'motion_encoder' is missing"):
        check_state_dicts({k: v for k, v in sds.items() if k != "motion_encoder"}, SMALL)
    with pytest.raises(ValueError, match="missing tensor 'text_encoder.pos_emb.weight'"):
        infer_config({"movement_encoder": sds["movement_encoder"], "text_encoder": {}, "motion_encoder": {}},
                     source="x.tar")
    with pytest.raises(ValueError, match="positive integer"):
        T2MConfig(dim_pose=0)
    assert T2MConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(ValueError, match="unknown T2MConfig fields"):
        T2MConfig.from_dict({"dim_posee": 3})


def test_movement_receptive_field():
    """Token s depends exactly on frames 4s-3 .. 4s+6 (two convolutions, kernel 4, stride 2, padding 1)."""
    torch.manual_seed(0)
    enc = build_modules(SMALL)["movement_encoder"].eval()
    t = 40
    x = torch.randn(1, t, SMALL.dim_pose, dtype=torch.float64)
    enc = enc.double()
    with torch.no_grad():
        base = enc(x)
        assert base.shape == (1, t // 4, SMALL.dim_movement_latent)
        for f in range(t):
            y = x.clone()
            y[0, f] += 1.0
            changed = (enc(y) - base).abs().amax(dim=2)[0] > 0
            expected = torch.tensor([4 * s - 3 <= f <= 4 * s + 6 for s in range(t // 4)])
            assert torch.equal(changed, expected), f


def _numpy_bigru_head(enc, steps: np.ndarray, length: int) -> np.ndarray:
    """Independent float64 numpy GRU (PyTorch gate equations) over the first ``length`` steps, then the head."""
    sd = {k: v.detach().double().numpy() for k, v in enc.state_dict().items()}
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731

    def run(xs, suffix, h):
        w_ih, w_hh = sd[f"gru.weight_ih_l0{suffix}"], sd[f"gru.weight_hh_l0{suffix}"]
        b_ih, b_hh = sd[f"gru.bias_ih_l0{suffix}"], sd[f"gru.bias_hh_l0{suffix}"]
        for x in xs:
            gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
            r, z, n = np.split(gi, 3)
            hr, hz, hn = np.split(gh, 3)
            r, z = sig(r + hr), sig(z + hz)
            n = np.tanh(n + r * hn)
            h = (1 - z) * n + z * h
        return h

    xs = steps[:length]
    h = np.concatenate([run(xs, "", sd["hidden"][0, 0]), run(xs[::-1], "_reverse", sd["hidden"][1, 0])])
    y = sd["output_net.0.weight"] @ h + sd["output_net.0.bias"]
    y = (y - y.mean()) / np.sqrt(y.var() + 1e-5) * sd["output_net.1.weight"] + sd["output_net.1.bias"]
    y = np.where(y > 0, y, 0.2 * y)
    return sd["output_net.3.weight"] @ y + sd["output_net.3.bias"]


def test_encoders_against_numpy_gru():
    torch.manual_seed(1)
    mods = build_modules(SMALL)
    text, motion = mods["text_encoder"].double().eval(), mods["motion_encoder"].double().eval()
    rng = np.random.default_rng(0)
    # motion: 3 rows, unsorted token counts, garbage past each length
    tokens = rng.standard_normal((3, 6, SMALL.dim_movement_latent))
    lens = np.array([4, 6, 1])
    with torch.no_grad():
        got = motion(torch.from_numpy(tokens), torch.from_numpy(lens)).numpy()
    sd = {k: v.detach().double().numpy() for k, v in motion.state_dict().items()}
    for i in range(3):
        steps = tokens[i] @ sd["input_emb.weight"].T + sd["input_emb.bias"]
        np.testing.assert_allclose(got[i], _numpy_bigru_head(motion, steps, lens[i]), rtol=1e-10, atol=1e-12)
    # text: word vectors + Linear(POS one-hot)
    words = rng.standard_normal((2, 5, SMALL.dim_word))
    pos = np.eye(15)[rng.integers(0, 15, (2, 5))]
    tl = np.array([5, 2])
    with torch.no_grad():
        got = text(torch.from_numpy(words), torch.from_numpy(pos), torch.from_numpy(tl)).numpy()
    sd = {k: v.detach().double().numpy() for k, v in text.state_dict().items()}
    for i in range(2):
        inp = words[i] + pos[i] @ sd["pos_emb.weight"].T + sd["pos_emb.bias"]
        steps = inp @ sd["input_emb.weight"].T + sd["input_emb.bias"]
        np.testing.assert_allclose(got[i], _numpy_bigru_head(text, steps, tl[i]), rtol=1e-10, atol=1e-12)


def test_decoder_shape_and_init():
    dec = MovementConvDecoder(5, 6, 15)
    assert dec(torch.zeros(2, 7, 5)).shape == (2, 28, 15)
    assert set(dec.state_dict()) == {"main.0.weight", "main.0.bias", "main.2.weight", "main.2.bias",
                                     "out_net.weight", "out_net.bias"}
    assert float(dec.out_net.bias.detach().abs().sum()) == 0.0  # zero biases, as the reference initialisation
