"""The libRoadRunner reference backend: parameter changes, initial assignments, outputs, failures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from immunetwin.errors import ModelError
from immunetwin.model import ModelBuilder, ModelSpec
from immunetwin.simulate._roadrunner import run_roadrunner

pytest.importorskip("roadrunner")

_MATH = 'xmlns="http://www.w3.org/1998/Math/MathML"'

# A -> B with rate k*[A]*c in a compartment of size 2; [A](0) = A0 by an initial assignment;
# H is a species with only substance units (reported as an amount) decaying at rate k*H.
DECAY_SBML = f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="decay">
    <listOfCompartments>
      <compartment id="c" size="2" constant="true" spatialDimensions="3"/>
    </listOfCompartments>
    <listOfSpecies>
      <species id="A" compartment="c" initialConcentration="1" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
      <species id="B" compartment="c" initialConcentration="0" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
      <species id="H" compartment="c" initialAmount="5" hasOnlySubstanceUnits="true"
               boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters>
      <parameter id="k" value="1" constant="true"/>
      <parameter id="A0" value="3" constant="true"/>
    </listOfParameters>
    <listOfInitialAssignments>
      <initialAssignment symbol="A"><math {_MATH}><ci>A0</ci></math></initialAssignment>
    </listOfInitialAssignments>
    <listOfReactions>
      <reaction id="r" reversible="false">
        <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
        <listOfProducts><speciesReference species="B" stoichiometry="1" constant="true"/></listOfProducts>
        <kineticLaw><math {_MATH}><apply><times/><ci>k</ci><ci>A</ci><ci>c</ci></apply></math></kineticLaw>
      </reaction>
      <reaction id="rh" reversible="false">
        <listOfReactants><speciesReference species="H" stoichiometry="1" constant="true"/></listOfReactants>
        <kineticLaw><math {_MATH}><apply><times/><ci>k</ci><ci>H</ci></apply></math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>
"""

# dX/dt = X^2, X(0) = X0: blows up at t = 1/X0.
BLOWUP_SBML = f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="blowup">
    <listOfParameters>
      <parameter id="X" value="1" constant="false"/>
      <parameter id="X0" value="1" constant="true"/>
    </listOfParameters>
    <listOfInitialAssignments>
      <initialAssignment symbol="X"><math {_MATH}><ci>X0</ci></math></initialAssignment>
    </listOfInitialAssignments>
    <listOfRules>
      <rateRule variable="X"><math {_MATH}><apply><power/><ci>X</ci><cn>2</cn></apply></math></rateRule>
    </listOfRules>
  </model>
</sbml>
"""


def decay_spec() -> ModelSpec:
    b = ModelBuilder("decay")
    b.compartment("c", 2.0)
    b.parameter("k", 1.0).parameter("A0", 3.0)
    b.species("A", None, compartment="c").species("B", 0.0, compartment="c")
    b.species("H", 5.0, compartment="c", amount=True, only_substance=True)
    b.initial("A", "A0")
    b.reaction("r", "A -> B", "k*A*c").reaction("rh", "H ->", "k*H")
    b.function("twice", ["x"], "2*x")
    b.observable("total", "A + B")
    b.observable("scaled", "twice(k) * log10(H) + time")
    b.observable("nested", "total * c")
    return b.build()


def blowup_spec() -> ModelSpec:
    b = ModelBuilder("blowup")
    b.parameter("X0", 1.0)
    b.parameter("X", 1.0, constant=False)
    b.initial("X", "X0")
    b.rate("X", "X**2")
    return b.build()


def run(spec, sbml, times, params, initial=None, outputs=("A", "B", "H"), kinds=None, t0=0.0, **kw):
    kinds = kinds or tuple("species" for _ in outputs)
    initial = initial if initial is not None else [{} for _ in params]
    opts = {"rtol": 1e-10, "atol": 1e-12, "max_steps": 100_000, **kw}
    return run_roadrunner(
        spec,
        sbml,
        np.asarray(times, dtype=float),
        t0,
        params,
        initial,
        tuple(outputs),
        tuple(kinds),
        **opts,
    )


TIMES = np.linspace(0.0, 2.0, 9)


def test_nominal_values_are_reported_as_sbml_reports_them():
    values, failures = run(decay_spec(), DECAY_SBML, TIMES, [{}])
    assert failures == []
    assert values.shape == (1, 9, 3)
    a = 3.0 * np.exp(-TIMES)  # the rate k*[A]*c changes the amount: d[A]/dt = -k [A]
    np.testing.assert_allclose(values[0, :, 0], a, rtol=1e-7)
    np.testing.assert_allclose(values[0, :, 1], 3.0 - a, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(values[0, :, 2], 5.0 * np.exp(-TIMES), rtol=1e-7)  # H: amount


def test_parameter_changes_apply_per_member_and_are_restored():
    params = [{}, {"k": 2.0}, {}, {"k": 0.5}]
    values, failures = run(decay_spec(), DECAY_SBML, TIMES, params)
    assert failures == []
    for member, k in enumerate([1.0, 2.0, 1.0, 0.5]):
        np.testing.assert_allclose(values[member, :, 0], 3.0 * np.exp(-k * TIMES), rtol=1e-7)
        np.testing.assert_allclose(values[member, :, 2], 5.0 * np.exp(-k * TIMES), rtol=1e-7)


def test_initial_assignments_are_reevaluated_with_changed_parameters():
    params = [{"A0": 5.0}, {}, {"A0": 1.5, "k": 2.0}]
    values, failures = run(decay_spec(), DECAY_SBML, TIMES, params)
    assert failures == []
    for member, (a0, k) in enumerate([(5.0, 1.0), (3.0, 1.0), (1.5, 2.0)]):
        np.testing.assert_allclose(values[member, :, 0], a0 * np.exp(-k * TIMES), rtol=1e-7)


def test_initial_values_override_and_initial_assignment_targets():
    initial = [{"B": 1.0}, {"A": 2.0}, {}, {"H": 1.0}]
    values, failures = run(
        decay_spec(), DECAY_SBML, TIMES, [{}, {}, {"A0": 4.0}, {}], initial=initial
    )
    assert failures == []
    np.testing.assert_allclose(values[0, 0, :], [3.0, 1.0, 5.0], rtol=1e-12)
    np.testing.assert_allclose(values[1, 0, :], [2.0, 0.0, 5.0], rtol=1e-12)
    # the initial assignment of A is still in force after a member overrode A
    np.testing.assert_allclose(values[2, 0, :], [4.0, 0.0, 5.0], rtol=1e-12)
    np.testing.assert_allclose(values[3, :, 2], np.exp(-TIMES), rtol=1e-7)


def test_output_kinds_amount_parameter_compartment():
    outputs = ("amount(A)", "k", "c", "A0")
    kinds = ("amount", "parameter", "compartment", "parameter")
    values, failures = run(
        decay_spec(), DECAY_SBML, TIMES, [{"k": 2.0}], outputs=outputs, kinds=kinds
    )
    assert failures == []
    np.testing.assert_allclose(values[0, :, 0], 2.0 * 3.0 * np.exp(-2.0 * TIMES), rtol=1e-7)
    np.testing.assert_allclose(values[0, :, 1:], np.broadcast_to([2.0, 2.0, 3.0], (9, 3)))


def test_observables_use_concentrations_functions_time_and_other_observables():
    outputs = ("total", "scaled", "nested")
    kinds = ("observable",) * 3
    values, failures = run(
        decay_spec(), DECAY_SBML, TIMES, [{}, {"k": 3.0}], outputs=outputs, kinds=kinds
    )
    assert failures == []
    for member, k in enumerate([1.0, 3.0]):
        np.testing.assert_allclose(values[member, :, 0], 3.0, rtol=1e-8)
        expected = 2.0 * k * np.log10(5.0 * np.exp(-k * TIMES)) + TIMES
        np.testing.assert_allclose(values[member, :, 1], expected, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(values[member, :, 2], 6.0, rtol=1e-8)


def test_output_times_without_t0_and_with_a_later_t0():
    times = np.array([0.5, 1.0])
    values, _ = run(decay_spec(), DECAY_SBML, times, [{}])
    np.testing.assert_allclose(values[0, :, 0], 3.0 * np.exp(-times), rtol=1e-7)
    values, _ = run(decay_spec(), DECAY_SBML, np.array([1.0, 1.5]), [{}], t0=1.0)
    np.testing.assert_allclose(values[0, :, 0], 3.0 * np.exp(-np.array([0.0, 0.5])), rtol=1e-7)
    values, _ = run(decay_spec(), DECAY_SBML, np.array([0.0]), [{}])
    np.testing.assert_allclose(values[0, 0], [3.0, 0.0, 5.0])


def test_failures_are_reported_per_member_with_nan_rows():
    times = np.linspace(0.0, 2.0, 5)
    params = [{"X0": 0.1}, {"X0": 1.0}, {"X0": 0.2}]
    values, failures = run(
        blowup_spec(),
        BLOWUP_SBML,
        times,
        params,
        outputs=("X",),
        kinds=("parameter",),
        rtol=1e-6,
        atol=1e-9,
        max_steps=500,
    )
    assert [f[0] for f in failures] == [1]
    member, reason, time = failures[0]
    assert reason.startswith("libRoadRunner")
    assert 0.5 <= time <= 1.0 + 1e-6  # it got close to the blow-up at t = 1
    assert "CV_TOO_MUCH_WORK" in reason
    assert np.isnan(values[1]).all()
    np.testing.assert_allclose(values[0, :, 0], 0.1 / (1.0 - 0.1 * times), rtol=1e-4)
    np.testing.assert_allclose(values[2, :, 0], 0.2 / (1.0 - 0.2 * times), rtol=1e-4)


def test_non_finite_values_are_failures():
    values, failures = run(decay_spec(), DECAY_SBML, TIMES, [{}, {"k": math.nan}])
    assert [f[0] for f in failures] == [1]
    assert np.isnan(values[1]).all()
    assert np.isfinite(values[0]).all()


def test_unknown_ids_raise_model_errors():
    with pytest.raises(ModelError, match="nope"):
        run(decay_spec(), DECAY_SBML, TIMES, [{"nope": 1.0}])
    with pytest.raises(ModelError, match="amount"):
        run(decay_spec(), DECAY_SBML, TIMES, [{}], outputs=("amount(k)",), kinds=("amount",))


PARAM_IA_SBML = DECAY_SBML.replace(
    '<parameter id="A0" value="3" constant="true"/>',
    '<parameter id="A0" value="3" constant="true"/><parameter id="k2" value="0" constant="true"/>'
    '<parameter id="half" value="0" constant="false"/>',
).replace(
    "</listOfInitialAssignments>",
    f'<initialAssignment symbol="k2"><math {_MATH}><apply><times/><cn>2</cn><ci>half</ci></apply></math>'
    "</initialAssignment></listOfInitialAssignments>"
    f'<listOfRules><assignmentRule variable="half"><math {_MATH}><apply><divide/><ci>k</ci><cn>2</cn></apply>'
    "</math></assignmentRule></listOfRules>",
)


def test_parameter_initial_assignments_through_rules_see_changed_parameters():
    b = ModelBuilder("decay")
    b.compartment("c", 2.0)
    b.parameter("k", 1.0).parameter("A0", 3.0).parameter("k2", 0.0)
    b.species("A", None, compartment="c").species("B", 0.0, compartment="c")
    b.species("H", 5.0, compartment="c", amount=True, only_substance=True)
    b.assign("half", "k/2")
    b.initial("A", "A0").initial("k2", "2*half")
    b.reaction("r", "A -> B", "k*A*c").reaction("rh", "H ->", "k*H")
    spec = b.build()
    params = [{"k": 2.0}, {}, {"k": 0.25, "A0": 1.0}]
    values, failures = run(
        spec, PARAM_IA_SBML, TIMES, params, outputs=("k2", "A"), kinds=("parameter", "species")
    )
    assert failures == []
    np.testing.assert_allclose(values[:, 0, 0], [2.0, 1.0, 0.25])
    np.testing.assert_allclose(
        values[:, -1, 1], [3.0 * math.exp(-4.0), 3.0 * math.exp(-2.0), math.exp(-0.5)], rtol=1e-7
    )


def test_compartment_changes_rescale_initial_amounts():
    values, failures = run(
        decay_spec(),
        DECAY_SBML,
        TIMES,
        [{"c": 4.0}, {}],
        outputs=("amount(B)", "A", "amount(A)"),
        kinds=("amount", "species", "amount"),
        initial=[{"B": 1.0}, {}],
    )
    assert failures == []
    np.testing.assert_allclose(values[0, 0], [4.0, 3.0, 12.0])
    np.testing.assert_allclose(values[1, 0], [0.0, 3.0, 6.0])


def test_species_named_like_roadrunner_methods():
    sbml = DECAY_SBML.replace('id="B"', 'id="reset"').replace('species="B"', 'species="reset"')
    b = ModelBuilder("decay")
    b.compartment("c", 2.0)
    b.parameter("k", 1.0).parameter("A0", 3.0)
    b.species("A", None, compartment="c").species("reset", 0.0, compartment="c")
    b.species("H", 5.0, compartment="c", amount=True, only_substance=True)
    b.initial("A", "A0")
    b.reaction("r", "A -> reset", "k*A*c").reaction("rh", "H ->", "k*H")
    spec = b.build()
    for _ in range(2):  # a second load must still find RoadRunner.reset
        values, failures = run(spec, sbml, TIMES, [{}, {"k": 2.0}], outputs=("reset",))
        assert failures == []
        np.testing.assert_allclose(
            values[1, :, 0], 3.0 - 3.0 * np.exp(-2.0 * TIMES), rtol=1e-7, atol=1e-10
        )
