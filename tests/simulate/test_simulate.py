"""simulate(): the compiled engine end to end, checked against exact solutions and libRoadRunner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from immunetwin.errors import ModelError, SimulationError
from immunetwin.model import ModelBuilder, ModelSpec
from immunetwin.simulate import Method, SolverOptions, Trajectory, simulate

TIGHT = SolverOptions(rtol=1e-10, atol=1e-12)


def decay(k: float = 0.7, x0: float = 5.0) -> ModelSpec:
    b = ModelBuilder("decay")
    b.parameter("k", k).state("x", x0, "-k*x").observable("log10x", "log10(x)", sigma=0.1)
    return b.build()


def tiv() -> ModelSpec:
    b = ModelBuilder("tiv")
    b.parameter("beta", 2.7e-5).parameter("delta", 4.0).parameter("p", 1.2e-2).parameter("c", 3.0)
    b.state("T", 4e8, "-beta*T*V").state("I", 0.0, "beta*T*V - delta*I").state(
        "V", 0.1, "p*I - c*V"
    )
    b.observable("log10V", "log10(V)", sigma=0.5)
    return b.build()


@pytest.mark.parametrize("method", list(Method))
def test_exact_solution_every_method(method: Method) -> None:
    t = np.linspace(0, 5, 11)
    traj = simulate(decay(), t, options=SolverOptions(rtol=1e-10, atol=1e-12, method=method))
    np.testing.assert_allclose(traj["x"], 5.0 * np.exp(-0.7 * t), rtol=1e-7)
    np.testing.assert_allclose(
        traj["log10x"], np.log10(5.0) - 0.7 * t / np.log(10), rtol=1e-7, atol=1e-9
    )


def test_result_is_labelled_and_immutable() -> None:
    traj = simulate(decay(), [0.0, 1.0, 2.0])
    assert isinstance(traj, Trajectory)
    df = traj.to_pandas()
    assert list(df.columns) == ["time", "x", "log10x"]
    with pytest.raises(ValueError):
        traj.values[0, 0, 0] = 1.0
    ds = traj.to_xarray()
    assert float(ds["x"].sel(time=1.0).item()) == pytest.approx(5 * np.exp(-0.7), rel=1e-5)


def test_batch_matches_single_runs_and_labels_members() -> None:
    ks = np.array([0.1, 0.5, 1.0, 2.0])
    t = np.linspace(0, 3, 7)
    batch = simulate(decay(), t, params={"k": ks}, options=TIGHT)
    assert batch.n_members == 4
    for i, k in enumerate(ks):
        np.testing.assert_allclose(batch["x"][i], 5.0 * np.exp(-k * t), rtol=1e-7)
    long = batch.to_pandas()
    assert set(long["member"]) == {0, 1, 2, 3}
    assert list(batch.params["k"]) == list(ks)
    frame = simulate(decay(), t, params=pd.DataFrame({"k": ks}), options=TIGHT)
    np.testing.assert_array_equal(frame.values, batch.values)


def test_initial_values_override() -> None:
    traj = simulate(decay(), [0.0, 1.0], initial={"x": 2.0}, options=TIGHT)
    assert traj["x"][1] == pytest.approx(2.0 * np.exp(-0.7), rel=1e-8)


def test_agrees_with_roadrunner_on_a_stiff_infection_model() -> None:
    t = np.linspace(0, 10, 41)
    ours = simulate(tiv(), t, options=TIGHT)
    ref = simulate(tiv(), t, backend="roadrunner", options=TIGHT)
    for s in ("T", "I", "V", "log10V"):
        np.testing.assert_allclose(ours[s], ref[s], rtol=1e-5, atol=1e-6)


def test_bolus_event_jumps_at_the_right_time() -> None:
    b = ModelBuilder("bolus")
    b.parameter("k", 1.0).state("x", 0.0, "-k*x").bolus("dose", "x", 10.0, at=2.0)
    t = np.array([1.0, 2.0, 3.0])
    traj = simulate(b.build(), t, options=TIGHT)
    assert traj["x"][0] == pytest.approx(0.0, abs=1e-12)
    assert traj["x"][1] == pytest.approx(10.0, rel=1e-8)  # the value after the dose
    assert traj["x"][2] == pytest.approx(10.0 * np.exp(-1.0), rel=1e-7)


def test_sensitivities_match_analytic_derivatives() -> None:
    t = np.linspace(0, 4, 9)
    traj = simulate(decay(), t, sensitivities=["k", "x"], options=TIGHT)
    np.testing.assert_allclose(
        traj.sensitivity("x", "k"), -t * 5.0 * np.exp(-0.7 * t), rtol=1e-5, atol=1e-9
    )
    np.testing.assert_allclose(traj.sensitivity("x", "x"), np.exp(-0.7 * t), rtol=1e-5)
    np.testing.assert_allclose(
        traj.sensitivity("log10x", "k"), -t / np.log(10), rtol=1e-5, atol=1e-9
    )


def test_sensitivities_match_finite_differences_on_a_nonlinear_model() -> None:
    t = np.linspace(0, 6, 13)
    names = ["beta", "delta", "p", "c"]
    traj = simulate(tiv(), t, sensitivities=names, options=TIGHT)
    base = tiv().parameter_values
    for name in names:
        h = base[name] * 1e-5
        up = simulate(tiv(), t, params={name: base[name] + h}, options=TIGHT)["log10V"]
        dn = simulate(tiv(), t, params={name: base[name] - h}, options=TIGHT)["log10V"]
        fd = (up - dn) / (2 * h)
        np.testing.assert_allclose(
            traj.sensitivity("log10V", name), fd, rtol=2e-4, atol=1e-6 * np.abs(fd).max()
        )


def test_failures_are_reported_never_returned_as_numbers() -> None:
    b = ModelBuilder("blowup")
    b.parameter("a", 1.0).state("x", 1.0, "a*x^2")
    spec = b.build()
    with pytest.raises(SimulationError, match="blowup") as info:
        simulate(spec, [0.0, 0.5, 2.0])
    assert info.value.time is not None and info.value.time < 1.01
    batch = simulate(spec, [0.0, 0.5, 2.0], params={"a": [1.0, -1.0]}, errors="report")
    assert [f.member for f in batch.failures] == [0]
    assert np.isnan(batch.values[0, -1]).all()
    assert np.isfinite(batch.values[1]).all()
    assert list(batch.ok) == [False, True]


def test_unknown_parameter_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="unknown parameter 'kk'"):
        simulate(decay(), [0.0, 1.0], params={"kk": 1.0})


def test_extra_outputs_and_compiled_cache_on_disk(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("IMMUNETWIN_CACHE", str(tmp_path))
    traj = simulate(decay(), [0.0, 1.0], outputs=["k"])
    assert traj["k"][0] == 0.7
    files = list(tmp_path.rglob("m_*.py"))
    assert files, "generated model code is cached on disk"


def test_compiled_model_fast_path_matches_simulate() -> None:
    from immunetwin.simulate import compile_model, method_code

    spec = tiv()
    t = np.linspace(0, 5, 11)
    cm = compile_model(spec)
    ps = np.tile(cm.slot_values, (3, 1))
    j = cm.slots.index("c")
    ps[:, j] = [2.0, 3.0, 4.0]
    y, _, status, _ = cm.run(t, ps, method=method_code("auto"), rtol=1e-10, atol=1e-12)
    assert list(status) == [0, 0, 0]
    ref = simulate(spec, t, params={"c": [2.0, 3.0, 4.0]}, options=TIGHT)
    np.testing.assert_allclose(y, ref.values, rtol=1e-12)


def test_warmup_runs() -> None:
    from immunetwin.simulate import warmup

    warmup()
