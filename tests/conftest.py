"""Shared test fixtures: locations of the shared public data."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``shared/data`` folder beside the repository (skip when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("shared/data is not available")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep generated model code of the test run in a temporary cache."""
    import os

    os.environ.setdefault("IMMUNETWIN_CACHE", str(tmp_path_factory.mktemp("immunetwin-cache")))


@pytest.fixture(scope="session")
def process_pool():  # type: ignore[no-untyped-def]
    """A two-worker ProcessEngine shared by the tests (its workers start once per session)."""
    from immunetwin.engine import ProcessEngine

    with ProcessEngine(2) as eng:
        yield eng
