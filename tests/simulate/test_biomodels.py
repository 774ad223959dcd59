"""Verification: the compiled engine agrees with libRoadRunner on every shared immune SBML model.

libRoadRunner (CVODE) runs the ORIGINAL SBML file, not our import of it, so a mistake in our SBML
reader, our flattening of SBML semantics, or our solvers shows up here. A model the compiled
engine cannot run must raise ``UnsupportedSBMLFeature`` / ``UnsupportedFeature``, never a wrong
answer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from immunetwin.errors import UnsupportedFeature, UnsupportedSBMLFeature
from immunetwin.model import from_sbml
from immunetwin.simulate import SolverOptions, simulate

MODELS = sorted(
    (Path(__file__).resolve().parents[3] / "shared/data/sbml-immune-biomodels/models").glob("*.xml")
)
RTOL = 1e-4
T_END = 10.0
POINTS = 51


def _reference(path: Path, ids: list[str], hosu: set[str]) -> np.ndarray:
    import roadrunner

    rr = roadrunner.RoadRunner(str(path))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-14
    rr.integrator.setValue("maximum_num_steps", 200000)
    rr.timeCourseSelections = ["time"] + [s if s in hosu else f"[{s}]" for s in ids]
    res = rr.simulate(0.0, T_END, POINTS)
    return np.asarray(res)[:, 1:]


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_compiled_agrees_with_roadrunner(path: Path) -> None:
    try:
        spec = from_sbml(path)
        variable = [p.id for p in spec.parameters if not p.constant]
        traj = simulate(
            spec,
            np.linspace(0.0, T_END, POINTS),
            outputs=variable,
            options=SolverOptions(rtol=1e-10, atol=1e-14),
            # a conformance check against libRoadRunner: some models' species do go negative
            # (MODEL1504160000: s7, s8, in libRoadRunner's results too)
            on_negative="ignore",
        )
    except (UnsupportedSBMLFeature, UnsupportedFeature) as exc:
        pytest.skip(f"unsupported: {exc}")
    species = [s.id for s in spec.species] + variable
    assert species, "nothing to compare"
    hosu = {s.id for s in spec.species if s.has_only_substance_units} | set(variable)
    ref = _reference(path, species, hosu)
    ours = np.stack([traj[s] for s in species], axis=1)
    scale = np.maximum(np.max(np.abs(ref), axis=0), 1e-300)
    tol = RTOL * np.abs(ref) + 1e-6 * scale
    bad = np.abs(ours - ref) > tol
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise AssertionError(
            f"{path.name}: '{species[j]}' at t={traj.times[i]:.4g}: ours {ours[i, j]:.9g} vs libRoadRunner {ref[i, j]:.9g}"
            f" ({int(bad.sum())} values differ)"
        )
