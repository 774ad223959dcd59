"""PEtab problems: the PEtab test suite (v1), the benchmark collection's problems, export."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from immunetwin.errors import DataError, UnsupportedPetabFeature
from immunetwin.inference import CalibrationProblem, PetabProblem, export_petab, start_points

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SUITE = SHARED / "petab-test-suite" / "v1.0.0" / "sbml"
BENCH = SHARED / "petab-benchmark-immune"
ALL_CASES = [f"{i:04d}" for i in range(1, 21)]
# pre-equilibration, placeholders, log10, condition parameters, initial-assignment overrides
QUICK = {"0001", "0003", "0005", "0007", "0010", "0014", "0018", "0019"}


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip("shared data not available")


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    keys = ["observableId", "simulationConditionId", "time"]
    out = df.assign(_n=df.groupby(keys).cumcount())
    return out.sort_values([*keys, "_n"]).reset_index(drop=True)


@pytest.mark.parametrize(
    "case",
    [c if c in QUICK else pytest.param(c, marks=pytest.mark.slow) for c in ALL_CASES],
)
def test_petab_suite_v1(case: str) -> None:
    """Simulations, log-likelihood and chi2 match the suite's solution within its tolerances."""
    folder = SUITE / case
    _need(folder)
    sol = yaml.safe_load((folder / f"_{case}_solution.yaml").read_text())
    pr = PetabProblem(folder / f"_{case}.yaml")
    assert abs(-pr.nllh()[0] - sol["llh"]) <= sol["tol_llh"]
    assert abs(pr.chi2()[0] - sol["chi2"]) <= sol["tol_chi2"]
    ours = _ordered(pr.simulation_table())
    ref = _ordered(pd.read_csv(folder / sol["simulation_files"][0], sep="\t"))
    assert len(ours) == len(ref)
    np.testing.assert_allclose(ours["time"], ref["time"])
    diff = np.abs(ours["simulation"] - ref["simulation"]) / np.maximum(1, np.abs(ref["simulation"]))
    assert float(diff.max()) <= sol["tol_simulations"]


def _bench(name: str) -> Path:
    folder = BENCH / name
    _need(folder)
    return next(folder.glob("*.yaml"))


def _reference_rows(name: str) -> tuple[np.ndarray, np.ndarray]:
    pr = PetabProblem(_bench(name))
    ours = pr.simulation_table()
    ref = pd.read_csv(next((BENCH / name).glob("simulatedData_*.tsv")), sep="\t")
    ref = ref.rename(columns={"simulationCondition": "simulationConditionId"})
    a, b = _ordered(ours), _ordered(ref)
    assert len(a) == len(b)
    np.testing.assert_allclose(a["time"], b["time"])
    return a["simulation"].to_numpy(float), b["simulation"].to_numpy(float)


@pytest.mark.parametrize(
    "name",
    [
        "Crauste_CellSystems2017",
        pytest.param("Laske_PLOSComputBiol2019", marks=pytest.mark.slow),
        pytest.param("Raia_CancerResearch2011", marks=pytest.mark.slow),
        pytest.param("Liu_IFACPapersOnLine2025", marks=pytest.mark.slow),
    ],
)
def test_benchmark_reference_simulations(name: str) -> None:
    """`petab simulate` at the nominal parameters reproduces the collection's simulatedData."""
    ours, ref = _reference_rows(name)
    np.testing.assert_allclose(ours, ref, rtol=2e-4, atol=1e-6)


def test_crauste_nominal_objective() -> None:
    """Crauste at the nominal parameters: 190.96 (the collection's reported optimum)."""
    pr = PetabProblem(_bench("Crauste_CellSystems2017"))
    assert pr.nllh()[0] == pytest.approx(190.96, abs=0.01)
    assert len(pr.names) == 12 and pr.petab_scales["mu_N"] == "log10"


def test_perelson_matches_an_independent_engine() -> None:
    """Perelson's simulatedData were not made at its nominal parameters; libRoadRunner is the check."""
    roadrunner = pytest.importorskip("roadrunner")
    path = _bench("Perelson_Science1996")
    pr = PetabProblem(path)
    sim = pr.simulation_table()
    rr = roadrunner.RoadRunner(str(path.parent / "model_Perelson_Science1996.xml"))
    times = np.unique(sim["time"].to_numpy(float))
    out = rr.simulate(times=list(times), selections=["time", "V"])
    ref = dict(zip(np.asarray(out[:, 0]), np.asarray(out[:, 1]), strict=True))
    np.testing.assert_allclose(sim["simulation"], [ref[t] for t in sim["time"]], rtol=1e-5)


def test_gradient_matches_finite_differences() -> None:
    """The sensitivity gradient through observable and noise formulas (Crauste, random points)."""
    pr = PetabProblem(_bench("Crauste_CellSystems2017"))
    pts = start_points(pr, 6, np.random.default_rng(3))
    finite = [th for th in pts if np.isfinite(pr.objective(th)[0])]
    assert len(finite) >= 2
    for th in finite[:2]:
        _, g = pr.objective(th, gradient=True)
        h = 1e-5
        fd = [
            (pr.objective(th + h * e)[0] - pr.objective(th - h * e)[0]) / (2 * h)
            for e in np.eye(th.size)
        ]
        np.testing.assert_allclose(g[0], fd, rtol=1e-4, atol=1e-4 * (1 + np.max(np.abs(fd))))


def test_unsupported_features_name_the_row(tmp_path: Path) -> None:
    """A steady-state measurement and a PEtab 2 problem are refused with a one-line error."""
    src = SUITE / "0001"
    _need(src)
    case = tmp_path / "c"
    shutil.copytree(src, case)
    m = pd.read_csv(case / "_measurements.tsv", sep="\t")
    m["time"] = m["time"].astype(float)
    m.loc[1, "time"] = np.inf
    m.to_csv(case / "_measurements.tsv", sep="\t", index=False)
    with pytest.raises(UnsupportedPetabFeature, match=r"steady-state.*measurement table row 2"):
        PetabProblem(case / "_0001.yaml")
    v2 = SHARED / "petab-test-suite" / "v2.0.0" / "sbml" / "0001" / "_0001.yaml"
    with pytest.raises(UnsupportedPetabFeature, match="format_version"):
        PetabProblem(v2)
    with pytest.raises(DataError, match="no such"):
        PetabProblem(tmp_path / "missing.yaml")


def test_export_round_trip(tmp_path: Path, spec) -> None:  # type: ignore[no-untyped-def]
    """A calibration problem exported to PEtab passes petablint and reads back to the same
    likelihood (up to PEtab's constant measurement-transformation term); censoring is kept in
    the extension columns."""
    import petab.v1 as petab1

    sys.path.insert(0, str(Path(__file__).parent))
    from inferhelpers import make_data

    for lod in (None, 0.5):
        data = make_data(spec, lod=lod)
        pb = CalibrationProblem(
            spec, data, observables={"titer": "titer"},
            estimate=["beta", "p", "c", "sigma_titer"], noise={"titer": "sigma_titer"},
        )  # fmt: skip
        y = export_petab(pb, tmp_path / str(lod))
        assert not petab1.lint_problem(petab1.Problem.from_yaml(str(y)))
        meas = pd.read_csv(y.parent / "measurements.tsv", sep="\t")
        n_cens = sum(o.censored for o in data.observations)
        assert (meas["censoring"] == "left").sum() == n_cens and (n_cens > 0) == (lod is not None)
        if lod is None:
            pp = PetabProblem(y)
            assert pp.names == pb.names
            th = pb.nominal
            d0 = pb.objective(th, prior=False)[0] - pp.nllh(th)[0]
            d1 = pb.objective(th + 0.1, prior=False)[0] - pp.nllh(th + 0.1)[0]
            assert d0 == pytest.approx(d1, abs=1e-3)
            const = float(np.sum(np.log(meas["measurement"] * np.log(10))))
            assert d0 == pytest.approx(-const, abs=1e-3)


def test_fit_laplace_profile_accept_a_petab_problem() -> None:
    """Perelson from random starts (never the nominal): the best fit 222.28, well below the
    collection's nominal values (432.04, noise sd 1e5 on the log10 scale); Laplace and profile run."""
    from immunetwin.inference import fit, laplace, profile

    pr = PetabProblem(_bench("Perelson_Science1996"))
    assert pr.nllh()[0] == pytest.approx(432.04, abs=0.01)
    res = fit(pr, starts=6, seed=0)
    assert res.objective == pytest.approx(222.28, abs=0.01) and res.converged
    post = laplace(res)
    assert set(post.sd_theta) == set(pr.names)
    prof = profile(pr, res, "c", points=3)
    assert prof.lower is not None and prof.lower < res.estimates["c"] < prof.upper


@pytest.mark.slow
def test_converged_means_small_gradient() -> None:
    """Crauste: a start the optimiser calls converged has a small projected gradient (before the
    fix, starts stopped as 'converged' at 293.7 and higher with gradients up to 2.7e3)."""
    from immunetwin.inference import least_squares_batch

    pr = PetabProblem(_bench("Crauste_CellSystems2017"))
    th0 = start_points(pr, 6, np.random.default_rng(0))
    ls = least_squares_batch(pr, th0, max_iter=60)
    lo, hi = pr.bounds
    for i in np.flatnonzero(ls.converged):
        res = pr.residuals(ls.theta[i])
        g = res.r[0] @ res.jac[0]
        free = ~(((ls.theta[i] <= lo + 1e-9) & (g > 0)) | ((ls.theta[i] >= hi - 1e-9) & (g < 0)))
        assert np.max(np.abs(g[free])) <= max(1e-6, 1e-5 * (1 + ls.cost[i])) * 10
