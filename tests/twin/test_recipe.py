"""build_twin is the one recipe: selection, cutoff / first-k, limits, start time, model defaults."""

from __future__ import annotations

import pytest
from twinhelpers import ANALYTE

from immunetwin.errors import FitError
from immunetwin.inference import Estimate
from immunetwin.model import library
from immunetwin.twin import build_twin, default_t0, model_twin_defaults, new_observations


def test_defaults_come_from_the_model_library(ke_data):
    tw = build_twin(ke_data, "ke2022_sarscov2", subject="p1", analytes=ANALYTE, cutoff_day=3.0)
    card = library.card("ke2022_sarscov2").twin
    assert [e.id for e in tw.config.estimate] == [e.id for e in card.estimate]
    assert tw.config.estimate[0] == Estimate("beta", 1e-10, 1e-6)
    assert dict(tw.config.fixed) == {"rho": 0.0}
    assert model_twin_defaults(library.get("ke2022_sarscov2")).intervention == "antiviral"
    # data selection: the subject's analyte up to the cutoff; t0 10 days before detection
    assert {o.subject for o in tw.data.observations} == {"p1"}
    assert max(o.time for o in tw.data.observations) <= 3.0
    assert tw.config.t0 == default_t0(tw.data.observations)
    assert tw.config.subject == "p1" and tw.config.horizon is not None
    # a user's estimate wins; default fixed values never fix an estimated parameter
    tw2 = build_twin(
        ke_data, "ke2022_sarscov2", subject="p1", analytes=[ANALYTE], estimate=["beta", "rho"]
    )
    assert [e.id for e in tw2.config.estimate] == ["beta", "rho"] and not tw2.config.fixed


def test_first_k_and_new_observations(ke_data):
    tw = build_twin(
        ke_data, "ke2022_sarscov2", subject="p1", analytes=[ANALYTE], first_k=3, t0=-11.0
    )
    assert len(tw.data.observations) >= 3
    new = new_observations(tw, ke_data)
    seen = {o.time for o in tw.data.observations}
    assert new and all(o.subject == "p1" and o.time not in seen for o in new)


def test_recipe_errors(ke_data):
    with pytest.raises(FitError, match="unknown subject 'nobody'"):
        build_twin(ke_data, "ke2022_sarscov2", subject="nobody", analytes=[ANALYTE])
    with pytest.raises(FitError, match="at most one"):
        build_twin(
            ke_data, "ke2022_sarscov2", subject="p1", analytes=[ANALYTE], cutoff_day=3, first_k=2
        )
    with pytest.raises(FitError, match="observations to fit"):
        build_twin(ke_data, "ke2022_sarscov2", subject="p1", analytes=[ANALYTE], cutoff_day=-99)
    with pytest.raises(FitError, match="particles"):
        build_twin(ke_data, "ke2022_sarscov2", subject="p1", analytes=[ANALYTE], particles=2)
