"""SBML import/export: BioModels, a sample of the SBML test suite, errors and builder round trips."""

from __future__ import annotations

import math
import re
from pathlib import Path

import libsbml
import numpy as np
import pytest
import sympy as sp

from immunetwin.errors import SBMLError, UnsupportedSBMLFeature
from immunetwin.model import (
    DELAY,
    RATE_OF,
    TIME,
    ModelBuilder,
    ModelSpec,
    Prior,
    from_sbml,
    to_sbml,
)

roadrunner = pytest.importorskip("roadrunner")

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
BIOMODELS = DATA / "sbml-immune-biomodels" / "models"
SUITE = DATA / "sbml-test-suite" / "cases"

BIOMODEL_FILES = sorted(BIOMODELS.glob("*.xml")) if BIOMODELS.is_dir() else []
UNSUPPORTED_BIOMODELS: dict[str, str] = {}
GRAPHICS_ONLY = {"BIOMD0000000546.xml", "BIOMD0000000967.xml", "BIOMD0000001020.xml"}


def _errors(xml: str) -> set[int]:
    doc = libsbml.readSBMLFromString(xml)
    doc.checkConsistency()
    return {
        doc.getError(i).getErrorId()
        for i in range(doc.getNumErrors())
        if doc.getError(i).isError() or doc.getError(i).isFatal()
    }


def _simulate(xml: str, ids: list[str], start: float, end: float, points: int) -> np.ndarray:
    rr = roadrunner.RoadRunner(xml)
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-14
    rr.timeCourseSelections = ["time", *ids]
    return np.asarray(rr.simulate(start, end, points))


def _check_round_trip(
    original: str, spec: ModelSpec, start: float = 0.0, end: float = 10.0, points: int = 50
) -> None:
    exported = to_sbml(spec)
    # valid SBML L3V2: no errors beyond those the original document already had
    allowed = _errors(original)
    if any(TIME in f.body.free_symbols for f in spec.functions):
        allowed.add(99301)  # csymbol time in a function definition: a warning in L2, an error in L3
    assert _errors(exported) <= allowed
    # lossless: reading back gives the very same spec (and the same document again)
    again = from_sbml(exported)
    assert again.hash() == spec.hash()
    assert to_sbml(again) == exported
    # same trajectories
    try:
        rr = roadrunner.RoadRunner(original)
    except Exception as exc:  # noqa: BLE001 - roadrunner raises bare RuntimeErrors
        pytest.skip(f"libRoadRunner cannot load the original: {exc}")
    ids = list(rr.model.getFloatingSpeciesIds())
    try:
        ref = _simulate(original, ids, start, end, points)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"libRoadRunner cannot simulate the original: {exc}")
    got = _simulate(exported, ids, start, end, points)
    scale = float(np.nanmax(np.abs(ref))) if ref.size else 1.0
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-9 * max(1.0, scale), equal_nan=True)


# ---------------------------------------------------------------------------- BioModels
@pytest.mark.skipif(not BIOMODEL_FILES, reason="immune BioModels not available")
@pytest.mark.parametrize("path", BIOMODEL_FILES, ids=lambda p: p.name)
def test_biomodel_round_trip(path: Path) -> None:
    if path.name in UNSUPPORTED_BIOMODELS:
        with pytest.raises(
            UnsupportedSBMLFeature, match=re.escape(UNSUPPORTED_BIOMODELS[path.name])
        ):
            from_sbml(path)
        return
    spec = from_sbml(path)
    assert spec.species or spec.parameters
    if path.name in GRAPHICS_ONLY:
        # optional L3 layout/render packages are diagrams only: read, and their loss is recorded
        assert dict(spec.metadata)["sbml:ignored_packages"] == "layout,render"
    _check_round_trip(path.read_text(), spec)


# ---------------------------------------------------------------------------- SBML test suite
def _suite_sample(n: int = 60) -> list[Path]:
    if not SUITE.is_dir():
        return []
    cases = sorted(p for p in SUITE.iterdir() if p.is_dir())
    step = max(1, len(cases) // n)
    return cases[::step][:n]


def _suite_file(case: Path) -> Path | None:
    preferred = case / f"{case.name}-sbml-l3v2.xml"
    if preferred.is_file():
        return preferred
    files = sorted(case.glob(f"{case.name}-sbml-l*.xml"))
    return files[-1] if files else None


def _settings(case: Path) -> dict[str, str]:
    out = {}
    path = case / f"{case.name}-settings.txt"
    if path.is_file():
        for line in path.read_text().splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k.strip()] = v.strip()
    return out


@pytest.mark.skipif(not SUITE.is_dir(), reason="SBML test suite not available")
@pytest.mark.parametrize("case", _suite_sample(), ids=lambda p: p.name)
def test_suite_case_round_trip(case: Path) -> None:
    path = _suite_file(case)
    if path is None:
        pytest.skip("no SBML file")
    model_m = case / f"{case.name}-model.m"
    tags = model_m.read_text() if model_m.is_file() else ""
    if "comp:" in tags or "fbc:" in tags:
        pytest.skip("SBML package test")
    try:
        spec = from_sbml(path)
    except UnsupportedSBMLFeature as exc:
        pytest.skip(f"unsupported: {exc.construct}")
    settings = _settings(case)
    start = float(settings.get("start", 0.0))
    duration = float(settings.get("duration", 10.0))
    steps = int(float(settings.get("steps", 50)))
    _check_round_trip(path.read_text(), spec, start, start + duration, steps + 1)


# ---------------------------------------------------------------------------- errors
def test_malformed_xml_raises_sbml_error() -> None:
    with pytest.raises(SBMLError) as info:
        from_sbml(
            '<?xml version="1.0"?><sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3"'
        )
    assert info.value.messages
    assert info.value.source == "<string>"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.xml"
    with pytest.raises(SBMLError, match="nope.xml") as info:
        from_sbml(missing)
    assert info.value.source == str(missing)


_FAST = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">
  <model id="m">
    <listOfCompartments><compartment id="c" size="1" constant="true"/></listOfCompartments>
    <listOfSpecies>
      <species id="A" compartment="c" initialAmount="1" hasOnlySubstanceUnits="false"
               boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfReactions>
      <reaction id="r_fast" reversible="false" fast="true">
        <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><ci>A</ci></math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>
"""


def test_fast_reaction_is_unsupported() -> None:
    with pytest.raises(UnsupportedSBMLFeature) as info:
        from_sbml(_FAST)
    assert info.value.element == "r_fast"
    assert "fast" in info.value.construct


def test_unknown_mathml_is_unsupported() -> None:
    xml = _FAST.replace(' fast="true"', ' fast="false"').replace(
        "<ci>A</ci>",
        '<apply><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/distrib/normal">'
        "normal</csymbol><ci>A</ci><cn>1</cn></apply>",
    )
    with pytest.raises(SBMLError):
        from_sbml(xml)


# ---------------------------------------------------------------------------- math
_MATH_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="mathy">
    <listOfFunctionDefinitions>
      <functionDefinition id="f">
        <math xmlns="http://www.w3.org/1998/Math/MathML">
          <lambda><bvar><ci>x</ci></bvar><apply><times/><cn>2</cn><ci>x</ci></apply></lambda>
        </math>
      </functionDefinition>
    </listOfFunctionDefinitions>
    <listOfParameters>
      <parameter id="p" value="2" constant="true"/>
      <parameter id="q" constant="false"/>
      <parameter id="r" value="0" constant="false"/>
    </listOfParameters>
    <listOfRules>
      <assignmentRule variable="q">
        <math xmlns="http://www.w3.org/1998/Math/MathML">
          <apply><plus/>
            <apply><divide/><ci>p</ci><ci>p</ci></apply>
            <apply><log/><logbase><cn type="integer">2</cn></logbase><cn>8</cn></apply>
            <apply><root/><degree><cn type="integer">3</cn></degree><cn>27</cn></apply>
            <apply><rem/><cn>7</cn><cn>-3</cn></apply>
            <apply><quotient/><cn>-7</cn><cn>2</cn></apply>
            <apply><max/><ci>p</ci><cn>5</cn></apply>
            <apply><ci>f</ci><cn type="e-notation">1<sep/>2</cn></apply>
            <cn type="rational">1<sep/>4</cn>
            <piecewise>
              <piece><cn>1</cn><apply><and/><apply><gt/><csymbol encoding="text"
                definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>1</cn></apply><true/></apply></piece>
              <otherwise><cn>0</cn></otherwise>
            </piecewise>
            <apply><times/><apply><csymbol encoding="text"
              definitionURL="http://www.sbml.org/sbml/symbols/rateOf">rateOf</csymbol><ci>r</ci></apply>
              <apply><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/delay">delay</csymbol>
              <ci>r</ci><cn>1</cn></apply></apply>
          </apply>
        </math>
      </assignmentRule>
    </listOfRules>
  </model>
</sbml>
"""


def test_mathml_conversion() -> None:
    spec = from_sbml(_MATH_MODEL)
    (rule,) = spec.assignment_rules
    expr = rule.expr
    p = sp.Symbol("p", real=True)
    assert TIME in expr.free_symbols
    assert expr.atoms(sp.Function) >= {RATE_OF(sp.Symbol("r", real=True))}
    assert any(a.func == DELAY for a in expr.atoms(sp.Function))
    assert sp.Mul(p, sp.Pow(p, -1, evaluate=False), evaluate=False) in expr.args  # p/p is kept
    value = expr.xreplace({RATE_OF(sp.Symbol("r", real=True)): 0}).subs({p: 2, TIME: 2})
    value = value.replace(
        lambda e: isinstance(e, sp.Function) and e.func.__name__ == "f", lambda e: 2 * e.args[0]
    )
    # 1 + 3 + 3 + rem(7,-3)=1 + quotient(-7,2)=-3 + 5 + f(100)=200 + 1/4 + 1 + 0
    assert math.isclose(float(value.doit()), 1 + 3 + 3 + 1 - 3 + 5 + 200 + 0.25 + 1, rel_tol=1e-12)
    assert math.isnan(spec.parameter("q").value)
    again = from_sbml(to_sbml(spec))
    assert again.hash() == spec.hash()


def test_local_parameters_are_promoted() -> None:
    xml = _FAST.replace(' fast="true"', ' fast="false"').replace(
        '<kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><ci>A</ci></math></kineticLaw>',
        '<kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k</ci><ci>A</ci></apply>'
        '</math><listOfLocalParameters><localParameter id="k" value="0.3"/></listOfLocalParameters></kineticLaw>',
    )
    spec = from_sbml(xml)
    assert spec.parameter("r_fast__k").value == 0.3
    assert sp.Symbol("r_fast__k", real=True) in spec.reactions[0].rate.free_symbols


# ---------------------------------------------------------------------------- builder round trip
def _builder_spec() -> ModelSpec:
    b = ModelBuilder("tiv", name="target cell limited model")
    b.parameter(
        "beta",
        2.7e-5,
        unit="1/(TCID50/mL)/d",
        lower=1e-8,
        upper=1e-2,
        prior=Prior(kind="lognormal", a=-10.5, b=1.0),
        estimate=True,
        source="Baccam 2006",
    )
    b.parameter("delta", 4.0, unit="per_day", log_scale=False)
    b.parameter("p", 1.2e-2 / 3, unit="TCID50/mL/d")
    b.parameter("c", 3.0, unit="1/d")
    b.parameter("sigma_v", 0.5)
    b.state(
        "T",
        4e8,
        "-beta*T*V",
        name="target cells",
        annotations=["http://identifiers.org/cl/CL:0000066"],
    )
    b.state("I", 0.0, "beta*T*V - delta*I")
    b.state("V", 0.1, "p*I - c*V/(1 + V/1e9)")
    b.assign("load", "log10(V + 1)")
    b.bolus("dose", "V", "1e3", at=2.0)
    b.event("cut", "V > 1e6", {"c": "2*c"}, delay="0.5", priority="1", persistent=False)
    b.function("hill", ["x", "k"], "x**2/(k**2 + x**2)")
    b.observable("log10V", "log10(V)", noise="normal", sigma="sigma_v", unit="log10(TCID50/mL)")
    b.observable("hillV", "hill(V, 1e4)", noise="lognormal", sigma=0.3)
    b.unit("per_day", "(86400 * 10^0 * second)^-1")
    b.unit("weird", "1/d")
    b.meta(doi="10.1/xyz", licence="CC0")
    b.notes("Notes with <angle> brackets & ampersands.")
    return b.build()


def test_builder_round_trip_is_lossless() -> None:
    spec = _builder_spec()
    xml = to_sbml(spec)
    assert not _errors(xml)
    again = from_sbml(xml)
    assert again.hash() == spec.hash()
    assert again.observables == spec.observables
    assert again.parameter("beta").prior == Prior(kind="lognormal", a=-10.5, b=1.0)
    assert again.parameter("p").value == 1.2e-2 / 3  # full double precision survives
    rr = roadrunner.RoadRunner(xml)
    res = rr.simulate(0, 5, 11)
    assert np.all(np.isfinite(np.asarray(res)))


def test_builder_round_trip_simulates_like_the_builder_equations() -> None:
    b = ModelBuilder("decay")
    b.parameter("k", 0.5)
    b.state("X", 2.0, "-k*X")
    xml = to_sbml(b.build())
    out = _simulate(xml, ["X"], 0.0, 4.0, 5)
    np.testing.assert_allclose(out[:, 1], 2.0 * np.exp(-0.5 * out[:, 0]), rtol=1e-5)
