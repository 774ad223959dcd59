"""Fixtures: a small saved twin of a real participant and a temporary registry database."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "twin"))

from twinhelpers import make_prior, make_twin  # noqa: E402


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A calibrated twin (50 particles) saved to a temporary directory, with a fake report."""
    from immunetwin import datasets
    from immunetwin.data import read_dataset

    ds = read_dataset(datasets.path())
    twin = make_twin(ds, make_prior(), particles=50).calibrate(starts=2)
    root = tmp_path_factory.mktemp("store")
    path = twin.save(root / "twin")
    (root / "report.html").write_text("<html></html>\n")
    return path


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite registry URL in a temporary folder."""
    return f"sqlite:///{tmp_path / 'sub' / 'registry.sqlite'}"
