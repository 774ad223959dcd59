"""Malformed inputs and argument combinations through the ``immunetwin`` command line.

Run ``python benchmarks/malformed_inputs.py [--subprocess] [--show]``. Every case is run through
the root Typer app (with typer's ``CliRunner``, or as ``python -m immunetwin`` subprocesses with
``--subprocess``); a case *fails* when it ends in a traceback (an exception escaping the app) or
when a non-zero exit does not come with exactly one line on standard error. Prints the cases per
category and ``N inputs, K tracebacks, M non-one-line errors``; exits 1 when K + M > 0.

There is no competitor here: this is a robustness count, not a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
WOELFEL = SHARED / "shedding-hub" / "datasets" / "woelfel2020virological.yaml"
QUAL = SHARED / "sbml-qual-ginsim"
MODEL = "baccam2006_influenza"


@dataclass(frozen=True)
class Case:
    """One command line and the category it exercises."""

    category: str
    args: tuple[str, ...]


def _basic_files() -> dict[str, str | bytes]:
    """Empty, junk and structurally wrong files of every input type."""
    f: dict[str, str | bytes] = {
        "empty.yaml": "",
        "scalar.yaml": "42\n",
        "list.yaml": "- 1\n- 2\n",
        "bomb.yaml": "\n".join(
            [
                "a: &a [x, x, x, x, x, x, x, x, x]",
                *(
                    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]"
                    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
                ),
                "analytes: *i",
                "participants: *i",
            ]
        ),
        "loop.yaml": "a: &a [1, *a]\nanalytes: *a\n",
        "tabs.yaml": "a:\n\t- b\n",
        "binary.yaml": bytes(range(256)),
        "latin1.yaml": "title: caf\xe9\n".encode("latin-1"),
        "no_participants.yaml": "analytes: {v: {unit: gc/mL, reference_event: x, specimen: s}}\n",
        "empty.csv": "",
        "header.csv": "subject,time,analyte,specimen,value,unit,censoring,limit\n",
        "cols.csv": "a,b\n1,2\n",
        "binary.csv": bytes(range(256)) * 4,
        "empty.json": "",
        "junk.json": "{not json",
        "list.json": "[]",
        "deep.json": "[" * 100000 + "]" * 100000,
        "notbundle.json": json.dumps({"resourceType": "Patient"}),
        "junk.parquet": b"PAR1garbagePAR1",
        "junk.tsv": "a\tb\n1\n",
        "junk.xyz": "x",
        "empty.xml": "",
        "junk.xml": "<sbml><model",
        "notsbml.xml": "<?xml version='1.0'?><html><body/></html>",
        "binary.xml": bytes(range(256)),
    }
    return f


def _hub_files(seed: str) -> dict[str, str | bytes]:
    """Truncated Shedding Hub YAML and bad times, units and values."""
    f: dict[str, str | bytes] = {}
    for k, cut in enumerate((50, 400, 1500, 3000, 6000)):
        f[f"cut{k}.yaml"] = seed[:cut]
    for name, time, unit, value in (
        ("t_huge", "1e308", "gc/mL", "1000"),
        ("t_inf", ".inf", "gc/mL", "1000"),
        ("t_nan", ".nan", "gc/mL", "1000"),
        ("t_text", "soon", "gc/mL", "1000"),
        ("u_furlong", "1", "furlongs/fortnight", "1000"),
        ("u_bogus", "1", "bogons/mL", "1000"),
        ("v_text", "1", "gc/mL", "high"),
        ("v_nan", "1", "gc/mL", ".nan"),
        ("v_list", "1", "gc/mL", "[1, 2]"),
    ):
        f[f"{name}.yaml"] = (
            f"title: t\nanalytes:\n  v: {{unit: '{unit}', reference_event: symptom onset, "
            f"specimen: stool}}\nparticipants:\n  - measurements:\n"
            f"      - {{analyte: v, time: {time}, value: {value}}}\n"
        )
    return f


def _csv_files() -> dict[str, str | bytes]:
    """Tidy CSV files with bad cells."""
    f: dict[str, str | bytes] = {}
    header = "subject,time,analyte,specimen,value,unit,censoring,limit\n"
    for name, row in (
        ("nan", "s,1,v,n,nan,copies/mL,none,"),
        ("badnum", "s,1,v,n,abc,copies/mL,none,"),
        ("t_huge", "s,1e308,v,n,1,copies/mL,none,"),
        ("t_inf", "s,inf,v,n,1,copies/mL,none,"),
        ("t_empty", "s,,v,n,1,copies/mL,none,"),
        ("cens", "s,1,v,n,1,copies/mL,sideways,"),
        ("interval", "s,1,v,n,,copies/mL,interval,1"),
        ("furlong", "s,1,v,n,1,furlongs/fortnight,none,"),
        ("mixed", "s,1,v,n,1,copies/mL,none,\ns,2,v,n,1,mg/dL,none,"),
        ("conflict", "s,1,v,n,1,copies/mL,none,\ns,1,v,n,2,copies/mL,none,"),
        ("nosubject", ",1,v,n,1,copies/mL,none,"),
        ("limit_inf", "s,1,v,n,,copies/mL,left,inf"),
        ("quote", 's,1,v,n,"1,copies/mL,none,'),
    ):
        f[f"{name}.csv"] = header + row + "\n"
    return f


def _fhir_files() -> dict[str, str | bytes]:
    """FHIR bundles with bad Observations."""
    f: dict[str, str | bytes] = {}
    ext = "https://immunetwin.org/fhir/StructureDefinition/"
    for name, obs in (
        (
            "high",
            {
                "valueString": "high",
                "extension": [{"url": ext + "reported-value", "valueDecimal": 1437143}],
            },
        ),
        ("furlong", {"valueQuantity": {"value": 1, "unit": "furlongs/fortnight"}}),
        ("nounit", {"valueQuantity": {"value": 1}}),
        ("novalue", {"valueQuantity": {"unit": "copies/mL"}}),
        ("inf", {"valueQuantity": {"value": 1e999, "unit": "copies/mL"}}),
        (
            "baddate",
            {"valueQuantity": {"value": 1, "unit": "copies/mL"}, "effectiveDateTime": "yesterday"},
        ),
        ("range", {"valueRange": {"low": {"value": 1, "unit": "copies/mL"}}}),
        ("nocode", {"code": {}, "valueQuantity": {"value": 1, "unit": "copies/mL"}}),
        ("badpatient", {"subject": {"reference": "Patient/nobody"}}),
    ):
        resource = {
            "resourceType": "Observation",
            "id": "o",
            "status": "final",
            "code": {"text": "vl"},
            "subject": {"reference": "Patient/p"},
            "effectiveDateTime": "2020-01-01T00:00:00+00:00",
            **obs,
        }
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"resource": {"resourceType": "Patient", "id": "p"}},
                {"resource": resource},
            ],
        }
        f[f"fhir_{name}.json"] = json.dumps(bundle)
    return f


def _sbml_files() -> dict[str, str | bytes]:
    """An SBML model with very deeply nested MathML."""
    f: dict[str, str | bytes] = {}
    nested = "<apply><plus/><ci>x</ci>" * 3000 + "<cn>1</cn>" + "</apply>" * 3000
    f["deep.xml"] = (
        "<?xml version='1.0' encoding='UTF-8'?><sbml xmlns='http://www.sbml.org/sbml/level3/"
        "version2/core' level='3' version='2'><model id='m'><listOfParameters><parameter id='x' "
        "value='1' constant='false'/></listOfParameters><listOfRules><rateRule variable='x'>"
        "<math xmlns='http://www.w3.org/1998/Math/MathML'>" + nested + "</math></rateRule>"
        "</listOfRules></model></sbml>"
    )
    return f


def _files(d: Path) -> dict[str, Path]:
    """Malformed input files, written into ``d``."""
    seed = WOELFEL.read_text(encoding="utf-8") if WOELFEL.exists() else "title: x\n"
    f = {**_basic_files(), **_hub_files(seed), **_csv_files(), **_fhir_files(), **_sbml_files()}
    paths: dict[str, Path] = {}
    for name, content in f.items():
        p = d / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        paths[name] = p
    (d / "adir").mkdir()
    paths["adir"] = d / "adir"
    for name, text in (
        ("notwin", None),
        ("trunc", '{"subject": "p1", "mod'),
        ("emptyjson", "{}"),
        ("listjson", "[]"),
    ):
        t = d / f"twin_{name}"
        t.mkdir()
        if text is not None:
            (t / "twin.json").write_text(text)
        paths[f"twin_{name}"] = t
    return paths


def _simulate_cases(p: dict[str, Path], out: str) -> list[Case]:
    base = ("simulate", MODEL, "--out", out)
    cases = []
    bad_numbers = ("0", "-1", "nan", "inf", "-inf", "1e308", "-1e308", "abc", "", "1e-400", "0x10")
    for opt in ("--rtol", "--atol", "--t-end", "--t-start", "--points"):
        for v in bad_numbers:
            cases.append(Case(f"simulate {opt}", (*base, opt, v)))
    for v in ("1.5", "2", "-5", "10000001"):
        cases.append(Case("simulate --points", (*base, "--t-end", "1", "--points", v)))
    for plot in ("x.xyz", "x", str(p["adir"]), "x.PNG.gz"):
        cases.append(Case("simulate --plot", (*base, "--plot", plot)))
    for param in (
        "beta",
        "beta=",
        "=1",
        "beta=abc",
        "beta=nan",
        "beta=inf",
        "nosuch=1",
        "beta=1=2",
    ):
        cases.append(Case("simulate --param", (*base, "--param", param)))
    for backend in ("nosuch", "", "ROADRUNNER"):
        cases.append(Case("simulate --backend", (*base, "--backend", backend)))
    for name in (
        "empty.xml",
        "junk.xml",
        "notsbml.xml",
        "binary.xml",
        "deep.xml",
        "adir",
        "bomb.yaml",
    ):
        cases.append(Case("simulate model file", ("simulate", str(p[name]), "--out", out)))
    for model in ("nosuch_model", "", "/nonexistent/m.xml"):
        cases.append(Case("simulate model name", ("simulate", model, "--out", out)))
    qual = sorted(QUAL.rglob("*.sbml")) + sorted(QUAL.rglob("*.xml"))
    for q in qual[:3]:
        cases.append(Case("simulate SBML-qual", ("simulate", str(q), "--out", out)))
    cases.append(Case("simulate --out", ("simulate", MODEL, "--out", str(p["adir"]))))
    cases.append(Case("simulate --out", ("simulate", MODEL, "--out", "/proc/nope/x.csv")))
    cases.append(Case("simulate --t-end", (*base, "--t-start", "5", "--t-end", "5")))
    return cases


def _data_cases(p: dict[str, Path], d: Path) -> list[Case]:
    files = [k for k in p if not k.startswith("twin_") and not k.endswith(".xml")]
    cases = []
    for name in files:
        for cmd in ("lint", "summary"):
            cases.append(Case(f"data {cmd} malformed file", ("data", cmd, str(p[name]))))
        cases.append(
            Case("data convert malformed file", ("data", "convert", str(p[name]), str(d / "o.csv")))
        )
    good = str(WOELFEL)
    for dst in ("o.xyz", "o", "/proc/nope/o.csv", str(p["adir"])):
        cases.append(
            Case(
                "data convert destination",
                ("data", "convert", good, dst if "/" in dst else str(d / dst)),
            )
        )
    for plot in ("x.xyz", str(p["adir"]), "/proc/nope/x.png"):
        cases.append(Case("data summary --plot", ("data", "summary", good, "--plot", plot)))
    for v in ("-1", "abc", "1e9"):
        cases.append(Case("data lint --max", ("data", "lint", good, "--max", v)))
    cases.append(Case("data missing path", ("data", "lint", "/nonexistent.csv")))
    return cases


def _store_cases(p: dict[str, Path], d: Path) -> list[Case]:
    junk_db = d / "junk.sqlite"
    junk_db.write_bytes(b"this is not a database" * 100)
    urls = (
        "::nope::",
        "postgresql://u@localhost/db",
        "postgres://u@localhost/db",
        "mysql://u@localhost/db",
        "oracle://u@h/db",
        f"sqlite:///{p['adir']}",
        f"sqlite:///{junk_db}",
        "sqlite:////proc/nope/r.sqlite",
        "",
    )
    cases = []
    for url in urls:
        for sub in (("list",), ("verify",), ("show", "abc"), ("add", str(p["twin_notwin"]))):
            cases.append(Case("store --db", ("store", *sub, "--db", url)))
    good = f"sqlite:///{d / 'reg.sqlite'}"
    for name in ("twin_notwin", "twin_trunc", "twin_emptyjson", "twin_listjson", "adir"):
        cases.append(Case("store add damaged twin", ("store", "add", str(p[name]), "--db", good)))
    cases.append(
        Case(
            "store add --report",
            ("store", "add", str(p["twin_trunc"]), "--report", "/nonexistent", "--db", good),
        )
    )
    for twin_id in ("nope", "", "x" * 1000, "'; drop table twins; --"):
        cases.append(Case("store show id", ("store", "show", twin_id, "--db", good)))
    return cases


def _twin_cases(p: dict[str, Path], d: Path) -> list[Case]:
    cases = []
    for name in ("twin_notwin", "twin_trunc", "twin_emptyjson", "twin_listjson", "adir"):
        t = str(p[name])
        cases += [
            Case("twin show damaged", ("twin", "show", t)),
            Case("twin forecast damaged", ("twin", "forecast", t)),
            Case("twin update damaged", ("twin", "update", t, "--data", str(p["nan.csv"]))),
            Case("report damaged", ("report", t, "--out", str(d / "r.html"))),
        ]
    for data in ("bomb.yaml", "junk.json", "nan.csv", "empty.csv", "t_huge.yaml"):
        cases.append(
            Case(
                "twin create malformed data",
                (
                    "twin",
                    "create",
                    "--data",
                    str(p[data]),
                    "--model",
                    "ke2022_sarscov2",
                    "--subject",
                    "s",
                    "--analyte",
                    "v",
                    "--out",
                    str(d / "tw"),
                ),
            )
        )
    for model in ("nosuch", ""):
        cases.append(
            Case(
                "twin create bad model",
                (
                    "twin",
                    "create",
                    "--data",
                    str(WOELFEL),
                    "--model",
                    model,
                    "--subject",
                    "s",
                    "--analyte",
                    "v",
                    "--out",
                    str(d / "tw"),
                ),
            )
        )
    return cases


def _misc_cases() -> list[Case]:
    return [
        Case("usage", ("nosuch",)),
        Case("usage", ("simulate", "--nosuch")),
        Case("usage", ("data", "nosuch")),
        Case("usage", ("store", "show")),
        Case("usage", ("--debug-nope",)),
        Case("models", ("models", "show", "nosuch")),
        Case("models", ("models", "export", "nosuch")),
        Case("models", ("models", "export", MODEL, "--format", "xyz")),
        Case("models", ("models", "export", MODEL, "--out", "/proc/nope/x.xml")),
        Case("models", ("models", "list", "--tag", "")),
    ]


def build_cases(d: Path) -> list[Case]:
    """Every case, with its malformed files written into ``d``."""
    p = _files(d)
    out = str(d / "traj.csv")
    return [
        *_simulate_cases(p, out),
        *_data_cases(p, d),
        *_store_cases(p, d),
        *_twin_cases(p, d),
        *_misc_cases(),
    ]


@dataclass(frozen=True)
class Outcome:
    """What one case did."""

    code: int
    traceback: bool
    stderr: str


def _runner() -> Callable[[Case], Outcome]:
    from typer.testing import CliRunner

    from immunetwin.cli._app import _register, app

    _register()
    runner = CliRunner()

    def run(case: Case) -> Outcome:
        res = runner.invoke(app, list(case.args))
        escaped = res.exception is not None and not isinstance(res.exception, SystemExit)
        text = res.output + (res.stderr or "")
        return Outcome(res.exit_code, escaped or "Traceback (most recent" in text, res.stderr)

    return run


def _subprocess(case: Case) -> Outcome:
    env = {**os.environ, "IMMUNETWIN_DEBUG": ""}
    res = subprocess.run(
        [sys.executable, "-m", "immunetwin", *case.args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    text = res.stdout + res.stderr
    return Outcome(res.returncode, "Traceback (most recent" in text, res.stderr)


def main() -> int:
    """Run every case; print the tallies; 1 if any case broke the one-line rule."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subprocess", action="store_true", help="run each case as a process")
    ap.add_argument("--show", action="store_true", help="print every case and its stderr")
    ns = ap.parse_args()
    os.environ.setdefault("IMMUNETWIN_DB", "sqlite:///" + tempfile.mkdtemp() + "/default.sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        cases = build_cases(Path(tmp))
        run = _subprocess if ns.subprocess else _runner()
        per: dict[str, Counter[str]] = defaultdict(Counter)
        bad: list[tuple[Case, Outcome]] = []
        for case in cases:
            o = run(case)
            c = per[case.category]
            c["cases"] += 1
            c["exit 0" if o.code == 0 else "refused"] += 1
            lines = [ln for ln in o.stderr.splitlines() if ln.strip()]
            if o.traceback:
                c["traceback"] += 1
                bad.append((case, o))
            elif o.code != 0 and len(lines) != 1:
                c["not one line"] += 1
                bad.append((case, o))
            if ns.show:
                print(f"[{o.code}] {' '.join(case.args)[:120]}\n    {o.stderr.strip()[:300]}")
    print(f"{'category':34s} cases  refused  exit0  traceback  not-one-line")
    for cat, c in per.items():
        print(
            f"{cat:34s} {c['cases']:5d}  {c['refused']:7d}  {c['exit 0']:5d}  "
            f"{c['traceback']:9d}  {c['not one line']:12d}"
        )
    for case, o in bad[:20]:
        print(f"BAD [{o.code}] {' '.join(case.args)[:150]}\n    {o.stderr.strip()[:400]}")
    tracebacks = sum(c["traceback"] for c in per.values())
    multi = sum(c["not one line"] for c in per.values())
    print(f"{len(cases)} inputs, {tracebacks} tracebacks, {multi} non-one-line errors")
    return 1 if tracebacks or multi else 0


if __name__ == "__main__":
    sys.exit(main())
