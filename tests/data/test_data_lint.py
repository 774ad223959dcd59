"""Each lint rule alone, and the composed report."""

from __future__ import annotations

from dataclasses import replace

from datahelpers import small_dataset

from immunetwin.data import (
    CensoredWithoutLimit,
    Censoring,
    Dataset,
    DuplicateRecords,
    Intervention,
    InterventionKind,
    MissingMetadata,
    NonMonotoneDoses,
    NonPositiveLinearValue,
    Observation,
    Provenance,
    Severity,
    Subject,
    TimeBeforeReference,
    UncensoredBelowLimit,
    UnknownUnit,
    lint,
)


def _ds(
    *obs: Observation,
    ivs: tuple[Intervention, ...] = (),
    event: str = "symptom onset",
    lod: float | None = 100.0,
) -> Dataset:
    return Dataset(
        subjects=(Subject("s"),),
        observations=obs,
        interventions=ivs,
        reference_events={"v": event},
        analytes={"v": {"lod": lod}},
        provenance=Provenance(source_file="f.yaml", doi="d", licence="l", citation="c", sha256="0"),
    )


def _o(
    t: float = 0.0, v: float | None = 1000.0, unit: str = "copies/mL", **kw: object
) -> Observation:
    return Observation("s", t, "v", v, unit, **kw)  # type: ignore[arg-type]


def test_unknown_unit() -> None:
    found = list(UnknownUnit().check(_ds(_o(unit="bogons/mL"), _o(1.0, unit="bogons/mL"), _o(2.0))))
    assert (
        len(found) == 1 and found[0].severity is Severity.ERROR and "2 records" in found[0].message
    )
    assert found[0].file == "f.yaml" and found[0].subject == "s"


def test_uncensored_below_lod() -> None:
    found = list(UncensoredBelowLimit().check(_ds(_o(v=50.0, origin="row 3"), _o(1.0, v=500.0))))
    assert len(found) == 1 and found[0].row == "row 3"
    ct = list(UncensoredBelowLimit().check(_ds(_o(v=42.0, unit="Ct"), lod=40.0)))
    assert len(ct) == 1
    assert not list(UncensoredBelowLimit().check(_ds(_o(v=50.0), lod=None)))
    # a value reported at the limit (up to float round-off of a unit conversion) is not below it
    assert not list(UncensoredBelowLimit().check(_ds(_o(v=100.0 * (1 - 1e-12)), lod=100.0)))


def test_duplicates() -> None:
    found = list(DuplicateRecords().check(_ds(_o(), _o(), _o(1.0))))
    assert len(found) == 1 and "duplicate of observation 0" in found[0].message


def test_time_before_reference() -> None:
    rule = TimeBeforeReference()
    assert len(list(rule.check(_ds(_o(-1.0), event="inoculation")))) == 1
    negative = _o(-1.0, v=None, censoring=Censoring.LEFT, limit=100.0, qualitative="negative")
    assert not list(rule.check(_ds(negative, event="inoculation")))
    assert not list(rule.check(_ds(_o(-1.0), event="symptom onset")))


def test_non_monotone_doses() -> None:
    def iv(t: float, n: int | None) -> Intervention:
        return Intervention("s", t, InterventionKind.VACCINE, "vax", dose_number=n)

    assert len(list(NonMonotoneDoses().check(_ds(ivs=(iv(10.0, 2), iv(0.0, 1)))))) == 1
    assert len(list(NonMonotoneDoses().check(_ds(ivs=(iv(0.0, 2), iv(10.0, 1)))))) == 1
    assert not list(NonMonotoneDoses().check(_ds(ivs=(iv(0.0, 1), iv(10.0, 2)))))


def test_missing_metadata() -> None:
    ds = replace(_ds(_o()), provenance=Provenance(), reference_events={}, analytes={})
    found = list(MissingMetadata().check(ds))
    msgs = " ".join(f.message for f in found)
    assert "licence" in msgs and "citation" in msgs and "no reference event" in msgs
    assert any(f.severity is Severity.ERROR for f in found)
    assert not list(MissingMetadata().check(_ds(_o())))


def test_non_positive_value() -> None:
    assert (
        len(
            list(
                NonPositiveLinearValue().check(
                    _ds(_o(v=0.0), _o(1.0, v=-1.0, unit="log10 copies/mL"))
                )
            )
        )
        == 1
    )


def test_censored_without_limit() -> None:
    o = _o(v=None, censoring=Censoring.LEFT)
    found = list(CensoredWithoutLimit().check(_ds(o)))
    assert len(found) == 1 and found[0].severity is Severity.INFO


def test_report_composes_rules() -> None:
    report = lint(small_dataset())
    assert report.ok
    bad = lint(_ds(_o(unit="bogons/mL"), _o(1.0, v=1.0)))
    assert not bad.ok and bad.counts() == {"unknown-unit": 1, "uncensored-below-lod": 1}
    text = bad.to_text()
    assert "1 error(s), 1 warning(s)" in text
    assert lint(_ds(_o()), rules=[UnknownUnit()]).findings == ()
