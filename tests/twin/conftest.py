"""Fixtures: a calibrated twin of a real participant (shipped Ke et al. 2022 data)."""

from __future__ import annotations

import pytest
from twinhelpers import make_prior, make_twin

from immunetwin import datasets
from immunetwin.data import read_dataset


@pytest.fixture(scope="session")
def ke_data():
    return read_dataset(datasets.path())


@pytest.fixture(scope="session")
def prior():
    return make_prior()


@pytest.fixture(scope="module")
def twin(ke_data, prior):
    return make_twin(ke_data, prior).calibrate(starts=6)
