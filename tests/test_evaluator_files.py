"""The one evaluator-statistics search (``motioneval.evaluators.files``), torch-free."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from motioneval.evaluators.files import find_evaluator_stats, find_stats, stats_candidates


def _pair(folder, dim, mean="mean.npy", std="std.npy"):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / mean, np.zeros(dim, np.float32))
    np.save(folder / std, np.ones(dim, np.float32))
    return folder / mean


def test_lineage_preference_and_preset_folder(tmp_path):
    for name in ("Comp_v6_KLD005", "Comp_v6_KLD01", "Other"):
        _pair(tmp_path / "checkpoints" / "t2m" / name / "meta", 263)
    assert find_stats([tmp_path], "t2m")[0].parent.parent.name == "Comp_v6_KLD01"
    assert find_stats([tmp_path], "t2m", preferred="Other")[0].parent.parent.name == "Other"
    # the report lookup follows the same order as the loader
    assert find_evaluator_stats(tmp_path)[0].parent.parent.name == "Comp_v6_KLD01"
    assert find_evaluator_stats(tmp_path, preferred="Comp_v6_KLD005")[0].parent.parent.name == "Comp_v6_KLD005"


def test_mdm_copies_come_before_meta_folders_and_dim_picks_the_dataset(tmp_path):
    _pair(tmp_path / "checkpoints" / "t2m" / "Comp_v6_KLD01" / "meta", 263)
    t2m = _pair(tmp_path / "dataset", 263, "t2m_mean.npy", "t2m_std.npy")
    kit = _pair(tmp_path / "dataset", 251, "kit_mean.npy", "kit_std.npy")
    assert find_stats([tmp_path], "t2m")[0] == t2m
    assert find_evaluator_stats(tmp_path, 251)[0] == kit and find_evaluator_stats(tmp_path, 263)[0] == t2m
    assert stats_candidates([tmp_path], "kit")[1][0] == kit


def test_nothing_found(tmp_path):
    assert find_evaluator_stats(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="no 'kit' evaluator statistics found; looked for"):
        find_stats([tmp_path], "kit")


def test_the_search_does_not_import_torch():
    code = ("import sys; import motioneval.evaluators.files, motioneval.diagnostics.evaluator_files; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
