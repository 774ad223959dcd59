"""Multi-start and population fits on engines: serial unchanged, process pools agree."""

from __future__ import annotations

import numpy as np
import pytest
from inferhelpers import make_data

from immunetwin.engine import ProcessEngine, SerialEngine
from immunetwin.inference import CalibrationProblem, fit
from immunetwin.inference._population_eval import SubjectStack
from immunetwin.inference._population_synth import synthetic_population
from immunetwin.model import ModelSpec


@pytest.fixture
def pool(process_pool: ProcessEngine) -> ProcessEngine:
    return process_pool


@pytest.fixture(scope="module")
def problem(spec: ModelSpec) -> CalibrationProblem:
    data = make_data(spec, seed=3, sigma=0.2)
    return CalibrationProblem(
        spec, data, observables={"titer": "titer"}, estimate=["beta", "p", "c"]
    )


def test_serial_engine_is_the_default_batch(problem: CalibrationProblem) -> None:
    a = fit(problem, starts=6, seed=1)
    b = fit(problem, starts=6, seed=1, engine=SerialEngine())
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.theta, fit(problem, starts=6, seed=1, engine="serial").theta)
    cols = [c for c in a.starts.columns if c != "message"]
    np.testing.assert_array_equal(a.starts[cols].to_numpy(), b.starts[cols].to_numpy())


@pytest.mark.slow
def test_process_engine_fit_agrees(problem: CalibrationProblem, pool: ProcessEngine) -> None:
    a = fit(problem, starts=8, seed=2)
    b = fit(problem, starts=8, seed=2, engine=pool)
    assert len(b.starts) == len(a.starts) == 8
    np.testing.assert_array_equal(b.starts["start_beta"], a.starts["start_beta"])
    assert b.objective == pytest.approx(a.objective, abs=1e-6)
    np.testing.assert_allclose(b.theta, a.theta, atol=1e-3)
    for m in b.starts["message"]:
        if m.startswith("reached the optimum of start "):
            j = int(m.rsplit(" ", 1)[1])
            assert b.starts["converged"][j]


def test_stacked_population_evaluation_on_a_pool(pool: ProcessEngine) -> None:
    pop = synthetic_population(6, seed=5)
    probs = list(pop.problems().values())
    here = SubjectStack(probs)
    there = SubjectStack(probs, engine=pool)
    rng = np.random.default_rng(0)
    th = np.clip(here.views[0].nominal + 0.1 * rng.standard_normal((24, here.k)), here.lo, here.hi)
    subj = np.repeat(np.arange(6), 4)
    for jac in (False, True):
        a = here.evaluate(th, subj, jacobian=jac)
        b = there.evaluate(th, subj, jacobian=jac)
        np.testing.assert_array_equal(a.value, b.value)
        np.testing.assert_array_equal(a.ok, b.ok)
        if jac:
            np.testing.assert_array_equal(a.grad, b.grad)


def test_problem_pickles(problem: CalibrationProblem) -> None:
    import pickle

    back = pickle.loads(pickle.dumps(problem))
    th = np.stack([problem.nominal, problem.nominal + 0.2])
    np.testing.assert_array_equal(back.objective(th), problem.objective(th))
    assert back.names == problem.names and back.subject == problem.subject
