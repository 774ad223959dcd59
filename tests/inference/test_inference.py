"""Tests of immunetwin.inference: likelihood, gradients, MAP, censoring, uncertainty, profiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from inferhelpers import make_data

from immunetwin.data import (
    Censoring,
    Dataset,
    Intervention,
    InterventionKind,
    Observation,
    StandardCurve,
    Subject,
)
from immunetwin.errors import FitError
from immunetwin.inference import (
    CalibrationProblem,
    Estimate,
    GaussianPrior,
    InterventionMap,
    Noise,
    ObservableMap,
    PopulationPrior,
    Prior,
    Transform,
    fit,
    identifiability_report,
    laplace,
    profile,
    sample,
)
from immunetwin.inference._likelihood import residuals
from immunetwin.model import ModelSpec

TRUE = {"beta": 3.2e-5, "delta": 5.2, "p": 4.6e-2, "c": 5.2, "V0": 7.5e-2}


def _fd_grad(pb: CalibrationProblem, th: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = []
    for e in np.eye(th.size):
        out.append((pb.objective(th + h * e)[0] - pb.objective(th - h * e)[0]) / (2 * h))
    return np.asarray(out)


# ---------------------------------------------------------------------- likelihood terms
def test_residual_terms_match_log_probabilities() -> None:
    from scipy import stats

    mu = np.array([[0.3, 1.0, -0.5, 0.2, 9.0, -40.0]])
    sigma = np.array([0.5])
    value = np.array([0.1, np.nan, np.nan, np.nan, np.nan, np.nan])
    lower = np.array([np.nan, 0.5, 0.0, -0.2, 0.5, 0.5])
    upper = np.array([np.nan, np.nan, np.nan, 0.4, np.nan, np.nan])
    code = np.array([0, 1, 2, 3, 1, 1])
    df = np.full(6, np.inf)
    r, dmu, _ = residuals(mu, sigma, value, lower, upper, code, df)
    nll = 0.5 * r[0] ** 2
    z = (lower - mu[0]) / 0.5
    assert nll[0] == pytest.approx(0.5 * ((0.1 - 0.3) / 0.5) ** 2)
    assert nll[1] == pytest.approx(-stats.norm.logcdf(z[1]))
    assert nll[2] == pytest.approx(-stats.norm.logsf(z[2]))
    p = stats.norm.cdf((0.4 - 0.2) / 0.5) - stats.norm.cdf((-0.2 - 0.2) / 0.5)
    assert nll[3] == pytest.approx(-np.log(p))
    # far tails stay finite with the right derivative sign
    assert np.all(np.isfinite(r)) and np.all(np.isfinite(dmu))
    assert nll[4] == pytest.approx(-stats.norm.logcdf((0.5 - 9.0) / 0.5), rel=1e-8)
    assert dmu[0, 4] > 0 and dmu[0, 5] == pytest.approx(0.0, abs=1e-12)
    # Student-t residual reproduces the t log density (up to its constant)
    r_t, _, _ = residuals(np.array([[0.0]]), sigma, np.array([1.3]), lower[:1], upper[:1],
                          np.array([0]), np.array([3.0]))  # fmt: skip
    zt = 1.3 / 0.5
    assert 0.5 * r_t[0, 0] ** 2 == pytest.approx(2.0 * np.log1p(zt**2 / 3.0))


def test_gradient_matches_finite_differences(spec: ModelSpec) -> None:
    base = make_data(spec, seed=1, lod=1.0)
    extra = (
        Observation(
            "s1",
            9.0,
            "titer",
            None,
            "log10 TCID50/mL",
            censoring=Censoring.INTERVAL,
            limit=0.0,
            upper=1.5,
        ),  # fmt: skip
        Observation(
            "s1", 2.25, "titer", None, "log10 TCID50/mL", censoring=Censoring.RIGHT, limit=5.0
        ),  # fmt: skip
    )
    data = Dataset(base.subjects, base.observations + extra)
    gp = GaussianPrior.independent({"p": np.log(0.05)}, {"p": 1.0})
    for noise in (Noise("sigma_titer"), Noise("sigma_titer", distribution="student_t", df=4.0)):
        pb = CalibrationProblem(
            spec, data, observables={"titer": "titer"},
            estimate=["beta", "delta", "p", "c", "V0", "sigma_titer"],
            priors=({"c": Prior(kind="lognormal", a=np.log(5.0), b=1.0),
                     "delta": Prior(kind="normal", a=5.0, b=2.0)}, gp),
            noise={"titer": noise},
        )  # fmt: skip
        th = pb.to_theta({**TRUE, "sigma_titer": 0.4}) + 0.05
        val, grad = pb.objective(th, gradient=True)
        np.testing.assert_allclose(grad[0], _fd_grad(pb, th), rtol=2e-4, atol=2e-4)
        # batched evaluation equals row-by-row
        ths = np.stack([th, th - 0.1, th + 0.07])
        vals = pb.objective(ths)
        assert vals[0] == pytest.approx(val[0])
        assert vals[1] == pytest.approx(pb.objective(ths[1])[0])


# ---------------------------------------------------------------------- MAP
def test_fit_recovers_true_parameters(spec: ModelSpec) -> None:
    data = make_data(spec, seed=3, sigma=0.15, times=np.arange(0.25, 8.25, 0.25))
    pb = CalibrationProblem(spec, data, observables={"titer": "titer"},
                            estimate=["beta", "p", "c"], noise={"titer": 0.15})  # fmt: skip
    res = fit(pb, starts=12, seed=0)
    assert res.converged and res.n_at_best >= 2
    post = laplace(res)
    for k, sd in post.sd_theta.items():
        err = abs(np.log(res.estimates[k]) - np.log(TRUE[k]))
        assert err < max(3.5 * sd, 0.05), (k, res.estimates[k], sd)
    assert set(res.starts.columns) >= {"objective", "converged", "iterations", "beta", "start_beta"}
    assert res.objective == pytest.approx(float(pb.objective(res.theta)[0]))
    with pytest.raises(AttributeError):
        res.objective = 0.0  # type: ignore[misc]
    assert not res.theta.flags.writeable


def test_fit_warns_at_bounds(spec: ModelSpec) -> None:
    data = make_data(spec, seed=2)
    pb = CalibrationProblem(spec, data, observables={"titer": "titer"},
                            estimate=[Estimate("c", 0.1, 1.0), "p"])  # fmt: skip
    res = fit(pb, starts=4, seed=1)
    assert "c" in res.at_bounds
    assert any("'c' is at its upper bound" in w for w in res.warnings)


def _bias(spec: ModelSpec, mode: str, reps: int) -> np.ndarray:
    est = []
    for seed in range(reps):
        data = make_data(spec, seed=100 + seed, lod=2.0, mode=mode, sigma=0.3)
        pb = CalibrationProblem(spec, data, observables={"titer": "titer"},
                                estimate=["beta", "p", "c", "V0"], noise={"titer": 0.3})  # fmt: skip
        res = fit(pb, starts=4, seed=seed, initial=pb.to_theta({k: TRUE[k] for k in pb.names}))
        est.append(np.log(res.estimates["c"]) - np.log(TRUE["c"]))
    return np.asarray(est)


def test_censored_values_are_not_dropped_or_imputed(spec: ModelSpec) -> None:
    """M3 censoring vs dropping / imputing at the LOD over 20 synthetic replicates."""
    reps = 20
    m3, drop, imp = (_bias(spec, m, reps) for m in ("censor", "drop", "impute"))
    bias = {k: float(np.mean(v)) for k, v in (("m3", m3), ("drop", drop), ("impute", imp))}
    rmse = {
        k: float(np.sqrt(np.mean(v**2))) for k, v in (("m3", m3), ("drop", drop), ("impute", imp))
    }
    # the answers differ ...
    assert not np.allclose(m3, drop) and not np.allclose(m3, imp)
    # ... and the censored likelihood is the better calibrated one
    assert abs(bias["m3"]) < abs(bias["impute"]) and abs(bias["m3"]) < abs(bias["drop"]), bias
    assert rmse["m3"] < rmse["impute"], rmse


# ---------------------------------------------------------------------- uncertainty
def test_laplace_agrees_with_sampler(spec: ModelSpec) -> None:
    data = make_data(spec, seed=5, sigma=0.2, lod=None, times=np.arange(0.25, 8.25, 0.25))
    pb = CalibrationProblem(spec, data, observables={"titer": "titer"},
                            estimate=["p", "c", "V0"], noise={"titer": 0.2})  # fmt: skip
    res = fit(pb, starts=6, seed=0)
    lap = laplace(res)
    post = sample(pb, draws=250, chains=2, tune=150, seed=1, init=res)
    diag = post.diagnostics()
    assert (diag["r_hat"] < 1.1).all(), diag
    assert (diag["ess_bulk"] > 200).all(), diag
    for k in pb.names:
        sd_l = lap.sd_theta[k]
        assert abs(post.mean_theta[k] - lap.mean_theta[k]) < 0.3 * sd_l, k
        assert post.sd_theta[k] == pytest.approx(sd_l, rel=0.25), k
    idata = post.to_arviz()
    assert set(idata.posterior.data_vars) == set(pb.names)
    q = post.quantiles([0.05, 0.95])
    assert list(q.columns) == list(pb.names) and (q.iloc[0] < q.iloc[1]).all()
    assert isinstance(post.draws, pd.DataFrame) and set(post.mean) == set(pb.names)
    ql = lap.quantiles(0.5)
    assert ql.loc[0.5, "c"] == pytest.approx(res.estimates["c"], rel=1e-9)


def test_profile_flags_non_identifiable_parameter(spec: ModelSpec) -> None:
    # V depends on beta, p and T0 only through beta*T0 and p*T0 scalings: T0 is not identifiable
    data = make_data(spec, seed=4, sigma=0.2)
    pb = CalibrationProblem(spec, data, observables={"titer": "titer"},
                            estimate=["beta", "p", "T0", "c"], noise={"titer": 0.2})  # fmt: skip
    res = fit(pb, starts=6, seed=0)
    rep = identifiability_report(pb, res, ["T0", "c"], points=6)
    assert not rep.loc["T0", "identifiable"]
    assert rep.loc["c", "identifiable"]
    prof = profile(pb, res, "c", points=6)
    assert prof.lower < res.estimates["c"] < prof.upper
    assert (prof.table["delta"] > -1e-3).all()


# ---------------------------------------------------------------------- priors
def test_population_prior_for_subject_and_shrinkage(spec: ModelSpec) -> None:
    cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["p", "c"], columns=["p", "c"])
    pp = PopulationPrior(mean={"p": np.log(0.02), "c": np.log(5.0)}, cov=cov,
                         covariate_effects={"c": {"age": 0.01}}, source="test")  # fmt: skip
    gp = pp.for_subject(Subject("a", age=40.0))
    assert gp.mean["c"] == pytest.approx(np.log(5.0) + 0.4)
    with pytest.raises(FitError, match="age"):
        pp.for_subject({})
    data = make_data(spec, seed=6)
    pb = CalibrationProblem(spec, data, observables={"titer": "titer"}, estimate=["p", "c"])
    free = fit(pb, starts=4, seed=0)
    shrunk = fit(pb, starts=4, seed=0, prior=pp.for_subject({"age": 0.0}))
    d_free = abs(np.log(free.estimates["p"]) - np.log(0.02))
    d_shr = abs(np.log(shrunk.estimates["p"]) - np.log(0.02))
    assert d_shr < d_free


# ---------------------------------------------------------------------- mapping features
def test_ct_standard_curve_and_interventions(spec: ModelSpec) -> None:
    curve = StandardCurve("test", slope=-3.3, intercept=40.0)
    base = make_data(spec, seed=8, lod=None)
    ct_obs = tuple(
        Observation("s1", o.time, "ct", float(curve.log10_to_ct(o.value)), "Ct")
        for o in base.observations
    ) + (Observation("s1", 8.5, "ct", None, "Ct", censoring=Censoring.RIGHT, limit=38.0),)
    iv = Intervention("s1", 2.0, InterventionKind.ANTIVIRAL, "oseltamivir")
    data = Dataset(base.subjects, ct_obs, interventions=(iv,))
    common = {"estimate": ["p", "c"], "interventions": {"antiviral": InterventionMap(
        time="t_nai", values={"eps_nai": 0.9})}}  # fmt: skip
    on_ct = CalibrationProblem(spec, data, observables={"ct": ObservableMap(
        "titer", Transform.CT, curve)}, **common)  # type: ignore[arg-type]  # fmt: skip
    on_log = CalibrationProblem(spec, data, observables={"ct": ObservableMap(
        "titer", Transform.LOG10, curve)}, **common)  # type: ignore[arg-type]  # fmt: skip
    assert on_ct.summary()["fixed"] == {"t_nai": 2.0, "eps_nai": 0.9}
    obs = on_log.observations
    assert obs["censoring"].iloc[-1] == "left"  # a high Ct is a low load
    assert obs["lower"].iloc[-1] == pytest.approx(curve.ct_to_log10(38.0))
    # same model, Ct scale with sigma scaled by |slope|: same MAP
    a, b = fit(on_ct, starts=4, seed=0), fit(on_log, starts=4, seed=0)
    assert a.estimates["c"] == pytest.approx(b.estimates["c"], rel=1e-3)
    # expressions of outputs
    pb = CalibrationProblem(spec, base, observables={"titer": ObservableMap("V/2 + V/2", "log10")},
                            estimate=["p", "c"], noise={"titer": 0.3})  # fmt: skip
    th = pb.to_theta({"p": 0.05, "c": 5.0})
    np.testing.assert_allclose(pb.objective(th, gradient=True)[1][0], _fd_grad(pb, th), rtol=1e-4)


# ---------------------------------------------------------------------- errors
def test_typed_errors_name_the_culprit(spec: ModelSpec) -> None:
    data = make_data(spec)
    ok = {"observables": {"titer": "titer"}}
    with pytest.raises(FitError, match="'nope'"):
        CalibrationProblem(spec, data, estimate=["nope"], **ok)  # type: ignore[arg-type]
    with pytest.raises(FitError, match="'eps_nai'.*log scale"):
        CalibrationProblem(spec, data, estimate=[Estimate("eps_nai", log_scale=True)], **ok)  # type: ignore[arg-type]
    with pytest.raises(FitError, match="'V'.*bounds"):
        CalibrationProblem(spec, data, estimate=["V"], **ok)  # type: ignore[arg-type]
    with pytest.raises(FitError, match="estimated twice"):
        CalibrationProblem(spec, data, estimate=["p", "p"], **ok)  # type: ignore[arg-type]
    with pytest.raises(FitError, match="'load'"):
        CalibrationProblem(spec, data, observables={"load": "titer"}, estimate=["p"])
    with pytest.raises(FitError, match="'titer'.*'W'"):
        CalibrationProblem(spec, data, observables={"titer": "W + V"}, estimate=["p"])
    with pytest.raises(FitError, match="prior for 'c'"):
        CalibrationProblem(
            spec, data, estimate=["p"], priors={"c": Prior(kind="normal", a=1, b=1)}, **ok
        )  # type: ignore[arg-type]
    bad = Dataset(data.subjects, data.observations
                  + (Observation("s1", 9.0, "titer", None, "log10 TCID50/mL", censoring=Censoring.LEFT),))  # fmt: skip
    with pytest.raises(FitError, match="'titer'.*without a limit"):
        CalibrationProblem(spec, bad, estimate=["p"], **ok)  # type: ignore[arg-type]
    iv = Intervention("s1", 1.0, InterventionKind.ANTIVIRAL, "zanamivir")
    with pytest.raises(FitError, match="'zanamivir'.*not mapped"):
        CalibrationProblem(spec, Dataset(data.subjects, data.observations, interventions=(iv,)),
                           estimate=["p"], **ok)  # type: ignore[arg-type]  # fmt: skip
    two = Dataset(data.subjects + (Subject("s2"),), data.observations
                  + (Observation("s2", 1.0, "titer", 2.0, "log10 TCID50/mL"),))  # fmt: skip
    with pytest.raises(FitError, match="subject"):
        CalibrationProblem(spec, two, estimate=["p"], **ok)  # type: ignore[arg-type]
    with pytest.raises(FitError, match="not positive definite"):
        GaussianPrior(mean={"p": 0.0, "c": 0.0},
                      cov=pd.DataFrame([[1.0, 2.0], [2.0, 1.0]], index=["p", "c"], columns=["p", "c"]))  # fmt: skip


def test_with_fixed_sets_held_parameters(spec: ModelSpec) -> None:
    data = make_data(spec, seed=2)
    pb = CalibrationProblem(spec, data, observables={"titer": "titer"}, estimate=["p", "c"])
    theta = pb.to_theta({"p": 0.046, "c": 5.2})[None, :]
    y0 = pb.simulate_outputs(theta, sensitivities=False)[0]
    treated = pb.with_fixed({"eps_nai": 0.98, "t_nai": 1.0})
    y1 = treated.simulate_outputs(theta, sensitivities=False)[0]
    j = pb.output_names.index("V") if "V" in pb.output_names else 0
    assert y1[0, :, j].max() < 0.1 * y0[0, :, j].max()  # an early antiviral lowers the peak
    assert np.allclose(y1[0, pb.times < 1.0, j], y0[0, pb.times < 1.0, j])  # not before it starts
    assert pb.with_fixed({}) is pb
    with pytest.raises(FitError, match="estimated"):
        pb.with_fixed({"p": 1.0})
    with pytest.raises(FitError, match="no parameter"):
        pb.with_fixed({"nope": 1.0})
