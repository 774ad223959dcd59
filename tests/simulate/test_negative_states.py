"""Negative species are reported (warning, error or record), never silently returned."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest

from immunetwin.errors import (
    ImmunetwinWarning,
    NegativeStateError,
    NegativeStateWarning,
    SimulationError,
)
from immunetwin.model import ModelBuilder, ModelSpec
from immunetwin.simulate import NegativeState, find_negative_states, simulate

T = np.linspace(0.0, 3.0, 7)


def outflow() -> ModelSpec:
    """dX/dt = -k with X(0) = 1: X = 1 - k t goes negative after t = 1/k."""
    b = ModelBuilder("outflow")
    b.parameter("k", 1.0).state("X", 1.0, "-k")
    # a rate-rule parameter and an observable that go negative legitimately
    b.parameter("drift", 0.0, constant=False).rate("drift", "-1")
    b.observable("shifted", "X - 10", sigma=0.1)
    return b.build()


def decay() -> ModelSpec:
    b = ModelBuilder("decay")
    b.parameter("k", 1.0).state("X", 1.0, "-k*X")
    return b.build()


def test_negative_species_warns_with_name_value_and_time() -> None:
    with pytest.warns(NegativeStateWarning) as rec:
        traj = simulate(outflow(), T)
    assert len(rec) == 1
    msg = str(rec[0].message)
    assert "'outflow'" in msg and "X reached -2 at t = 3" in msg
    assert "drift" not in msg and "shifted" not in msg
    assert issubclass(NegativeStateWarning, ImmunetwinWarning)
    assert issubclass(NegativeStateWarning, UserWarning)
    assert traj.negative_states == ("X",)
    (r,) = traj.negatives
    assert r == NegativeState(0, "X", pytest.approx(-2.0, abs=1e-6), 3.0)
    assert "negative_states=('X',)" in repr(traj)
    assert traj.to_xarray().attrs["negative_states"] == "X"
    # the values themselves are returned unchanged
    np.testing.assert_allclose(traj["X"], 1.0 - T, atol=1e-9)


def test_on_negative_raise() -> None:
    with pytest.raises(NegativeStateError) as exc:
        simulate(outflow(), T, on_negative="raise")
    err = exc.value
    assert isinstance(err, SimulationError)
    assert err.states == ("X",)
    assert err.value == pytest.approx(-2.0, abs=1e-6)
    assert err.time == 3.0 and err.model == "outflow" and err.member is None
    assert "X reached -2" in str(err)


def test_on_negative_ignore_records_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = simulate(outflow(), T, on_negative="ignore")
    assert traj.negative_states == ("X",)


def test_positive_decay_is_not_flagged() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = simulate(decay(), np.linspace(0.0, 40.0, 41), on_negative="raise")
        outflow_short = simulate(outflow(), np.linspace(0.0, 0.9, 4), on_negative="raise")
    assert traj.negative_states == () and traj.negatives == ()
    assert outflow_short.negative_states == ()
    assert "negative_states" not in repr(traj)


def test_batch_names_members_and_member_slices() -> None:
    with pytest.warns(NegativeStateWarning, match=r"parameter set #2; 2 sets negative"):
        traj = simulate(outflow(), T, params={"k": [0.1, 1.0, 2.0]})
    assert traj.negative_states == ("X",)
    assert [(r.member, r.state) for r in traj.negatives] == [(1, "X"), (2, "X")]
    assert traj.member(0).negative_states == ()
    assert traj.member(2).negatives == (NegativeState(0, "X", pytest.approx(-5.0), 3.0),)
    with pytest.raises(NegativeStateError) as exc:
        simulate(outflow(), T, params={"k": [0.1, 1.0, 2.0]}, on_negative="raise")
    assert exc.value.member == 2 and exc.value.params is not None
    assert exc.value.params["k"] == 2.0


def test_bad_on_negative_value() -> None:
    with pytest.raises(ValueError, match="on_negative"):
        simulate(decay(), T, on_negative="fail")  # type: ignore[arg-type]


@pytest.mark.skipif(importlib.util.find_spec("roadrunner") is None, reason="no libRoadRunner")
def test_roadrunner_backend_is_checked_too() -> None:
    with pytest.warns(NegativeStateWarning, match="X reached -2"):
        traj = simulate(outflow(), T, backend="roadrunner")
    assert traj.negative_states == ("X",)


def test_threshold_ignores_round_off() -> None:
    names = ("A", "B", "C", "obs")
    kinds = ("species", "species", "species", "observable")
    times = np.array([0.0, 1.0, 2.0])
    values = np.array(
        [
            [
                [1.0, 1e4, 1.0, -5.0],
                [-5e-8, 1.0, 0.5, -5.0],  # A: round-off below 100 * atol = 1e-7
                [0.0, -1e-3, -2e-3, -7.0],  # B: within 1e-6 * 1e4; C: meaningful
            ],
            [[np.nan] * 4] * 3,  # a failed member
        ]
    )
    got = find_negative_states(values, times, names, kinds, atol=1e-9)
    assert got == (NegativeState(0, "C", -2e-3, 2.0),)
    # a looser tolerance raises the absolute floor above C's dip
    assert find_negative_states(values, times, names, kinds, atol=1e-4) == ()


def test_helper_on_the_fast_path() -> None:
    from immunetwin.simulate import compile_model

    cm = compile_model(outflow())
    ps = np.tile(cm.slot_values, (2, 1))
    ps[1, cm.slots.index("k")] = 0.1
    y, _, status, _ = cm.run(T, ps)
    assert not status.any()
    got = find_negative_states(y, T, cm.outputs, cm.output_kinds, atol=1e-9)
    assert [(r.member, r.state, r.time) for r in got] == [(0, "X", 3.0)]
