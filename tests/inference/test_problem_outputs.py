"""CalibrationProblem scores precomputed model outputs exactly as it scores its own simulations."""

from __future__ import annotations

import numpy as np
import pytest
from inferhelpers import make_data

from immunetwin.errors import FitError
from immunetwin.inference import CalibrationProblem
from immunetwin.model import ModelSpec


def test_objective_and_predictions_from_outputs_match_a_simulation(spec: ModelSpec) -> None:
    data = make_data(spec, seed=1)
    pb = CalibrationProblem(spec, data, observables={"titer": "titer"}, estimate=["beta", "p", "c"])
    th = np.stack([pb.nominal, pb.nominal + 0.1, pb.nominal - 0.05])
    y, _, _, ok = pb.simulate_outputs(th, sensitivities=False)
    assert ok.all()
    np.testing.assert_allclose(pb.objective_from_outputs(th, y), pb.objective(th), rtol=1e-12)
    np.testing.assert_allclose(
        pb.objective_from_outputs(th, y, prior=False), pb.objective(th, prior=False), rtol=1e-12
    )
    mu, ok_mu = pb.predict_from_outputs(th, y)
    mu_sim, _, _ = pb.predict(th, jacobian=False)
    np.testing.assert_allclose(mu, mu_sim, rtol=1e-12)
    assert ok_mu.all()
    # a failed (non-finite) member scores +inf, the others are unaffected
    y_bad = y.copy()
    y_bad[1, 0, 0] = np.nan
    v = pb.objective_from_outputs(th, y_bad)
    assert np.isinf(v[1]) and np.isfinite(v[[0, 2]]).all()
    with pytest.raises(FitError, match="shape"):
        pb.objective_from_outputs(th, y[:, :-1, :])
