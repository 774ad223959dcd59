"""Fixtures of the inference tests."""

from __future__ import annotations

import pytest

from immunetwin.model import ModelSpec, library


@pytest.fixture(scope="session")
def spec() -> ModelSpec:
    """The Baccam et al. 2006 influenza model of the library."""
    return library.get("baccam2006_influenza")
