"""Shared test helpers: where the shared fixtures and data are, skipping cleanly when absent."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOTIONEVAL_SHARED", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures"
DATA = SHARED / "data"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared material not found at {path} (set MOTIONEVAL_SHARED to the shared/ folder)")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return _require(FIXTURES)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _require(DATA)


@pytest.fixture(scope="session")
def metrics_ref(fixtures_dir):
    return dict(np.load(_require(fixtures_dir / "metrics_reference.npz")))


@pytest.fixture(scope="session")
def metrics_fullrank_ref(fixtures_dir):
    return dict(np.load(_require(fixtures_dir / "metrics_fid_fullrank.npz")))


@pytest.fixture(scope="session")
def representation_ref(fixtures_dir):
    return dict(np.load(_require(fixtures_dir / "representation_reference.npz")))


@pytest.fixture(scope="session")
def evaluator_ref(fixtures_dir):
    return dict(np.load(_require(fixtures_dir / "evaluator_reference.npz")))


@pytest.fixture(scope="module")
def torch_one_thread():
    """One torch thread for a module: on a shared 2-core machine OpenMP threads contend and slow tiny models
    tenfold. Use with ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
