"""Reader of Shedding Hub YAML datasets (https://github.com/shedding-hub/shedding-hub).

Mapping (one participant -> one :class:`Subject`, one measurement -> one :class:`Observation`):

* ``patient_id`` (or ``p<k>``, the 1-based position) becomes the subject id; ``attributes``
  become covariates (``age`` and ``sex`` as fields, the rest as attributes).
* Units are normalised (``gc/mL`` -> ``copies/mL``, ``cycle threshold`` -> ``Ct``, ...); the
  analyte metadata (biomarker, gene target, specimen, limits, reference event, dose, source
  unit...) is kept in ``Dataset.analytes``.
* ``negative`` -> censored at the analyte's limit of detection (``limit=None`` when it is
  ``unknown``): left-censored for quantities, right-censored for Ct (a high Ct is a low load).
* ``positive`` / ``weak positive`` / ``strong positive`` -> censored the other way at the limit
  of detection (detected: at least the LOD), with the grade kept in ``qualitative``.
* ``inconclusive`` results and ``time: unknown`` are not loaded: they are listed in
  ``Dataset.skipped`` with the reason, so loaded + skipped = measurements in the file.
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any

import yaml

from immunetwin.errors import DataError

from ._checks import MAX_ABS_TIME
from ._provenance import Provenance, package_version, sha256_file
from ._records import Censoring, Dataset, Observation, SkippedRecord, Subject
from ._units import normalize_unit, parse_unit

__all__ = [
    "MAX_ABS_TIME",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "SHEDDING_HUB_CITATION",
    "load_yaml",
    "read_shedding_hub",
]

SHEDDING_HUB_CITATION = (
    "Wang Y, Hoffmann T, Xiao W, Hu Y, Chen Z, Zhang H, Shen L, Zhai S. Shedding Hub v1.0.0, "
    "Zenodo doi:10.5281/zenodo.15052773 (2025)"
)
_POSITIVE = ("positive", "weak positive", "strong positive")
_READER = "immunetwin.data.read_shedding_hub"
#: Largest YAML file read (bytes).
MAX_YAML_BYTES = 64 * 1024 * 1024
#: Most nodes a YAML document may expand to once its aliases are followed (an alias bomb
#: expands to billions from a few hundred bytes).
MAX_YAML_NODES = 5_000_000

try:  # the C loader is ~10x faster
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


def _jsonable(x: Any) -> Any:
    """YAML scalars that JSON lacks (dates) -> ISO strings; recurse into containers."""
    if isinstance(x, (_dt.date, _dt.datetime)):
        return x.isoformat()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def _expanded_size(root: yaml.Node, file: str) -> int:
    """Nodes of the document once every alias is expanded (memoised: linear in its nodes)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(sizes[id(c)] for c in _children(node))
            sizes[key] = total
            if total > MAX_YAML_NODES:
                raise DataError(
                    f"YAML expands to more than {MAX_YAML_NODES} nodes through aliases "
                    "(an alias bomb?); refused",
                    file=file,
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            mark = node.start_mark
            raise DataError("recursive YAML alias", file=file, row=f"line {mark.line + 1}")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for kv in node.value for n in kv]
    return []


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file safely and with bounded work.

    The file is at most :data:`MAX_YAML_BYTES`; its node graph is composed first and refused
    when following its aliases would give more than :data:`MAX_YAML_NODES` nodes (or a cycle),
    before any Python object is built.

    Raises
    ------
    DataError
        Missing, unreadable, too large, invalid or alias-bombed file (the message names it).
    """
    p = Path(path)
    file = str(p)
    try:
        size = p.stat().st_size
        if size > MAX_YAML_BYTES:
            raise DataError(f"file of {size} bytes exceeds {MAX_YAML_BYTES} bytes", file=file)
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("no such file", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", file=file) from None
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _expanded_size(node, file)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise DataError(
            f"invalid YAML: {getattr(exc, 'problem', exc)}", file=file, row=where
        ) from None
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise DataError(f"invalid YAML: {type(exc).__name__}: {exc}", file=file) from None


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _limit(spec: dict[str, Any], key: str, file: str, where: str) -> float | None:
    v = spec.get(key, "unknown")
    if v == "unknown" or v is None:
        return None
    if not _number(v):
        raise DataError(f"{key} must be a number or 'unknown', got {v!r}", file=file, row=where)
    return float(v)


def _analytes(doc: dict[str, Any], file: str) -> dict[str, dict[str, Any]]:
    raw = doc.get("analytes")
    if not isinstance(raw, dict) or not raw:
        raise DataError("'analytes' must be a non-empty mapping", file=file, row="analytes")
    out: dict[str, dict[str, Any]] = {}
    for name, spec in raw.items():
        where = f"analytes.{name}"
        if not isinstance(spec, dict):
            raise DataError("analyte specification must be a mapping", file=file, row=where)
        for key in ("unit", "reference_event", "specimen"):
            if key not in spec:
                raise DataError(f"missing {key!r}", file=file, row=where)
        if not isinstance(spec["unit"], str) or not isinstance(spec["reference_event"], str):
            raise DataError("unit and reference_event must be strings", file=file, row=where)
        unit = normalize_unit(spec["unit"])
        try:
            parse_unit(unit)
        except DataError as exc:
            raise DataError(str(exc), file=file, row=f"{where}.unit") from None
        specimen = spec["specimen"]
        if isinstance(specimen, list):
            specimen = "+".join(str(s) for s in specimen)
        elif not isinstance(specimen, str):
            raise DataError("specimen must be a string or list", file=file, row=where)
        meta = _jsonable(dict(spec))
        meta.update(
            unit=unit,
            source_unit=spec["unit"],
            specimen=specimen,
            lod=_limit(spec, "limit_of_detection", file, where),
            loq=_limit(spec, "limit_of_quantification", file, where),
        )
        out[str(name)] = meta
    return out


def _reference_event(meta: dict[str, Any]) -> str:
    event = str(meta["reference_event"])
    dose = meta.get("dose")
    return f"{event} (dose {dose})" if dose is not None and event == "vaccination" else event


def _subject(p: dict[str, Any], k: int, used: set[str], file: str) -> Subject:
    pid = p.get("patient_id")
    sid = str(pid) if pid is not None and str(pid) != "" else f"p{k + 1}"
    if sid in used:  # repeated patient ids: keep them apart, traceably
        sid = f"{sid}#{k + 1}"
    used.add(sid)
    attrs = p.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise DataError("attributes must be a mapping", file=file, row=f"participants[{k}]")
    attrs = _jsonable(dict(attrs))
    age = attrs.pop("age", None)
    if isinstance(age, bool) or (age is not None and not isinstance(age, (int, float, str))):
        raise DataError(f"bad age {age!r}", file=file, row=f"participants[{k}].attributes")
    sex = attrs.pop("sex", None)
    if pid is not None:
        attrs["patient_id"] = _jsonable(pid)
    return Subject(sid, age, None if sex is None else str(sex), attrs)


def read_shedding_hub(path: str | Path) -> Dataset:
    """Read one Shedding Hub YAML dataset.

    Parameters
    ----------
    path : str or Path
        A ``<name>.yaml`` file following the Shedding Hub schema.

    Returns
    -------
    Dataset
        Observations in the source units (normalised names), times in days since each
        analyte's reference event, skipped measurements listed with reasons, and provenance
        (DOI/URL, CC BY 4.0 licence, Shedding Hub citation, SHA-256).

    Raises
    ------
    DataError
        Unreadable or malformed file (the message names the element), unknown analyte or unit,
        a time beyond :data:`MAX_ABS_TIME`, a YAML alias bomb (see :func:`load_yaml`).
    """
    p = Path(path)
    file = str(p)
    doc = load_yaml(p)
    if not isinstance(doc, dict):
        raise DataError("top level must be a mapping", file=file)
    analytes = _analytes(doc, file)
    participants = doc.get("participants")
    if not isinstance(participants, list) or not participants:
        raise DataError("'participants' must be a non-empty list", file=file, row="participants")

    subjects: list[Subject] = []
    observations: list[Observation] = []
    skipped: list[SkippedRecord] = []
    used: set[str] = set()
    for k, part in enumerate(participants):
        if not isinstance(part, dict):
            raise DataError("participant must be a mapping", file=file, row=f"participants[{k}]")
        subject = _subject(part, k, used, file)
        subjects.append(subject)
        measurements = part.get("measurements")
        if not isinstance(measurements, list):
            raise DataError(
                "'measurements' must be a list", file=file, row=f"participants[{k}].measurements"
            )
        for j, m in enumerate(measurements):
            rec = _measurement(m, f"participants[{k}].measurements[{j}]", subject, analytes, file)
            if isinstance(rec, SkippedRecord):
                skipped.append(rec)
            else:
                observations.append(rec)
    return Dataset(
        subjects=tuple(subjects),
        observations=tuple(observations),
        reference_events={a: _reference_event(s) for a, s in analytes.items()},
        analytes=analytes,
        metadata=_metadata(doc, p),
        skipped=tuple(skipped),
        provenance=_provenance(doc, p),
    )


def _check_time(time: Any, file: str, where: str) -> float:
    if not _number(time):
        raise DataError(f"time must be a number or 'unknown', got {time!r}", file=file, row=where)
    if abs(time) > MAX_ABS_TIME:
        raise DataError(f"time {time!r} lies beyond +-{MAX_ABS_TIME:g} days", file=file, row=where)
    return float(time)


def _measurement(
    m: Any, where: str, subject: Subject, analytes: dict[str, dict[str, Any]], file: str
) -> Observation | SkippedRecord:
    """One measurement of a participant: an observation, or a skipped record with its reason."""
    if not isinstance(m, dict):
        raise DataError("measurement must be a mapping", file=file, row=where)
    for key in ("analyte", "time", "value"):
        if key not in m:
            raise DataError(f"missing {key!r}", file=file, row=where)
    analyte = m["analyte"]
    if not isinstance(analyte, str) or analyte not in analytes:
        raise DataError(f"unknown analyte {analyte!r}", file=file, row=where)
    spec = analytes[analyte]
    time, value = m["time"], m["value"]
    if time == "unknown":
        return SkippedRecord(where, "time: unknown", subject.id, _jsonable(dict(m)))
    t = _check_time(time, file, where)
    if value == "inconclusive":
        return SkippedRecord(where, "value: inconclusive", subject.id, _jsonable(dict(m)))
    obs_kw: dict[str, Any] = {}
    for key in ("limit_of_quantification", "limit_of_blank"):
        v = m.get(key)
        if v is not None and v != "unknown":
            if not _number(v):
                raise DataError(f"{key} must be a number", file=file, row=where)
            obs_kw["loq" if key.endswith("quantification") else "lob"] = float(v)
    sample = m.get("sample_id")
    is_ct = spec["unit"] == "Ct"
    lod = spec["lod"]
    if _number(value):
        val: float | None = float(value)
        censoring, limit, qual = Censoring.NONE, None, ""
    elif value == "negative":
        val, limit, qual = None, lod, "negative"
        censoring = Censoring.RIGHT if is_ct else Censoring.LEFT
    elif value in _POSITIVE:
        val, limit, qual = None, lod, str(value)
        censoring = Censoring.LEFT if is_ct else Censoring.RIGHT
    else:
        raise DataError(f"bad value {value!r}", file=file, row=where)
    return Observation(
        subject=subject.id,
        time=t,
        analyte=analyte,
        value=val,
        unit=spec["unit"],
        specimen=spec["specimen"],
        censoring=censoring,
        limit=limit,
        assay=str(spec.get("gene_target", "") or ""),
        qualitative=qual,
        sample="" if sample is None else str(sample),
        origin=where,
        **obs_kw,
    )


def _metadata(doc: dict[str, Any], p: Path) -> dict[str, Any]:
    return {
        "title": str(doc.get("title", "") or ""),
        "description": str(doc.get("description", "") or ""),
        "doi": str(doc.get("doi", "") or ""),
        "url": str(doc.get("url", "") or ""),
        "dataset": p.stem,
    }


def _provenance(doc: dict[str, Any], p: Path) -> Provenance:
    doi = str(doc.get("doi", "") or "")
    url = str(doc.get("url", "") or "")
    title = str(doc.get("title", "") or "")
    return Provenance(
        source_file=str(p),
        sha256=sha256_file(p),
        reader=_READER,
        reader_version=package_version(),
        doi=doi,
        url=url or (f"https://doi.org/{doi}" if doi else ""),
        licence="CC-BY-4.0",
        citation=f"{title}. doi:{doi or url}; via {SHEDDING_HUB_CITATION}",
        title=title,
        curation_steps=(
            "units normalised (gc -> copies, cycle threshold -> Ct)",
            "negative -> censored at the analyte's limit of detection (left; right for Ct)",
            "positive grades -> censored at the limit of detection (right; left for Ct)",
            "time: unknown and inconclusive values -> Dataset.skipped",
        ),
    )


def count_measurements(path: str | Path) -> int:
    """Number of measurements in a Shedding Hub YAML (for reconciliation checks)."""
    doc = load_yaml(path)
    return sum(len(p.get("measurements") or []) for p in doc["participants"])
