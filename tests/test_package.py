"""Package-level checks: lazy imports, layouts, normalization, atomic IO."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import motioneval
from motioneval._io import atomic_save_npz, atomic_write_json, sha256_file
from motioneval.representation.layout import HUMANML3D_LAYOUT, KIT_LAYOUT, FeatureLayout
from motioneval.representation.normalization import FeatureStats, renormalize


def test_import_does_not_pull_torch():
    code = "import sys, motioneval; motioneval.__dir__(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        motioneval.no_such_name  # noqa: B018


def test_layouts():
    assert HUMANML3D_LAYOUT.dim == 263 and KIT_LAYOUT.dim == 251
    assert HUMANML3D_LAYOUT.ric == slice(4, 67)
    assert HUMANML3D_LAYOUT.rot == slice(67, 193)
    assert HUMANML3D_LAYOUT.local_vel == slice(193, 259)
    assert HUMANML3D_LAYOUT.contacts == slice(259, 263)
    assert HUMANML3D_LAYOUT.evaluator_dim == 259 and KIT_LAYOUT.evaluator_dim == 247
    assert FeatureLayout.for_dim(251) == KIT_LAYOUT
    with pytest.raises(ValueError, match="263"):
        FeatureLayout.for_dim(100)
    groups = HUMANML3D_LAYOUT.groups()
    covered = sum(s.stop - s.start for s in groups.values())
    assert covered == 263


def test_feature_stats_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    m1, s1 = rng.normal(size=263), rng.uniform(0.5, 2, size=263)
    m2, s2 = rng.normal(size=263), rng.uniform(0.5, 2, size=263)
    np.save(tmp_path / "m.npy", m1)
    np.save(tmp_path / "s.npy", s1)
    a = FeatureStats.load(tmp_path / "m.npy", tmp_path / "s.npy")
    assert set(a.sources) == {str(tmp_path / "m.npy"), str(tmp_path / "s.npy")}
    b = FeatureStats(m2, s2, name="b")
    x = rng.normal(size=(3, 10, 263))
    np.testing.assert_allclose(a.denormalize(a.normalize(x)), x, atol=1e-12)
    raw = a.denormalize(x)
    np.testing.assert_allclose(renormalize(x, a, b), (raw - m2) / s2, atol=1e-12)
    with pytest.raises(ValueError, match="263"):
        a.normalize(np.zeros((2, 251)))
    with pytest.raises(ValueError, match="positive"):
        FeatureStats(m1, np.zeros(263))
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        FeatureStats.load(tmp_path / "missing.npy", tmp_path / "s.npy")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_writes(tmp_path):
    p = atomic_write_json(tmp_path / "a" / "r.json", {"x": np.float32(1.5), "y": np.arange(3)})
    assert p.read_text().startswith("{")
    assert (p.stat().st_mode & 0o777) == 0o666 & ~_current_umask()  # not mkstemp's 0600
    q = atomic_save_npz(tmp_path / "b.npz", x=np.arange(4))
    assert np.load(q)["x"].tolist() == [0, 1, 2, 3]
    assert len(sha256_file(q)) == 64
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []
    with pytest.raises(TypeError, match="pickle"):
        atomic_save_npz(tmp_path / "c.npz", x=np.array([object()], dtype=object))
