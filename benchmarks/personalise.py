"""Personalise a within-host model to one person: pyPESTO, scipy + libRoadRunner, and ours.

One process runs the same problem through three optimisers:

* pyPESTO (``ls_trf`` on a libRoadRunner residual objective with finite-difference
  sensitivities: AMICI is not built here, and pyPESTO's PEtab/RoadRunner objective has no
  censored (M3) likelihood, so the residuals are those of our likelihood computed from
  libRoadRunner simulations);
* scipy ``least_squares`` (trust region reflective, finite-difference Jacobian) on libRoadRunner;
* :func:`immunetwin.inference.fit` (batched Levenberg-Marquardt with forward sensitivities).

Problem: the Baccam et al. 2006 influenza model of the library, five estimated parameters
(beta, delta, p, c, V0, log scale, the library's bounds), 16 log10 titre observations of which
the ones below the detection limit (10^0.5) are left-censored, the noise sigma fixed. All three
start from the same 20 Latin-hypercube points; each method's best point is scored by the same
objective (``CalibrationProblem.objective``).

Prints wall time and best objective for each, one subject's warm MAP + Laplace time, and last
``ratio = X`` (the fastest competitor's time over ours).

Run: ``.venv/bin/python benchmarks/personalise.py`` (pyPESTO from the ``bench`` extra).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from immunetwin.data import Censoring, Dataset, Observation, Subject
from immunetwin.inference import CalibrationProblem, fit, laplace
from immunetwin.inference._likelihood import residuals as lik_residuals
from immunetwin.inference._optimize import start_points
from immunetwin.model import ModelSpec, library, to_sbml
from immunetwin.simulate import simulate

ESTIMATE = ["beta", "delta", "p", "c", "V0"]
LOD = 0.5
STARTS = 20
RTOL, ATOL = 1e-8, 1e-10


def synthetic(spec: ModelSpec, seed: int = 7) -> Dataset:
    """16 noisy log10 titres (sigma 0.3) from the library parameters, censored below the LOD."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.5, 8.5, 0.5)
    truth = simulate(spec, times)["titer"]
    y = np.log10(truth) + 0.3 * rng.standard_normal(times.size)
    obs = []
    for t, v in zip(times, y, strict=True):
        if v < LOD:
            obs.append(
                Observation(
                    "p1",
                    float(t),
                    "titer",
                    None,
                    "log10 TCID50/mL",
                    censoring=Censoring.LEFT,
                    limit=LOD,
                )  # fmt: skip
            )
        else:
            obs.append(Observation("p1", float(t), "titer", float(v), "log10 TCID50/mL"))
    return Dataset((Subject("p1"),), tuple(obs))


class RoadRunnerResiduals:
    """Residuals of the same likelihood, predictions from libRoadRunner (CVODE)."""

    def __init__(self, spec: ModelSpec, problem: CalibrationProblem) -> None:
        import roadrunner

        self.rr = roadrunner.RoadRunner(to_sbml(spec))
        self.rr.integrator.relative_tolerance = RTOL
        self.rr.integrator.absolute_tolerance = ATOL
        self.rr.integrator.maximum_num_steps = 20000
        obs = problem.observations
        self.times = np.concatenate([[0.0], np.unique(obs["time"].to_numpy())])
        self.tidx = np.searchsorted(self.times, obs["time"].to_numpy())
        self.value = obs["value"].to_numpy(dtype=float)
        self.lower = obs["lower"].to_numpy(dtype=float)
        self.upper = obs["upper"].to_numpy(dtype=float)
        self.code = obs["censoring"].map({"none": 0, "left": 1, "right": 2, "interval": 3})
        self.code = self.code.to_numpy(dtype=np.int64)
        self.df = obs["df"].to_numpy(dtype=float)
        self.sigma = spec.parameter("sigma_titer").value
        self.names = problem.names
        self.nsim = 0

    def __call__(self, theta: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        rr = self.rr
        for n, v in zip(self.names, np.exp(theta), strict=True):
            rr[n] = float(v)
        rr.reset()
        self.nsim += 1
        try:
            v = rr.simulate(times=self.times, selections=["V"])[:, 0]
        except RuntimeError:
            return np.full(self.value.size, 1e3)
        mu = np.log10(np.maximum(np.asarray(v)[self.tidx], 1e-300))[None, :]
        r, _, _ = lik_residuals(mu, np.array([self.sigma]), self.value, self.lower, self.upper,
                                self.code, self.df)  # fmt: skip
        return np.asarray(r[0])


def run_scipy(
    res: RoadRunnerResiduals, x0: np.ndarray[Any, Any], lo: Any, hi: Any
) -> np.ndarray[Any, Any]:
    from scipy.optimize import least_squares

    best_x, best = x0[0], np.inf
    for x in x0:
        out = least_squares(res, x, jac="2-point", bounds=(lo, hi), method="trf")
        if out.cost < best:
            best, best_x = out.cost, out.x
    return np.asarray(best_x)


def run_pypesto(
    res: RoadRunnerResiduals, x0: np.ndarray[Any, Any], lo: Any, hi: Any
) -> np.ndarray[Any, Any]:
    import pypesto
    import pypesto.optimize as popt
    from pypesto.objective import FD

    obj = FD(pypesto.Objective(res=res), sres=True, method="forward", delta_res=1e-6)
    problem = pypesto.Problem(obj, lb=lo, ub=hi, x_guesses=list(x0), x_names=list(res.names))
    optimizer = popt.ScipyOptimizer(method="ls_trf")
    result = popt.minimize(problem, optimizer, n_starts=len(x0), progress_bar=False)
    return np.asarray(result.optimize_result.list[0]["x"])


def main() -> None:
    spec = library.get("baccam2006_influenza")
    data = synthetic(spec)
    problem = CalibrationProblem(spec, data, observables={"titer": "titer"}, estimate=ESTIMATE)
    lo, hi = problem.bounds
    x0 = start_points(problem, STARTS, np.random.default_rng(1), "lhs")
    n_cens = int((problem.observations["censoring"] != "none").sum())
    print(f"problem: {spec.id}, estimate {ESTIMATE}, {problem.n_observations} observations "
          f"({n_cens} censored), {STARTS} starts")  # fmt: skip

    def score(theta: np.ndarray[Any, Any]) -> float:
        return float(np.asarray(problem.objective(theta))[0])

    times: dict[str, float] = {}
    best: dict[str, float] = {}
    # ours (warm-up compile first, not timed)
    fit(problem, starts=0, initial=x0[:1])
    t0 = time.perf_counter()
    ours = fit(problem, starts=0, initial=x0)
    times["immunetwin fit"] = time.perf_counter() - t0
    best["immunetwin fit"] = ours.objective
    rr = RoadRunnerResiduals(spec, problem)
    t0 = time.perf_counter()
    xs = run_scipy(rr, x0, lo, hi)
    times["scipy least_squares + libRoadRunner (FD)"] = time.perf_counter() - t0
    best["scipy least_squares + libRoadRunner (FD)"] = score(xs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            xp = run_pypesto(rr, x0, lo, hi)
            times["pyPESTO ls_trf + libRoadRunner (FD)"] = time.perf_counter() - t0
            best["pyPESTO ls_trf + libRoadRunner (FD)"] = score(xp)
    except ImportError as exc:  # pragma: no cover - pyPESTO not installed
        print(f"pyPESTO not available ({exc}); install the 'bench' extra")
    for name in times:
        print(f"{name:45s} wall {times[name]:8.3f} s   best objective {best[name]:.6f}")
    # one subject's MAP + Laplace, warm
    t0 = time.perf_counter()
    map_fit = fit(problem, starts=STARTS, seed=3)
    post = laplace(map_fit)
    t_ml = time.perf_counter() - t0
    print(
        f"MAP ({STARTS} starts) + Laplace, warm: {t_ml:.3f} s (objective {map_fit.objective:.6f})"
    )
    print("Laplace sd (log scale):", {k: round(v, 3) for k, v in post.sd_theta.items()})
    competitors = [v for k, v in times.items() if k != "immunetwin fit"]
    print(f"ratio = {min(competitors) / times['immunetwin fit']:.1f}")


if __name__ == "__main__":
    main()
