"""simulate(method="ssa"): exact stochastic simulation, checked against exact results."""

from __future__ import annotations

import math

import numpy as np
import pytest

from immunetwin.errors import UnsupportedFeature
from immunetwin.model import ModelBuilder, ModelSpec
from immunetwin.simulate import SSAOptions, simulate


def birth_death(x0: float = 100.0, lam: float = 0.1, mu: float = 0.11) -> ModelSpec:
    b = ModelBuilder("birth_death").parameter("lam", lam).parameter("mu", mu)
    b.species("X", x0, amount=True, only_substance=True)
    b.reaction("birth", "X -> 2 X", "lam * X").reaction("death", "X ->", "mu * X")
    return b.build()


def infection(s0: float, i0: float, beta: float = 0.5, gamma: float = 0.2) -> ModelSpec:
    """S + I -> 2 I (mass action in a population of size N), I -> R."""
    n = s0 + i0
    b = ModelBuilder("sir").parameter("beta", beta).parameter("gamma", gamma).parameter("N", n)
    for sid, x in (("S", s0), ("I", i0), ("R", 0.0)):
        b.species(sid, x, amount=True, only_substance=True)
    b.reaction("infect", "S + I -> 2 I", "beta * S * I / N").reaction(
        "recover", "I -> R", "gamma * I"
    )
    return b.build()


def tiv_stochastic(
    t0: float, v0: float, beta: float, p: float, c: float, delta: float
) -> ModelSpec:
    """Target-cell limited virus dynamics as reactions (a virion is used up when it infects)."""
    b = ModelBuilder("tiv_ssa")
    for k, v in (("beta", beta), ("p", p), ("c", c), ("delta", delta)):
        b.parameter(k, v)
    for sid, x in (("T", t0), ("I", 0.0), ("V", v0)):
        b.species(sid, x, amount=True, only_substance=True)
    b.reaction("infection", "T + V -> I", "beta * T * V")
    b.reaction("production", "I -> I + V", "p * I")
    b.reaction("clearance", "V ->", "c * V")
    b.reaction("death", "I ->", "delta * I")
    return b.build()


def test_shape_runs_and_parameter_sets() -> None:
    t = np.linspace(0, 10, 11)
    traj = simulate(birth_death(), t, method="ssa", runs=7, seed=3)
    assert traj["X"].shape == (7, 11)
    assert np.all(traj["X"][:, 0] == 100)
    assert np.all(traj["X"] == np.round(traj["X"]))
    batch = simulate(birth_death(), t, method="ssa", runs=5, seed=3, params={"mu": [0.1, 0.5]})
    assert batch["X"].shape == (10, 11)
    np.testing.assert_array_equal(batch.params["mu"], [0.1] * 5 + [0.5] * 5)
    # a higher death rate leaves fewer molecules in every run of the second set
    x = batch["X"].reshape(2, 5, -1)
    assert x[1, :, -1].max() < x[0, :, -1].min()
    started = simulate(birth_death(), t, method="ssa", runs=3, seed=3, initial={"X": 7})
    assert np.all(started["X"][:, 0] == 7)


def test_same_seed_same_result_whatever_the_parallelism() -> None:
    t = np.linspace(0, 20, 21)
    a = simulate(birth_death(), t, method="ssa", runs=50, seed=11)
    b = simulate(
        birth_death(), t, method="ssa", runs=50, seed=11, options=SSAOptions(parallel=False)
    )
    c = simulate(birth_death(), t, method="ssa", runs=50, seed=12)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    # a run does not depend on the size of its batch
    d = simulate(birth_death(), t, method="ssa", runs=10, seed=11)
    np.testing.assert_array_equal(a.values[:10], d.values)


def test_birth_death_moments_match_the_exact_solution() -> None:
    """Linear birth-death: mean x0 e^{(l-m)t}, variance x0 (l+m)/(l-m) e^{(l-m)t}(e^{(l-m)t}-1)."""
    lam, mu, x0, n = 0.1, 0.11, 100.0, 4000
    t = np.linspace(0, 20, 5)
    x = simulate(birth_death(x0, lam, mu), t, method="ssa", runs=n, seed=5)["X"]
    g = np.exp((lam - mu) * t)
    mean = x0 * g
    var = x0 * (lam + mu) / (lam - mu) * g * (g - 1)
    z = np.sqrt(n) * (x.mean(0)[1:] - mean[1:]) / np.sqrt(var[1:])
    assert np.all(np.abs(z) < 4), z
    np.testing.assert_allclose(x.var(0, ddof=1)[1:], var[1:], rtol=0.1)


def test_mean_of_many_runs_converges_to_the_ode_for_large_counts() -> None:
    """An epidemic with 20,000 hosts: the mean path is the ODE solution (to 1/N effects)."""
    spec = infection(s0=19_500, i0=500)
    t = np.linspace(0, 20, 6)
    ode = simulate(spec, t)
    traj = simulate(spec, t, method="ssa", runs=40, seed=2)
    for sid in ("S", "I", "R"):
        np.testing.assert_allclose(traj[sid].mean(0), ode[sid], rtol=0.01, atol=20)


def test_tau_leaping_agrees_with_the_exact_method_for_large_counts() -> None:
    spec = infection(s0=95_000, i0=5_000)
    t = np.linspace(0, 10, 6)
    exact = simulate(spec, t, method="ssa", runs=20, seed=4)
    leap = simulate(spec, t, method="tau-leap", runs=20, seed=4)
    np.testing.assert_allclose(leap["I"].mean(0), exact["I"].mean(0), rtol=0.02, atol=50)
    np.testing.assert_allclose(leap["I"].std(0), exact["I"].std(0), rtol=0.5, atol=30)


def test_early_extinction_of_a_virus_matches_the_branching_process() -> None:
    """While target cells are plenty, a virion infects (rate b = beta T0) or is cleared (c); an
    infected cell makes virions (rate p) until it dies (delta). The extinction probability of
    one virion is the smallest root of q = c/(b+c) + b/(b+c) * delta/(delta + p (1 - q)), and
    of v0 virions q**v0 (here b = c = 5, p = 10, delta = 1: q = 0.6)."""
    t0, b, c, p, delta, v0, n = 300.0, 5.0, 5.0, 10.0, 1.0, 2, 3000
    q = 0.6
    assert math.isclose(q, c / (b + c) + b / (b + c) * delta / (delta + p * (1 - q)))
    spec = tiv_stochastic(t0, v0, b / t0, p, c, delta)
    # by day 3 a surviving infection holds dozens of particles or more (q**40 ~ 1e-9)
    traj = simulate(spec, [0.0, 3.0], method="ssa", runs=n, seed=9)
    extinct = (traj["V"][:, -1] == 0) & (traj["I"][:, -1] == 0)
    expected = q**v0
    se = math.sqrt(expected * (1 - expected) / n)
    assert abs(extinct.mean() - expected) < 4 * se + 0.01, (extinct.mean(), expected)


def test_events_and_assignment_rules() -> None:
    b = ModelBuilder("pulse").parameter("k", 0.5).parameter("dose", 40.0)
    b.species("X", 0.0, amount=True, only_substance=True)
    b.reaction("decay", "X ->", "k * X")
    b.event("give", "time >= 2", {"X": "X + dose"})
    b.assign("twice", "2 * X")
    spec = b.build()
    t = np.array([0.0, 1.0, 2.0, 3.0])
    traj = simulate(spec, t, method="ssa", runs=500, seed=1, outputs=["twice"])
    x = traj["X"]
    assert np.all(x[:, :2] == 0)
    assert np.all(x[:, 2] == 40)  # output at the event time comes after the event
    np.testing.assert_array_equal(traj["twice"], 2 * x)
    assert abs(x[:, 3].mean() - 40 * math.exp(-0.5)) < 4 * math.sqrt(40 * 0.6 * 0.4 / 500) + 0.5


def test_clock_rate_rule_and_distrib_draw_in_an_event() -> None:
    """A rate rule with constant rate is a clock; an event draws a fresh normal value each time."""
    b = ModelBuilder("draws").parameter("tick", 0.0, constant=False).parameter("sd", 1.5)
    b.species("X", 0.0, amount=True, only_substance=True)
    b.rate("tick", "1")
    b.event("redraw", "tick >= 0.5", {"X": "normal(3, sd)", "tick": "-0.5"})
    spec = b.build()
    traj = simulate(spec, np.arange(0.0, 6.0), method="ssa", runs=4000, seed=8)
    x = traj["X"]
    assert np.all(x[:, 0] == 0)
    np.testing.assert_allclose(x[:, 1:].mean(0), 3.0, atol=4 * 1.5 / math.sqrt(4000))
    np.testing.assert_allclose(x[:, 1:].std(0), 1.5, rtol=0.05)
    # one fresh draw per time unit: consecutive outputs are independent
    assert abs(np.corrcoef(x[:, 1], x[:, 2])[0, 1]) < 0.06


@pytest.mark.parametrize(
    ("build", "element"),
    [
        (lambda b: b.species("X", 5.0).rate("X", "-0.1 * X"), "X"),
        (lambda b: b.species("X", 5.0, amount=True).reaction("r", "X ->", "0.1 * X * time"), "r"),
        (
            lambda b: (
                b.parameter("k", 1.0).species("X", 5.0).reaction("r", "X ->", "normal(1, 0.1) * X")
            ),
            "r",
        ),
    ],
)
def test_refuses_what_is_not_exact(build, element: str) -> None:  # type: ignore[no-untyped-def]
    spec = build(ModelBuilder("refused")).build()
    with pytest.raises(UnsupportedFeature) as info:
        simulate(spec, [0.0, 1.0], method="ssa", runs=2, seed=1)
    assert info.value.element == element
    assert info.value.backend == "ssa"


def test_initial_draws_are_drawn_once_or_refused() -> None:
    b = ModelBuilder("init_draw").parameter("k", 0.1)
    b.species("X", 0.0, amount=True, only_substance=True).initial("X", "poisson(50)")
    b.reaction("decay", "X ->", "k * X")
    x = simulate(b.build(), [0.0, 1.0], method="ssa", runs=2000, seed=3)["X"]
    assert abs(x[:, 0].mean() - 50) < 4 * math.sqrt(50 / 2000)
    assert np.all(x[:, 1] <= x[:, 0])
    b.parameter("u", 1.0).initial("u", "uniform(0, 1)")
    with pytest.raises(UnsupportedFeature) as info:
        simulate(b.build(), [0.0, 1.0], method="ssa", runs=2, seed=3)
    assert info.value.element == "u"


def test_refuses_algebraic_rules_and_bad_arguments() -> None:
    from immunetwin.model import AlgebraicRule, as_expr

    spec = birth_death()
    alg = spec.replace(
        parameters=(*spec.parameters,),
        algebraic_rules=(AlgebraicRule(expr=as_expr("lam - 0.1")),),
    )
    with pytest.raises(UnsupportedFeature, match="AlgebraicRule"):
        simulate(alg, [0.0, 1.0], method="ssa", runs=2, seed=1)
    with pytest.raises(ValueError, match="runs"):
        simulate(spec, [0.0, 1.0], method="ssa", runs=0)
    with pytest.raises(ValueError, match="seed"):
        simulate(spec, [0.0, 1.0], method="ssa", runs=2, seed=-1)
    with pytest.raises(ValueError, match="method"):
        simulate(spec, [0.0, 1.0], method="gillespie")


def test_delayed_event_with_values_from_trigger_time() -> None:
    """X is set at t = 1 + 0.5 to twice its value at the trigger time t = 1."""
    b = ModelBuilder("delayed").parameter("k", 0.3)
    b.species("X", 50.0, amount=True, only_substance=True)
    b.reaction("decay", "X ->", "k * X")
    b.event("double", "time >= 1", {"X": "2 * X"}, delay="0.5")
    b.assign("copy", "X")
    traj = simulate(b.build(), [0.0, 1.0, 1.5], method="ssa", runs=300, seed=6)
    x = traj["X"]
    np.testing.assert_array_equal(x[:, 2], 2 * x[:, 1])


def test_propensity_switched_on_and_off_in_time() -> None:
    """Production at rate 10 only for 2 <= t < 4: X(5) is Poisson with mean 20, X(2) is 0."""
    b = ModelBuilder("window").parameter("k", 10.0)
    b.species("X", 0.0, amount=True, only_substance=True)
    b.reaction("make", "-> X", "piecewise(k, time >= 2 and time < 4, 0)")
    x = simulate(b.build(), [0.0, 2.0, 3.0, 5.0], method="ssa", runs=3000, seed=4)["X"]
    assert np.all(x[:, 1] == 0)
    assert abs(x[:, 3].mean() - 20) < 4 * math.sqrt(20 / 3000)
    assert abs(x[:, 3].var() - 20) < 2.0
    assert np.all(x[:, 3] >= x[:, 2])
