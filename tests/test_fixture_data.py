"""The in-repository fixtures rebuild the original arrays exactly, and a rebuilt array that differs is refused."""
from __future__ import annotations

import json

import numpy as np
import pytest

import fixture_data

NAMES = ("metrics_reference", "metrics_fid_fullrank", "evaluator_reference", "representation_reference")


@pytest.mark.parametrize("name", NAMES)
def test_every_original_array_is_rebuilt(name):
    manifest = json.loads(fixture_data.MANIFEST.read_text())[name]
    got = fixture_data.load_fixture(name)  # verifies sha256, dtype and shape of every array
    assert list(got) == list(manifest["arrays"])


def test_a_changed_array_is_refused(tmp_path, monkeypatch):
    manifest = json.loads(fixture_data.MANIFEST.read_text())
    entry = manifest["metrics_fid_fullrank"]["arrays"]["gt_emb"]
    entry["sha256"] = fixture_data.array_sha256(np.zeros(1))
    bad = tmp_path / "manifest.json"
    bad.write_text(json.dumps(manifest))
    monkeypatch.setattr(fixture_data, "MANIFEST", bad)
    with pytest.raises(AssertionError, match="gt_emb"):
        fixture_data.load_fixture("metrics_fid_fullrank")


def test_symmetric_unpacking_round_trips():
    a = np.random.default_rng(0).standard_normal((5, 5))
    s = a + a.T
    np.testing.assert_array_equal(fixture_data._untriu(s[np.triu_indices(5)], 5), s)
