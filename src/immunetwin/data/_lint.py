"""Curation lint: small rule objects composed into a report.

A rule has a ``code``, a ``severity`` and one ``check(dataset)`` that yields
:class:`Finding` objects located by file, subject and row (the record's ``origin`` when the
reader recorded one, else its index). :func:`lint` runs a list of rules (default
:data:`DEFAULT_RULES`) and returns a :class:`LintReport`.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from ._checks import record_key
from ._records import Censoring, Dataset, Observation
from ._units import analyte_unit_problem, convert_value, is_known_unit, normalize_unit, parse_unit

__all__ = [
    "DEFAULT_RULES",
    "CensoredWithoutLimit",
    "ConflictingValues",
    "DuplicateRecords",
    "EmptyDataset",
    "Finding",
    "LimitPlaceholderRule",
    "LintReport",
    "MissingMetadata",
    "MissingValue",
    "MixedUnits",
    "NonMonotoneDoses",
    "NonNumericCovariate",
    "NonPositiveLinearValue",
    "Rule",
    "Severity",
    "TimeBeforeReference",
    "UncensoredBelowLimit",
    "UnknownUnit",
    "lint",
]


class Severity(StrEnum):
    """Severity of a finding (errors make ``immunetwin data lint`` exit 1)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by a rule, and where."""

    rule: str
    severity: Severity
    message: str
    file: str = ""
    subject: str = ""
    row: str = ""

    def __str__(self) -> str:
        where = ":".join(
            x for x in (self.file, self.subject and f"subject {self.subject}", self.row) if x
        )
        return f"{self.severity.value:7s} {self.rule:24s} {where}: {self.message}"


class Rule(Protocol):
    """A lint rule: one check, one severity."""

    @property
    def code(self) -> str:
        """Short identifier of the rule."""
        ...

    @property
    def severity(self) -> Severity:
        """Severity of its findings."""
        ...

    def check(self, dataset: Dataset) -> Iterable[Finding]:
        """Yield the findings of this rule in ``dataset``."""
        ...


def _at(rule: Rule, ds: Dataset, msg: str, o: Observation | None = None, i: int = -1) -> Finding:
    row = "" if o is None else (o.origin or f"observation {i}")
    return Finding(
        rule.code,
        rule.severity,
        msg,
        ds.provenance.source_file,
        "" if o is None else o.subject,
        row,
    )


def _lod(ds: Dataset, analyte: str) -> float | None:
    v = ds.analytes.get(analyte, {}).get("lod")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


@dataclass(frozen=True)
class UnknownUnit:
    """Observations whose unit is unknown, or not a unit of a measured analyte (a speed, a
    time...); one finding per analyte and unit (see :func:`analyte_unit_problem`)."""

    code: str = "unknown-unit"
    severity: Severity = Severity.ERROR

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        first: dict[tuple[str, str], tuple[int, Observation]] = {}
        count: Counter[tuple[str, str]] = Counter()
        for i, o in enumerate(dataset.observations):
            key = (o.analyte, o.unit)
            count[key] += 1
            first.setdefault(key, (i, o))
        for key, (i, o) in first.items():
            problem = analyte_unit_problem(o.unit)
            if problem is not None:
                yield _at(self, dataset, f"{o.analyte!r}: {problem} ({count[key]} records)", o, i)


@dataclass(frozen=True)
class UncensoredBelowLimit:
    """Uncensored values beyond the analyte's stated detection limit (below it; above for Ct)."""

    code: str = "uncensored-below-lod"
    severity: Severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        for i, o in enumerate(dataset.observations):
            lod = _lod(dataset, o.analyte)
            if lod is None or o.censoring is not Censoring.NONE or o.value is None:
                continue
            tol = 1e-9 * abs(lod)  # a value reported at the limit is not beyond it
            bad = o.value > lod + tol if o.unit == "Ct" else o.value < lod - tol
            if bad:
                side = "above" if o.unit == "Ct" else "below"
                yield _at(
                    self,
                    dataset,
                    f"{o.analyte}: {o.value:g} {o.unit} is {side} the LOD {lod:g} but not censored",
                    o,
                    i,
                )


@dataclass(frozen=True)
class DuplicateRecords:
    """Identical records (same subject, analyte, specimen, time, sample, value, censoring)."""

    code: str = "duplicate-record"
    severity: Severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        seen: dict[tuple[object, ...], int] = {}
        for i, o in enumerate(dataset.observations):
            key = record_key(o)
            if key in seen:
                yield _at(
                    self,
                    dataset,
                    f"duplicate of observation {seen[key]} ({o.analyte} at t={o.time:g})",
                    o,
                    i,
                )
            else:
                seen[key] = i


def _detected(o: Observation) -> bool:
    if o.qualitative in ("negative", "not detected"):
        return False
    if o.unit == "Ct":
        return o.censoring is not Censoring.RIGHT
    return o.censoring is not Censoring.LEFT


@dataclass(frozen=True)
class TimeBeforeReference:
    """Detected pathogen before an event that must precede it (inoculation, vaccination...)."""

    code: str = "detected-before-reference"
    severity: Severity = Severity.ERROR
    events: tuple[str, ...] = ("inoculation", "vaccination", "exposure")

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        for i, o in enumerate(dataset.observations):
            event = dataset.reference_events.get(o.analyte, "")
            if o.time < 0 and event.startswith(self.events) and _detected(o):
                yield _at(
                    self,
                    dataset,
                    f"{o.analyte} detected at t={o.time:g} days before {event!r}",
                    o,
                    i,
                )


@dataclass(frozen=True)
class NonMonotoneDoses:
    """Doses of one agent out of time order, or dose numbers not increasing in time."""

    code: str = "non-monotone-doses"
    severity: Severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, iv in enumerate(dataset.interventions):
            groups[(iv.subject, iv.name)].append(i)
        for (subject, name), idx in groups.items():
            ivs = [dataset.interventions[i] for i in idx]
            times = [iv.time for iv in ivs]
            loc = Finding(
                self.code,
                self.severity,
                "",
                dataset.provenance.source_file,
                subject,
                f"interventions {idx}",
            )
            if any(b < a for a, b in zip(times, times[1:], strict=False)):
                yield _replace_msg(loc, f"{name}: doses listed out of time order {times}")
            numbers = [
                iv.dose_number
                for iv in sorted(ivs, key=lambda v: v.time)
                if iv.dose_number is not None
            ]
            if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
                yield _replace_msg(loc, f"{name}: dose numbers {numbers} do not increase with time")


def _replace_msg(f: Finding, msg: str) -> Finding:
    return Finding(f.rule, f.severity, msg, f.file, f.subject, f.row)


@dataclass(frozen=True)
class MissingMetadata:
    """Missing provenance (source, licence, citation, checksum) or analyte metadata."""

    code: str = "missing-metadata"
    severity: Severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        p = dataset.provenance
        file = p.source_file
        for what, ok in (
            ("source DOI/URL", bool(p.doi or p.url)),
            ("licence", bool(p.licence)),
            ("citation", bool(p.citation)),
            ("source checksum", bool(p.sha256)),
        ):
            if not ok:
                yield Finding(
                    self.code, self.severity, f"provenance lacks {what}", file, "", "provenance"
                )
        for a in dataset.analyte_names:
            if not dataset.reference_events.get(a):
                yield Finding(
                    self.code,
                    Severity.ERROR,
                    f"analyte {a!r} has no reference event",
                    file,
                    "",
                    f"analyte {a}",
                )
            if a not in dataset.analytes:
                yield Finding(
                    self.code,
                    self.severity,
                    f"analyte {a!r} has no metadata",
                    file,
                    "",
                    f"analyte {a}",
                )


@dataclass(frozen=True)
class NonPositiveLinearValue:
    """Uncensored values <= 0 on a linear scale of a count or concentration."""

    code: str = "non-positive-value"
    severity: Severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        for i, o in enumerate(dataset.observations):
            if o.value is None or o.value > 0 or o.censoring is not Censoring.NONE:
                continue
            if is_known_unit(o.unit) and not parse_unit(o.unit).log10 and o.unit not in ("Ct", "%"):
                yield _at(
                    self, dataset, f"{o.analyte}: non-positive value {o.value:g} {o.unit}", o, i
                )


@dataclass(frozen=True)
class CensoredWithoutLimit:
    """Censored records whose limit is unknown (one finding per analyte)."""

    code: str = "censored-no-limit"
    severity: Severity = Severity.INFO

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        count: Counter[str] = Counter()
        first: dict[str, tuple[int, Observation]] = {}
        for i, o in enumerate(dataset.observations):
            if o.censored and o.limit is None:
                count[o.analyte] += 1
                first.setdefault(o.analyte, (i, o))
        for a, n in count.items():
            i, o = first[a]
            yield _at(self, dataset, f"{a}: {n} censored records with unknown limit", o, i)


@dataclass(frozen=True)
class LimitPlaceholderRule:
    """A detection limit reported as a value: the smallest value (largest for Ct) repeated far
    more often than any other (see :func:`immunetwin.data.find_limit_placeholder`)."""

    code: str = "limit-placeholder"
    severity: Severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        from ._curation import find_limit_placeholder

        for a in dataset.analyte_names:
            found = find_limit_placeholder(dataset, a)
            if found is None:
                continue
            i, o = next(
                (i, o)
                for i, o in enumerate(dataset.observations)
                if o.analyte == a
                and o.value is not None
                and o.censoring is Censoring.NONE
                and math.isclose(o.value, found.value, rel_tol=1e-8)
            )
            yield _at(
                self,
                dataset,
                f"{a}: {found.count} of {found.total} reported values equal {found.value:g} "
                f"{o.unit}, the {'largest' if found.side is Censoring.RIGHT else 'smallest'} "
                f"(the next most frequent value occurs {found.runner_up} times): a detection "
                f"limit reported as a value? censor_placeholder(dataset, {a!r}) marks them "
                f"{found.side.value}-censored",
                o,
                i,
            )


@dataclass(frozen=True)
class MixedUnits:
    """An analyte recorded in several units: convertible ones are converted before use
    (:func:`~immunetwin.data.harmonize_units`, a warning), others cannot be used (an error)."""

    code: str = "mixed-units"
    severity: Severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        first: dict[str, dict[str, tuple[int, Observation]]] = defaultdict(dict)
        for i, o in enumerate(dataset.observations):
            unit = normalize_unit(o.unit)
            if analyte_unit_problem(unit) is None:  # bad units are UnknownUnit's findings
                first[o.analyte].setdefault(unit, (i, o))
        for analyte, units in first.items():
            if len(units) < 2:
                continue
            (base, _), *rest = units.items()
            for unit, (i, o) in rest:
                try:
                    convert_value(1.0, unit, base)
                except Exception:  # DataError: not convertible
                    msg = f"{analyte}: {unit!r} cannot be converted to {base!r}; refused"
                    yield _replace_sev(_at(self, dataset, msg, o, i), Severity.ERROR)
                else:
                    yield _at(self, dataset, f"{analyte}: {unit!r} and {base!r} mixed", o, i)


@dataclass(frozen=True)
class ConflictingValues:
    """Different results for one subject, analyte, specimen, assay, time and sample.

    Replicate measurements should carry distinct sample ids; otherwise the twin cannot tell a
    replicate from a transcription error. A warning, not an error: 10 of the 68 curated Shedding
    Hub sets hold same-day replicates without sample ids (e.g. Kissler 2021's repeated tests).
    """

    code: str = "conflicting-values"
    severity: Severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        groups: dict[tuple[object, ...], dict[tuple[object, ...], int]] = defaultdict(dict)
        for i, o in enumerate(dataset.observations):
            where = (o.subject, o.analyte, o.specimen, o.assay, o.time, o.sample)
            what = (o.value, o.censoring, o.limit, o.upper, o.qualitative, normalize_unit(o.unit))
            groups[where].setdefault(what, i)
        for results in groups.values():
            if len(results) < 2:
                continue
            (_, i0), *rest = results.items()
            for _, i in rest:
                o, o0 = dataset.observations[i], dataset.observations[i0]
                yield _at(
                    self,
                    dataset,
                    f"{o.analyte} at t={o.time:g}: {_shown(o)} conflicts with {_shown(o0)} "
                    f"(observation {i0}); replicates need distinct sample ids",
                    o,
                    i,
                )


def _shown(o: Observation) -> str:
    if o.value is not None:
        return f"{o.value:g} {o.unit}"
    return f"{o.censoring.value}-censored at {o.limit} {o.unit}".strip()


@dataclass(frozen=True)
class MissingValue:
    """Uncensored records without a value (an empty or NaN cell) and without a qualitative
    result: nothing to fit, and nothing says why."""

    code: str = "missing-value"
    severity: Severity = Severity.ERROR

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        for i, o in enumerate(dataset.observations):
            if o.value is None and o.censoring is Censoring.NONE and not o.qualitative:
                msg = f"{o.analyte} at t={o.time:g}: uncensored record without a value (NaN/empty)"
                yield _at(self, dataset, msg, o, i)


_AGE_RANGE = re.compile(
    r"^\s*(?:[<>]=?\s*\d+(?:\.\d+)?|\d+(?:\.\d+)?\s*(?:-|–|to)\s*\d+(?:\.\d+)?|\d+(?:\.\d+)?\s*\+)\s*$"
)
_MISSING = ("", "unknown", "na", "n/a", "nan", "none", "missing", "not reported")


def _age_text_ok(age: str) -> bool:
    if age.strip().lower() in _MISSING or _AGE_RANGE.match(age):
        return True
    try:
        return math.isfinite(float(age))
    except ValueError:
        return False


def _numeric(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass(frozen=True)
class NonNumericCovariate:
    """Covariates that should be numbers but are not: an age that is neither a number nor a
    range (``"40-49"``, ``">65"``), a NaN or infinite number, or an attribute that is a number
    for most subjects and text for some."""

    code: str = "non-numeric-covariate"
    severity: Severity = Severity.ERROR

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        file = dataset.provenance.source_file
        numeric_keys = Counter[str]()
        for s in dataset.subjects:
            numeric_keys.update(k for k, v in s.attributes.items() if _numeric(v))
        for s in dataset.subjects:
            problems = []
            age = s.age
            if _numeric(age) and not math.isfinite(float(age)):  # type: ignore[arg-type]
                problems.append(f"age {age!r} is not finite")
            elif isinstance(age, str) and not _age_text_ok(age):
                problems.append(f"age {age!r} is neither a number nor a range")
            for k, v in s.attributes.items():
                if _numeric(v) and not math.isfinite(float(v)):
                    problems.append(f"{k} {v!r} is not finite")
                elif numeric_keys[k] and isinstance(v, str) and v.strip().lower() not in _MISSING:
                    problems.append(f"{k} {v!r} is text where other subjects have numbers")
            for p in problems:
                yield Finding(self.code, self.severity, p, file, s.id, "attributes")


@dataclass(frozen=True)
class EmptyDataset:
    """A dataset without a single observation."""

    code: str = "empty-dataset"
    severity: Severity = Severity.ERROR

    def check(self, dataset: Dataset) -> Iterator[Finding]:
        if not dataset.observations:
            skipped = f" ({len(dataset.skipped)} records skipped)" if dataset.skipped else ""
            yield Finding(
                self.code,
                self.severity,
                f"no observations{skipped}",
                dataset.provenance.source_file,
                "",
                "dataset",
            )


def _replace_sev(f: Finding, severity: Severity) -> Finding:
    return Finding(f.rule, severity, f.message, f.file, f.subject, f.row)


#: Rules run by :func:`lint` by default.
DEFAULT_RULES: tuple[Rule, ...] = (
    EmptyDataset(),
    UnknownUnit(),
    MixedUnits(),
    MissingValue(),
    ConflictingValues(),
    NonNumericCovariate(),
    UncensoredBelowLimit(),
    DuplicateRecords(),
    TimeBeforeReference(),
    NonMonotoneDoses(),
    MissingMetadata(),
    NonPositiveLinearValue(),
    CensoredWithoutLimit(),
    LimitPlaceholderRule(),
)


@dataclass(frozen=True)
class LintReport:
    """Findings of a lint run."""

    findings: tuple[Finding, ...] = field(default=())

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings of severity error."""
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Findings of severity warning."""
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    def counts(self) -> dict[str, int]:
        """Number of findings per rule code."""
        return dict(Counter(f.rule for f in self.findings))

    def to_text(self, max_per_rule: int = 10) -> str:
        """Human-readable report: findings (at most ``max_per_rule`` each) and a tally."""
        lines: list[str] = []
        shown: Counter[str] = Counter()
        for f in self.findings:
            shown[f.rule] += 1
            if shown[f.rule] <= max_per_rule:
                lines.append(str(f))
            elif shown[f.rule] == max_per_rule + 1:
                lines.append(f"{'':7s} {f.rule:24s} ... more findings not shown")
        tally = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts().items())) or "no findings"
        lines.append(f"{len(self.errors)} error(s), {len(self.warnings)} warning(s) ({tally})")
        return "\n".join(lines)


def lint(dataset: Dataset, rules: Sequence[Rule] = DEFAULT_RULES) -> LintReport:
    """Run ``rules`` on ``dataset``.

    Parameters
    ----------
    dataset : Dataset
    rules : sequence of Rule
        Default :data:`DEFAULT_RULES`; pass your own list to add or drop rules.

    Returns
    -------
    LintReport
    """
    return LintReport(tuple(f for r in rules for f in r.check(dataset)))
