"""The reference fixtures, rebuilt from the compact in-repository copies under ``tests/data/fixtures``.

The original ``.npz`` files (``shared/fixtures``, 15 MB) hold large seeded-random inputs. The compact copies keep
every array the reference code *produced* and regenerate the seeded inputs from the generator recipe in the
fixtures README (``numpy.random.default_rng``; the draws are reproduced bit for bit). Each rebuilt array is
checked against the sha256, dtype and shape of the original array recorded in ``manifest.json``: a mismatch
(e.g. another numpy changing a random stream) raises instead of testing against different numbers.
``tests/data/rebuild.py`` writes the compact files from the originals and proves the round trip.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA_ROOT = HERE / "data"
FIXTURES = DATA_ROOT / "fixtures"
DATA = DATA_ROOT / "data"
MANIFEST = FIXTURES / "manifest.json"


def array_sha256(a: np.ndarray) -> str:
    """sha256 of an array's C-order bytes (dtype and shape are checked separately)."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _gaussian_pair(rng: np.random.Generator, n_gt: int, n_gen: int) -> tuple[np.ndarray, np.ndarray]:
    """README section 1 step 3: low-rank (16) plus diagonal Gaussians; gen perturbs gt's factor, diagonal, mean."""
    a = 0.25 * rng.standard_normal((512, 16))
    d = rng.uniform(0.05, 0.15, 512)
    mu = 0.3 * rng.standard_normal(512)
    gt = (mu + rng.standard_normal((n_gt, 16)) @ a.T + np.sqrt(d) * rng.standard_normal((n_gt, 512)))
    a2 = a + 0.05 * rng.standard_normal((512, 16))
    d2 = d * rng.uniform(0.8, 1.25, 512)
    mu2 = mu + 0.05 * rng.standard_normal(512)
    gen = (mu2 + rng.standard_normal((n_gen, 16)) @ a2.T + np.sqrt(d2) * rng.standard_normal((n_gen, 512)))
    return gt.astype(np.float32), gen.astype(np.float32)


def regenerate_metrics_inputs() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The seeded inputs of ``metrics_reference.npz`` and ``metrics_fid_fullrank.npz`` (one ``default_rng(7)``)."""
    rng = np.random.default_rng(7)
    m: dict[str, np.ndarray] = {}
    m["text_emb"] = (0.2 * rng.standard_normal((320, 512))).astype(np.float32)
    m["motion_emb"] = (0.6 * m["text_emb"] + 0.6 * rng.standard_normal((320, 512))).astype(np.float32)
    m["gt_emb"], m["gen_emb"] = _gaussian_pair(rng, 500, 320)
    m["mm_emb"] = (0.3 * rng.standard_normal((20, 1, 512)) + 0.1 * rng.standard_normal((20, 30, 512))).astype(
        np.float32)
    m["ci_values"] = 0.5 + 0.02 * rng.standard_normal(20)
    m["ci_values_rprec"] = np.array([0.5, 0.7, 0.8]) + 0.003 * rng.standard_normal((20, 3))
    m["ci_values_5"] = 2.8 + 0.1 * rng.standard_normal(5)
    full: dict[str, np.ndarray] = {}
    full["gt_emb"], full["gen_emb"] = _gaussian_pair(rng, 1200, 1024)
    return m, full


def regenerate_evaluator_inputs(m_lens: np.ndarray) -> dict[str, np.ndarray]:
    """README section 2 inputs: ``default_rng(11)``; word vectors, POS indices (+ one-hot), zero-padded motions."""
    rng = np.random.default_rng(11)
    out: dict[str, np.ndarray] = {}
    out["word_embs"] = rng.standard_normal((8, 22, 300)).astype(np.float32)
    out["pos_idx"] = rng.integers(0, 15, (8, 22)).astype(np.int64)
    out["pos_ohot"] = np.eye(15, dtype=np.float32)[out["pos_idx"]]
    motions = rng.standard_normal((8, 196, 263)).astype(np.float32)
    for i, n in enumerate(np.asarray(m_lens).tolist()):
        motions[i, n:] = 0
    out["motions"] = motions
    return out


def _untriu(packed: np.ndarray, n: int) -> np.ndarray:
    full = np.zeros((n, n), dtype=packed.dtype)
    iu = np.triu_indices(n)
    full[iu] = packed
    full.T[iu] = packed
    return full


def _derived(name: str, stored: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays of fixture ``name`` that are not stored verbatim."""
    if name in ("metrics_reference", "metrics_fid_fullrank"):
        main, full = regenerate_metrics_inputs()
        if name == "metrics_fid_fullrank":
            return full
        out = dict(main)
        for key in ("gt_cov", "gen_cov"):  # symmetric: only the upper triangle is stored
            out[key] = _untriu(stored[key + "_triu"], 512)
        return out
    if name == "evaluator_reference":
        return regenerate_evaluator_inputs(stored["m_lens"])
    if name == "representation_reference":  # verbatim copies of the real clip in tests/data/data
        return {"input_A": np.load(DATA / "HumanML3D" / "new_joints" / "012314.npy"),
                "new_joint_vecs_012314": np.load(DATA / "HumanML3D" / "new_joint_vecs" / "012314.npy")}
    raise KeyError(f"unknown fixture {name!r}")


def load_fixture(name: str) -> dict[str, Any]:
    """``dict(np.load(shared/fixtures/<name>.npz))``, rebuilt from ``tests/data/fixtures/<name>.compact.npz`` and
    verified array by array (sha256, dtype, shape) against the original's manifest entry."""
    manifest = json.loads(MANIFEST.read_text())[name]
    with np.load(FIXTURES / f"{name}.compact.npz", allow_pickle=False) as z:
        stored = {k: z[k] for k in z.files}
    derived = _derived(name, stored)
    out: dict[str, Any] = {}
    for key, want in manifest["arrays"].items():
        arr = stored[key] if key in stored else derived[key]
        got = (str(arr.dtype), list(arr.shape), array_sha256(arr))
        if got != (want["dtype"], want["shape"], want["sha256"]):
            raise AssertionError(
                f"tests/data/fixtures/{name}: rebuilt array {key!r} differs from the original fixture "
                f"(dtype/shape/sha256 {got} != {(want['dtype'], want['shape'], want['sha256'])}); if numpy changed "
                f"a random stream, run tests/data/rebuild.py with the shared originals, or compare against them")
        out[key] = arr
    return out
