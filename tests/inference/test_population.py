"""Population (mixed-effects) fits: covariates, fixed effects, censoring, errors, prior hand-over."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from immunetwin.data import Censoring, Dataset, Observation, Subject
from immunetwin.errors import FitError
from immunetwin.inference import (
    CalibrationProblem,
    Estimate,
    GaussianPrior,
    Noise,
    ObservableMap,
    PopulationOptions,
    PopulationPrior,
    fit,
    fit_population,
    with_time_shift,
)
from immunetwin.inference._population_eval import SubjectStack
from immunetwin.inference._population_synth import synthetic_population
from immunetwin.model import ModelBuilder, ModelSpec

RANDOM = ["beta", "delta", "p"]
QUICK = PopulationOptions(n_burn=60, n_smooth=40, conditional_draws=20)


@pytest.fixture(scope="module")
def small():  # type: ignore[no-untyped-def]
    return synthetic_population(12, seed=5)


@pytest.fixture(scope="module")
def small_fit(small):  # type: ignore[no-untyped-def]
    return fit_population(
        small.problems(), random=RANDOM, fixed_effects=["sigma_titer"], seed=0, options=QUICK
    )


def test_covariate_effect_and_fixed_effect_recovered() -> None:
    pop = synthetic_population(
        30, seed=11, age_effect=0.03, sd={"beta": 0.2, "delta": 0.3, "p": 0.4}
    )
    res = fit_population(
        pop.problems(),
        random=RANDOM,
        fixed_effects=["sigma_titer"],
        covariates={"beta": ["age"]},
        seed=2,
        options=QUICK,
    )
    b = res.covariate_effects["beta"]["age"]
    se = res.standard_errors.loc["beta(beta,age)", "se"]
    assert abs(b - 0.03) < max(3 * se, 0.01), (b, se)
    assert b > 0.01
    assert res.covariate_centers["age"] == pytest.approx(
        np.mean([s.age for s in pop.data.subjects])
    )
    # the shared noise sigma is a fixed effect near its true value
    assert res.fixed_effects["sigma_titer"] == pytest.approx(pop.sigma, rel=0.25)
    assert "fixed(sigma_titer)" in res.standard_errors.index
    # the prior is uncentred: a subject of the average age gets the population mean
    prior = res.prior()
    g = prior.for_subject({"age": res.covariate_centers["age"]})
    assert g.mean["beta"] == pytest.approx(res.mean_theta["beta"])
    g60 = prior.for_subject(Subject("x", age=60.0))
    assert g60.mean["beta"] - g.mean["beta"] == pytest.approx(
        b * (60.0 - res.covariate_centers["age"])
    )


def test_result_tables(small_fit, small) -> None:  # type: ignore[no-untyped-def]
    res = small_fit
    assert res.random == tuple(RANDOM)
    assert list(res.omega.index) == RANDOM and list(res.omega.columns) == RANDOM
    assert set(res.individual.columns) == {*RANDOM, "sigma_titer"}
    assert res.individual.index.name == "subject"
    assert res.individual["sigma_titer"].nunique() == 1  # a fixed effect is shared
    assert res.conditional.shape[0] == 12 * 3
    assert res.conditional_draws is not None and res.conditional_draws.shape[0] == 12
    assert not res.conditional_draws.flags.writeable
    iv = res.interval(0.9)
    assert np.all(iv["lower"] < iv["upper"])
    assert res.mean["beta"] == pytest.approx(np.exp(res.mean_theta["beta"]))
    assert {"iteration", "step", "mu(beta)", "omega(beta)", "fixed(sigma_titer)"} <= set(
        res.trace.columns
    )
    assert len(res.trace) == QUICK.n_burn + QUICK.n_smooth
    assert np.all(np.isfinite(res.standard_errors["se"]))
    assert "PopulationResult" in repr(res)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.objective = 0.0  # type: ignore[misc]


def test_laplace_em_agrees_with_saem(small_fit, small) -> None:  # type: ignore[no-untyped-def]
    res = fit_population(
        small.problems(),
        random=RANDOM,
        fixed_effects=["sigma_titer"],
        method="laplace-em",
        options=PopulationOptions(conditional_draws=0),
    )
    assert res.method == "laplace-em"
    assert res.conditional_draws is None  # intervals from the Laplace approximation
    for p in RANDOM:
        assert abs(res.mean_theta[p] - small_fit.mean_theta[p]) < 0.5, p
    iv = res.interval(0.9)
    assert np.all(iv["lower"] < iv["upper"])


def test_fully_censored_subject(small) -> None:  # type: ignore[no-untyped-def]
    # a subject whose every value is below the LOD still gets a (shrunk) estimate
    extra = tuple(
        Observation(
            "blank", float(t), "titer", None, "log10 TCID50/mL", censoring=Censoring.LEFT, limit=1.5
        )  # fmt: skip
        for t in (1.0, 2.0, 3.0, 5.0, 7.0)
    )
    data = Dataset(
        (*small.data.subjects, Subject("blank", age=40.0)), (*small.data.observations, *extra)
    )
    pop = dataclasses.replace(small, data=data)
    res = fit_population(
        pop.problems(), random=RANDOM, fixed_effects=["sigma_titer"], seed=0, options=QUICK
    )
    assert "blank" in res.subjects
    row = res.conditional.loc["blank"]
    assert np.all(np.isfinite(row["mode"]))
    # its data say "no visible infection": the posterior moves, but stays within the population
    for p in RANDOM:
        assert abs(row.loc[p, "mode"] - res.mean_theta[p]) < 3 * np.sqrt(res.omega.loc[p, p])


def test_fast_likelihood_matches_problem(small) -> None:  # type: ignore[no-untyped-def]
    probs = small.problems()
    stack = SubjectStack(list(probs.values()))
    rng = np.random.default_rng(0)
    subj = np.repeat(np.arange(12), 3)
    th = np.tile(stack.views[0].nominal, (36, 1)) + 0.3 * rng.standard_normal((36, 4))
    fast = stack.evaluate(th, subj).value
    plist = list(probs.values())
    ref = np.asarray(
        [
            float(np.asarray(plist[s].objective(th[i], prior=False)).ravel()[0])
            for i, s in enumerate(subj)
        ]
    )
    # the stacked run reads all subjects at the union of their times (dense output): ~1e-7
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-6)
    with_jac = stack.evaluate(th, subj, jacobian=True)  # sensitivities: other error control
    np.testing.assert_allclose(with_jac.value, fast, rtol=1e-5, atol=1e-6)
    # the vectorised likelihood equals the per-subject problem code on the same simulation
    fast_path = stack._fast
    stack._fast = None
    try:
        per_subject = stack.evaluate(th, subj).value
    finally:
        stack._fast = fast_path
    np.testing.assert_allclose(per_subject, fast, rtol=1e-12, atol=1e-10)


def test_population_prior_round_trip(small_fit, small) -> None:  # type: ignore[no-untyped-def]
    prior = small_fit.prior()
    assert isinstance(prior, PopulationPrior)
    assert prior.names == tuple(RANDOM)
    assert "population fit" in prior.source
    g = prior.for_subject()
    assert isinstance(g, GaussianPrior)
    # a new subject, fitted with the population prior and the population's sigma
    new = synthetic_population(1, seed=99)
    problem = CalibrationProblem(
        new.spec,
        new.data,
        observables={"titer": ObservableMap("titer")},
        estimate=[
            Estimate("beta", 1e-7, 1e-2),
            Estimate("delta", 0.1, 50.0),
            Estimate("p", 1e-4, 10.0),
        ],
        fixed={"sigma_titer": small_fit.fixed_effects["sigma_titer"]},
    )
    with_pop = fit(problem, prior=g, starts=5, seed=0)
    flat = fit(problem, starts=5, seed=0)
    assert with_pop.converged
    # the population prior pulls the estimate toward the population mean
    d_pop = sum(abs(with_pop.theta[i] - g.mean[p]) for i, p in enumerate(RANDOM))
    d_flat = sum(abs(flat.theta[i] - g.mean[p]) for i, p in enumerate(RANDOM))
    assert d_pop <= d_flat + 1e-6


def test_factory_and_dataset(small) -> None:  # type: ignore[no-untyped-def]
    res = fit_population(
        lambda sid: small.problem(sid),
        data=small.data,
        subjects=[s.id for s in small.data.subjects][:6],
        random=RANDOM,
        fixed_effects=["sigma_titer"],
        seed=0,
        options=PopulationOptions(n_burn=10, n_smooth=5, conditional_draws=0),
    )
    assert len(res.subjects) == 6


def test_errors(small) -> None:  # type: ignore[no-untyped-def]
    probs = small.problems()
    with pytest.raises(FitError, match="'k' is not estimated"):
        fit_population(probs, random=["k"], fixed_effects=["sigma_titer"])
    with pytest.raises(FitError, match=r"\['sigma_titer'\] are neither random nor fixed"):
        fit_population(probs, random=RANDOM)
    with pytest.raises(FitError, match="both random and fixed"):
        fit_population(probs, random=RANDOM, fixed_effects=["sigma_titer", "beta"])
    with pytest.raises(FitError, match="covariate effect on 'sigma_titer'"):
        fit_population(
            probs, random=RANDOM, fixed_effects=["sigma_titer"], covariates={"sigma_titer": ["age"]}
        )
    with pytest.raises(FitError, match="subject 'sub000' has no covariate 'weight'"):
        fit_population(
            probs, random=RANDOM, fixed_effects=["sigma_titer"], covariates={"beta": ["weight"]}
        )
    mixed = dict(probs)
    mixed["sub001"] = small.problem("sub001", estimate_sigma=False)
    with pytest.raises(FitError, match="subject 'sub001' estimates"):
        fit_population(mixed, random=RANDOM, fixed_effects=["sigma_titer"])
    with pytest.raises(FitError, match="at least 2 subjects"):
        fit_population({"sub000": probs["sub000"]}, random=RANDOM, fixed_effects=["sigma_titer"])
    with pytest.raises(FitError, match="unknown method"):
        fit_population(probs, random=RANDOM, fixed_effects=["sigma_titer"], method="nuts")  # type: ignore[arg-type]
    with pytest.raises(FitError, match="needs data"):
        fit_population(lambda s: probs[s], random=RANDOM)


# ---------------------------------------------------------------------- time shift
def _shift_model() -> ModelSpec:
    b = ModelBuilder("tiv_shift")
    b.parameter("beta", 1e-7, lower=1e-10, upper=1e-4)
    b.parameter("delta", 1.5, lower=0.1, upper=10.0)
    b.parameter("p", 2e3, lower=1.0, upper=1e6)
    b.parameter("c", 10.0, lower=1.0, upper=50.0)
    b.parameter("t_inf", -4.0, lower=-15.0, upper=5.0, log_scale=False)
    b.parameter("sigma", 0.5, lower=0.05, upper=5.0)
    b.state("T", 1e5, "-beta*T*V")
    b.state("I", 0.1, "beta*T*V - delta*I")
    b.state("V", 1.0, "p*I - c*V")
    b.observable("load", "V", noise="log10normal", sigma="sigma")
    return b.build()


def test_time_shift_gradient_and_fit() -> None:
    spec = _shift_model()
    times = np.arange(-6.0, 12.0, 1.5)
    obs = tuple(
        Observation("a", float(t), "load", float(v), "log10 copies/mL")
        for t, v in zip(times, np.linspace(2.0, 6.0, times.size), strict=True)
    )
    data = Dataset((Subject("a"),), obs)
    base = CalibrationProblem(
        spec,
        data,
        observables={"load": ObservableMap("V")},
        noise={"load": Noise(0.5)},
        estimate=[
            Estimate("beta"),
            Estimate("delta"),
            Estimate("t_inf", -15.0, 5.0, log_scale=False),
        ],
        t0=-20.0,
    )
    prob = with_time_shift(base, "t_inf", step=0.02)
    th = prob.to_theta({"beta": 1e-7, "delta": 1.5, "t_inf": -4.3})
    val, grad = prob.objective(th, gradient=True)
    h = 1e-5
    for i in range(3):
        e = np.zeros(3)
        e[i] = h
        fd = (prob.objective(th + e)[0] - prob.objective(th - e)[0]) / (2 * h)
        assert grad[0, i] == pytest.approx(fd, rel=2e-3, abs=1e-3), i
    # the shift moves the curve: a later infection predicts less virus at a fixed time
    mu_early, _, _ = prob.predict(prob.to_theta({"beta": 1e-7, "delta": 1.5, "t_inf": -5.0}))
    mu_late, _, _ = prob.predict(prob.to_theta({"beta": 1e-7, "delta": 1.5, "t_inf": -3.0}))
    k = int(np.searchsorted(times, -2.0))
    assert mu_early[0, k] > mu_late[0, k]
    # usable by the individual fit
    res = fit(prob, starts=4, seed=0)
    assert np.isfinite(res.objective)
    with pytest.raises(FitError, match="not estimated"):
        with_time_shift(base, "c")
    with pytest.raises(FitError, match="uses 'beta'"):
        with_time_shift(base, "beta")
