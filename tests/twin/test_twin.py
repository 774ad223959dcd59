"""DigitalTwin: calibrate, SMC update (vs a full re-fit), forecast, what-if, optimise, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from twinhelpers import ANALYTE, make_twin, subject_data

from immunetwin.errors import FitError
from immunetwin.inference import GaussianPrior
from immunetwin.twin import (
    CalibrationStep,
    Constraint,
    DigitalTwin,
    Scenario,
    UpdateStep,
    fill_missing_limits,
    read_twin_info,
)
from immunetwin.twin._scenarios import inflammation_state, resolve


def test_calibrate_gives_particle_posterior(twin):
    post = twin.posterior
    assert post.kind == "smc"
    assert post.theta_draws.shape == (1, 300, 6)
    s = twin.summary()
    assert list(s["parameter"]) == ["beta", "delta1", "delta2", "piv", "V0", "sigma_v"]
    assert (s["q05"] <= s["median"]).all() and (s["median"] <= s["q95"]).all()
    h = twin.history[-1]
    assert isinstance(h, CalibrationStep) and h.step == "calibrate" and h.acceptance > 0.05
    # the particles are diverse (no collapse)
    assert len(np.unique(post.theta_draws[0, :, 0])) > 50


def test_update_agrees_with_full_refit(ke_data, prior):
    tw = make_twin(ke_data, prior, until=3.0, seed=3).calibrate(starts=6)
    later = [o for o in subject_data(ke_data, "p1").observations if 3.0 < o.time <= 7.0]
    for o in later:
        tw.update([o])
    ref = make_twin(ke_data, prior, until=7.0, seed=4).calibrate(starts=6)
    pu, pr = tw.posterior, ref.posterior
    for n in pu.names:
        assert abs(pu.mean_theta[n] - pr.mean_theta[n]) <= pr.sd_theta[n], n
    assert [h.step for h in tw.history] == ["calibrate"] + ["update"] * len(later)
    # the rejuvenation path (resample, move the copies) is part of what agrees
    assert any(isinstance(h, UpdateStep) and h.resampled and h.moves > 0 for h in tw.history)


def test_update_reweights_from_the_cache(ke_data, prior):
    tw = make_twin(ke_data, prior, until=3.0, seed=5).calibrate(starts=4)
    nxt = next(o for o in subject_data(ke_data, "p1").observations if o.time == 4.0)
    before = tw.simulations
    tw.update([nxt], ess_threshold=0.0)  # no rejuvenation: reweighting only
    assert tw.simulations == before  # read from the cached trajectories
    h = tw.history[-1]
    assert isinstance(h, UpdateStep)
    assert not h.resampled and h.seconds > 0  # no simulation: checked above; timing in benchmarks
    with pytest.raises(FitError, match="other subjects"):
        tw.update([subject_data(ke_data, "p2").observations[0]])


def test_forecast_table(twin):
    fc = twin.forecast()
    t = fc.table
    assert set(t["kind"]) == {"observable", "observable_mean", "state"}
    obs = fc.quantiles(ANALYTE, "observable")
    assert len(obs) == 85
    q = obs[["q05", "q25", "q50", "q75", "q95"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= -1e-12)
    # measurement noise widens the observable bands
    mean = fc.quantiles(ANALYTE, "observable_mean")
    assert (obs["q95"] - obs["q05"]).mean() > (mean["q95"] - mean["q05"]).mean()
    assert fc.draws[ANALYTE].shape == (300, 85)
    assert "V" in fc.draws and "F" in fc.draws
    treated = twin.forecast(np.linspace(0, 10, 11), scenario=Scenario.antiviral(0.0, 0.99))
    base = twin.forecast(np.linspace(0, 10, 11))
    assert (
        treated.quantiles("V", "state")["q50"].iloc[-1]
        < base.quantiles("V", "state")["q50"].iloc[-1]
    )


def test_what_if_and_outcomes(twin):
    assert inflammation_state(twin.model) == "F"
    comp = twin.what_if(["none", "antiviral:0:0.9", "antiviral:6:0.9"])
    s = comp.summary().set_index("scenario")
    assert {"peak_median", "auc_median", "clearance_median", "peak_inflammation_median"} <= set(
        s.columns
    )
    early, late = s.loc["antiviral day 0 (90%)"], s.loc["antiviral day 6 (90%)"]
    none = s.loc["no treatment"]
    assert early["auc_median"] < late["auc_median"] <= none["auc_median"] + 1e-9
    assert none["p_auc_halved"] == 0.0
    with pytest.raises(FitError, match="unique"):
        twin.what_if(["none", "none"])


def test_optimise_latest_start(twin):
    res = twin.optimise(
        {"start": [-6.0, -3.0, 0.0, 3.0]},
        "max:start",
        [Constraint("auc", 0.8, 0.9)],
    )
    tab = res.table
    assert list(tab["start"]) == [-6.0, -3.0, 0.0, 3.0]
    p = tab["p_constraint_0"].to_numpy()
    assert np.all((p >= 0) & (p <= 1))
    assert list(tab["feasible"]) == list(p >= 0.9)
    if res.best is not None:
        assert res.best["start"] == tab.loc[tab["feasible"], "start"].max()
    with pytest.raises(FitError, match="objective"):
        twin.optimise({"start": [0.0]}, "best")


def test_scenarios_resolve_and_parse(twin):
    assert resolve(Scenario.antiviral(2.0, 0.8), twin.model) == {"t_av": 2.0, "eps_av": 0.8}
    assert resolve(Scenario.none(), twin.model) == {}
    assert Scenario.parse("name=x,eps_av=0.5,t_av=1").overrides == {"eps_av": 0.5, "t_av": 1.0}
    with pytest.raises(FitError, match="cytokine_blockade"):
        resolve(Scenario.cytokine_blockade(1.0), twin.model)
    with pytest.raises(FitError, match="cannot read"):
        Scenario.parse("aspirin")


def test_save_load_roundtrip(twin, tmp_path):
    d = twin.save(tmp_path / "tw")
    info = read_twin_info(d)
    assert info.model_hash == twin.model.hash() and info.subject == "p1"
    assert info.data_sha256 and info.version == 1 and info.n_updates == 0
    back = DigitalTwin.load(d)
    assert back.config == twin.config
    s0, s1 = twin.state, back.state
    np.testing.assert_array_equal(s1.particles.theta, s0.particles.theta)
    np.testing.assert_array_equal(s1.particles.log_weight, s0.particles.log_weight)
    np.testing.assert_array_equal(s1.map_theta, s0.map_theta)
    np.testing.assert_array_equal(s1.floor_cov, s0.floor_cov)
    np.testing.assert_array_equal(s1.grid, s0.grid)
    assert repr(s1.history) == repr(s0.history)  # nan-safe equality of the typed history
    assert s1.rng_state == s0.rng_state
    assert back.summary().equals(twin.summary())
    # the re-simulated cache forecasts exactly as the saved twin (same generator state)
    t = back.cache_grid[::8][:20]
    a, b = back.forecast(t, states=False).table, twin.forecast(t, states=False).table
    np.testing.assert_allclose(a["q50"].to_numpy(), b["q50"].to_numpy(), rtol=1e-9, atol=1e-12)


def test_missing_limits_are_reported(ke_data):
    sub = subject_data(ke_data, "p1")
    with pytest.raises(FitError, match="lod="):
        fill_missing_limits(sub, {})
    assert all(
        o.limit is not None
        for o in fill_missing_limits(sub, {ANALYTE: 8.0}).observations
        if o.censored
    )


def test_report_holds_figures_and_tables(twin, tmp_path):
    from immunetwin.twin._report import write_report

    p = write_report(twin, tmp_path / "r.html")
    text = p.read_text()
    for ident in (
        "fig-fit",
        "fig-forecast",
        "fig-whatif",
        "fig-posteriors",
        "whatif-table",
        "history-table",
    ):
        assert f'id="{ident}"' in text
    assert "data:image/png;base64," in text and "CC-BY-4.0" in text


def test_off_grid_update_and_cached_forecast_agree(ke_data, prior):
    import dataclasses

    tw = make_twin(ke_data, prior, until=3.0, seed=7, particles=150).calibrate(starts=4)
    grid = tw.cache_grid
    grid_times = grid[(grid >= 0) & (grid <= 8)][::4]
    cached = tw.forecast(grid_times, states=False).quantiles(ANALYTE, "observable_mean")["q50"]
    simulated = tw.forecast(grid_times + 1e-7, states=False).quantiles(ANALYTE, "observable_mean")
    np.testing.assert_allclose(cached.to_numpy(), simulated["q50"].to_numpy(), atol=1e-3)
    o = next(o for o in subject_data(ke_data, "p1").observations if o.time == 4.0)
    tw.update([dataclasses.replace(o, time=4.3)])
    h = tw.history[-1]
    assert isinstance(h, UpdateStep) and h.resimulated
    assert np.isclose(tw.cache_grid, 4.3).any()


def test_prior_on_some_parameters_only(ke_data, prior):
    # parameters the Gaussian prior leaves out keep the model's bounds (and start at its value)
    keep = [n for n in prior.names if n != "delta2"]
    part = GaussianPrior(
        mean={n: prior.mean[n] for n in keep},
        cov=prior.cov.loc[keep, keep],
        source="partial",
    )
    tw = make_twin(ke_data, part, particles=60).calibrate(starts=2, moves=1)
    assert tw.posterior.theta_draws.shape[-1] == 6
