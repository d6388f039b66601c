"""Rebuild ``tests/data`` from the shared originals and prove that nothing changed on the way.

Usage: ``python tests/data/rebuild.py [SHARED]`` (default ``$MOTIONEVAL_SHARED`` or ``<repo>/../shared``).

1. Checks the sha256 of every original file against the values pinned below (the data files' values are those
   of ``shared/data/SHA256SUMS``).
2. Copies the data files the tests read byte for byte into ``tests/data/data`` and the fixture ``.json`` files
   (plus the fixtures README) into ``tests/data/fixtures``.
3. Writes ``<name>.compact.npz`` for each fixture: every array except those that ``tests/fixture_data.py``
   regenerates (seeded inputs, the real clip) or stores packed (the symmetric covariances as upper triangles),
   and ``manifest.json`` with the dtype, shape and sha256 of every original array.
4. Rebuilds each fixture with ``tests/fixture_data.load_fixture`` and asserts that every array equals the
   original bit for bit, with the same dtype, shape and key set.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))
import fixture_data  # noqa: E402

FIXTURE_SHA256 = {
    "README.md": "e385291cc6cde30f9141f09352a5cd1980538342b478a3c43919169fa0b57d9b",
    "evaluator_reference.json": "cf8edbc2aac63596882a2afb24e6c7684ad9a0c11ccef0ff395aeeed5a6c2a28",
    "evaluator_reference.npz": "fd95c29c7f12853b1a6d9b0f86250528ab803b2bb60ef97d06320e799ae4157e",
    "metrics_fid_fullrank.npz": "afdb5ebda5e621a81553a5110ddfff8f5afffa09ec1c6791438b0df060129131",
    "metrics_reference.json": "e1aab513e2825f67933b196ee28c4e0edeeaf358ba132b4770fd64982e157da7",
    "metrics_reference.npz": "35ccb529a4dfcd53349a7cf53e15e49a92e934fa1e26310ba0601e9e43313bf5",
    "representation_reference.json": "e5550e811a8a84f625b5a9923ee69d47034b21d386306d9f7aa66b8c110c1a2c",
    "representation_reference.npz": "d97bc19cffdca3aee3fce2ddce314891e04a59fd2e57af50a316a4426a1ea5be",
}
# the data files the tests read (a subset of shared/data; values as in shared/data/SHA256SUMS)
DATA_SHA256 = {
    "HumanML3D/Mean.npy": "26e136555dab04c94a129d446c26e6b9939cbf045fbf77bcf5462c1fb5a2001c",
    "HumanML3D/Std.npy": "6565a65ed9b31e23c328829a309e1c482be8b85fd23b43d65451a9b19a917f40",
    "HumanML3D/new_joint_vecs/012314.npy": "6e6fc0204ea9e48abdf94f84e8be22b19a1f1e955c7b98e025b1d702f6fe96a0",
    "HumanML3D/new_joints/012314.npy": "739df5e2e025d21ae5ce01ea7e0a8d3038448a46e88865d95a638e6242ee8b6b",
    "HumanML3D/test.txt": "b89bc7df558df6246840702d0976a5d37ecbc4f055642b5c99e509a2d85ac12e",
    "dataset/t2m_mean.npy": "0bdb5ba69a3a9e34d71990db15bc535ebc024c8d95ddb5574196f96058faa7d3",
    "dataset/t2m_std.npy": "6a5f7d60301c9465972fc225f8ad0ee8f957e7720431189123eb6d15873a9557",
    "dataset/kit_mean.npy": "9e23fac51db2215ab5666324226be48f27efd6a6e7b22ebd17c28e0f056a7c22",
    "dataset/kit_std.npy": "296a60656cea07e65ee64512d73d47c0412df0698b35194116330661be32fa90",
    "glove/our_vab_words.pkl": "fac88da1be6f00d36b72b88c9745c8ac35a94a7bd6ccf1fa3bab380faf8c2e0d",
    "glove/our_vab_idx.pkl": "d85dce83d2c27a92bb94bb51dc1f55a04fcaa328c359d23eccf648e296c16493",
    "HumanML3D/train.txt": "e3e6975099b19964ee085db3e1d1160365a27e275f4f2b3d37c8ef24cccf4ce9",
    "HumanML3D/val.txt": "effa9e866f7c2bd3e5bb518600f95a5fd780a2dcf72c3cdb1e0caf5c93051e17",
    "guofeats/skeleton_example_h3d.npy": "1135347d7cb6e974e3d8fa307597e4207672c37aba9b1cb6578e3d681e25975f",
    "SHA256SUMS": "e73882e5f9bcf579f9a1f11f053841d8bbc30edcc0f926fd04e81ede728ee308",
    "SOURCES.txt": "949bbee219d733710b02d2324fa79fd4e916b9a73e6750f4dcd2827a2127f1af",
}
FIXTURES = ("metrics_reference", "metrics_fid_fullrank", "evaluator_reference", "representation_reference")
# arrays rebuilt by tests/fixture_data.py instead of being stored
REGENERATED = {
    "metrics_reference": {"text_emb", "motion_emb", "gt_emb", "gen_emb", "mm_emb", "ci_values", "ci_values_rprec",
                          "ci_values_5", "gt_cov", "gen_cov"},
    "metrics_fid_fullrank": {"gt_emb", "gen_emb"},
    "evaluator_reference": {"word_embs", "pos_idx", "pos_ohot", "motions"},
    "representation_reference": {"input_A", "new_joint_vecs_012314"},
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check(path: Path, want: str) -> None:
    got = _sha256(path)
    if got != want:
        raise SystemExit(f"{path}: sha256 {got} != pinned {want}; these are not the originals this data came from")


def main(shared: Path) -> None:
    for name, want in FIXTURE_SHA256.items():
        _check(shared / "fixtures" / name, want)
    for rel, want in DATA_SHA256.items():
        _check(shared / "data" / rel, want)

    out_fix, out_data = fixture_data.FIXTURES, fixture_data.DATA
    for rel in DATA_SHA256:
        (out_data / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / "data" / rel, out_data / rel)
        _check(out_data / rel, DATA_SHA256[rel])
    out_fix.mkdir(parents=True, exist_ok=True)
    for name in FIXTURE_SHA256:
        if not name.endswith(".npz"):
            shutil.copyfile(shared / "fixtures" / name, out_fix / name)

    manifest = {}
    for name in FIXTURES:
        with np.load(shared / "fixtures" / f"{name}.npz", allow_pickle=False) as z:
            original = {k: z[k] for k in z.files}
        manifest[name] = {"source": f"shared/fixtures/{name}.npz", "source_sha256": FIXTURE_SHA256[f"{name}.npz"],
                          "arrays": {k: {"dtype": str(a.dtype), "shape": list(a.shape),
                                         "sha256": fixture_data.array_sha256(a)} for k, a in original.items()}}
        keep = {k: a for k, a in original.items() if k not in REGENERATED[name]}
        if name == "metrics_reference":
            for key in ("gt_cov", "gen_cov"):
                cov = original[key]
                assert np.array_equal(cov, cov.T), key
                keep[key + "_triu"] = cov[np.triu_indices(cov.shape[0])]
        np.savez_compressed(out_fix / f"{name}.compact.npz", **keep)
    (out_fix / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")

    for name in FIXTURES:  # the round trip, bit for bit
        with np.load(shared / "fixtures" / f"{name}.npz", allow_pickle=False) as z:
            original = {k: z[k] for k in z.files}
        rebuilt = fixture_data.load_fixture(name)
        assert list(rebuilt) == list(original), name
        for k, a in original.items():
            b = rebuilt[k]
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True), (name, k)
        size = (out_fix / f"{name}.compact.npz").stat().st_size
        print(f"{name}: {len(original)} arrays identical; compact file {size / 1e6:.2f} MB")
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"tests/data: {total / 1e6:.2f} MB in all")


if __name__ == "__main__":
    default = os.environ.get("MOTIONEVAL_SHARED", str(REPO.parent / "shared"))
    main(Path(sys.argv[1] if len(sys.argv) > 1 else default))
