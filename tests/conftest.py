"""Shared test helpers: the reference fixtures and real data files, from the in-repository copies in
``tests/data`` (provenance, sha256 and licences in ``tests/data/PROVENANCE.md``; rebuilt from the shared
originals by ``tests/data/rebuild.py``). Nothing here depends on a folder beside the clone."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from fixture_data import DATA, FIXTURES, load_fixture

# CI (CI=true) explores the same examples on every run, so a landing never depends on which random examples
# hypothesis happened to draw; locally the search stays random (and remembers failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def metrics_ref():
    return load_fixture("metrics_reference")


@pytest.fixture(scope="session")
def metrics_fullrank_ref():
    return load_fixture("metrics_fid_fullrank")


@pytest.fixture(scope="session")
def representation_ref():
    return load_fixture("representation_reference")


@pytest.fixture(scope="session")
def evaluator_ref():
    return load_fixture("evaluator_reference")


@pytest.fixture(scope="module")
def torch_one_thread():
    """One torch thread for a module: on a shared 2-core machine OpenMP threads contend and slow tiny models
    tenfold. Use with ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
