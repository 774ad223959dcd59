"""The ``rk4`` solver (one module plus one registration line): order 4 on dy/dt = -y."""

from __future__ import annotations

import numpy as np
import pytest
from numba import cfunc

from immunetwin.model import ModelBuilder
from immunetwin.simulate import SolverOptions, simulate
from immunetwin.simulate.solvers import MODEL_SIG, STATUS_OK, get_solver, solve_one


@cfunc(MODEL_SIG)
def _decay(mode, idx, t, x, p, out):
    # dy/dt = -y; output y; initial value 1; f_t = 0
    if mode == 0:
        out[0] = -x[0]
    elif mode == 1:
        out[0] = -1.0
    elif mode == 2:
        out[0] = x[0]
    elif mode == 7:
        out[0] = 1.0
    elif mode == 11:
        out[0] = 0.0


def _error_at_one(h: float) -> float:
    t = np.array([0.0, 1.0])
    y, _, st, tr = solve_one(_decay, 1, 1, 1, 0, 0.0, t, np.full(1, np.nan), np.zeros(1),
                             "rk4", 1e-6, 1e-9, 100_000, h)  # fmt: skip
    assert st == STATUS_OK and tr == 1.0
    return abs(float(y[1, 0]) - np.exp(-1.0))


def test_rk4_is_registered_as_fixed_step_order_4() -> None:
    s = get_solver("rk4")
    assert (s.name, s.order, s.adaptive, s.stiff) == ("rk4", 4, False, False)


def test_rk4_converges_with_order_4() -> None:
    hs = [0.1, 0.05, 0.025, 0.0125]
    errs = [_error_at_one(h) for h in hs]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    # classical RK4: the global error falls 16-fold when the step halves
    np.testing.assert_allclose(orders, 4.0, atol=0.1)


def test_rk4_agrees_with_dopri5_through_simulate() -> None:
    b = ModelBuilder("decay")
    b.parameter("k", 1.0)
    b.state("y", 1.0, "-k*y")
    spec = b.build()
    times = np.linspace(0.0, 3.0, 13)
    fixed = simulate(spec, times, options=SolverOptions(method="rk4"))
    ref = simulate(spec, times, options=SolverOptions(method="dopri5", rtol=1e-10, atol=1e-12))
    np.testing.assert_allclose(fixed["y"], ref["y"], rtol=1e-6, atol=0)
    np.testing.assert_allclose(ref["y"], np.exp(-times), rtol=1e-9)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown method 'rk5'"):
        SolverOptions(method="rk5")
