"""Run SBML Test Suite (semantic) cases through immunetwin and score them.

Usage::

    python benchmarks/sbml_suite.py CASES_DIR [--backend compiled|roadrunner] [--cases 1-200]
                                              [--json out.json] [--workers 2] [--timeout 60]

``CASES_DIR`` holds one folder per case, ``NNNNN/`` with ``NNNNN-model.m`` (tags),
``NNNNN-settings.txt``, ``NNNNN-results.csv`` and one SBML file (the layout of
``shared/data/sbml-test-suite/cases``). Each case is read with ``immunetwin.model.from_sbml`` and
simulated with ``immunetwin.simulate.simulate`` (rtol 1e-8, atol 1e-10, tighter than the cases'
own tolerances). A value passes when ``|expected - simulated| <= absolute + relative*|expected|``.

Outcomes: ``passed``; ``failed`` (a mismatch, an error, a timeout or a crash);
``unsupported`` (``UnsupportedSBMLFeature``/``UnsupportedFeature``: the case is declined, never
answered wrongly); ``skipped`` (not a time course, or uses the comp/fbc packages; not counted).
Cases run in worker processes (a fresh worker after ``--tasks-per-worker`` cases, and after a
timeout or crash), so one case cannot hang or poison the run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import re
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RTOL = 1e-8
ATOL = 1e-10
SKIP_PACKAGES = ("comp", "fbc")


@dataclass
class Case:
    """One test case: where it is and what it says about itself."""

    id: str
    path: str
    test_type: str = ""
    component_tags: list[str] = field(default_factory=list)
    test_tags: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """The result of one case."""

    id: str
    status: str  # passed | failed | unsupported | skipped
    reason: str = ""
    seconds: float = 0.0
    tags: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- reading cases
def _tag_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def read_case(case_dir: Path) -> Case:
    """Read a case's tags from its ``model.m`` description."""
    cid = case_dir.name
    case = Case(id=cid, path=str(case_dir))
    model_m = case_dir / f"{cid}-model.m"
    if model_m.is_file():
        for line in model_m.read_text(errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key = key.strip()
            if key == "componentTags":
                case.component_tags = _tag_list(value)
            elif key == "testTags":
                case.test_tags = _tag_list(value)
            elif key == "testType":
                case.test_type = value.strip()
            elif key == "packagesPresent":
                case.packages = _tag_list(value)
    return case


def read_settings(path: Path) -> dict[str, Any]:
    """Parse ``NNNNN-settings.txt`` into start, duration, steps, variables, tolerances, lists."""
    raw: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep:
            raw[key.strip().lower()] = value.strip()
    return {
        "start": float(raw.get("start", "0") or 0),
        "duration": float(raw["duration"]),
        "steps": int(float(raw["steps"])),
        "variables": _tag_list(raw.get("variables", "")),
        "absolute": float(raw.get("absolute", "0") or 0),
        "relative": float(raw.get("relative", "0") or 0),
        "amount": set(_tag_list(raw.get("amount", ""))),
        "concentration": set(_tag_list(raw.get("concentration", ""))),
    }


def sbml_file(case_dir: Path) -> Path:
    """The case's one SBML file."""
    files = sorted(case_dir.glob(f"{case_dir.name}-sbml-*.xml"))
    if not files:
        raise FileNotFoundError(f"{case_dir}: no SBML file")
    return files[-1]


def skip_reason(case: Case) -> str | None:
    """Why a case is not scored (None: it is)."""
    if case.test_type != "TimeCourse":
        return f"testType {case.test_type or '?'}"
    used = [p for p in case.packages if p.split("_")[0] in SKIP_PACKAGES]
    if used:
        return f"package {', '.join(used)}"
    return None


# ---------------------------------------------------------------------------- one case
def _values_match(expected: Any, got: Any, absolute: float, relative: float) -> Any:
    import numpy as np

    both_nan = np.isnan(expected) & np.isnan(got)
    same_inf = np.isinf(expected) & (expected == got)
    with np.errstate(invalid="ignore"):
        ok = np.abs(expected - got) <= absolute + relative * np.abs(expected)
    return ok | both_nan | same_inf


def run_case(case_dir: str, backend: str) -> tuple[str, str]:
    """Simulate one case; return ``(status, reason)``."""
    import numpy as np
    import pandas as pd

    from immunetwin.errors import UnsupportedFeature, UnsupportedSBMLFeature
    from immunetwin.model import from_sbml
    from immunetwin.simulate import SolverOptions, simulate

    path = Path(case_dir)
    try:
        settings = read_settings(path / f"{path.name}-settings.txt")
        expected = pd.read_csv(path / f"{path.name}-results.csv")
        expected.columns = [str(c).strip() for c in expected.columns]
        spec = from_sbml(str(sbml_file(path)))
        species = {s.id: s for s in spec.species}
        reported = set(species) | {o.id for o in spec.observables}
        # how to get each variable: (output name, divide by this compartment or None)
        plan: dict[str, tuple[str, str | None]] = {}
        for var in settings["variables"]:
            sp_ = species.get(var)
            if sp_ is not None and var in settings["amount"] and not sp_.has_only_substance_units:
                plan[var] = (f"amount({var})", None)
            elif (
                sp_ is not None
                and var in settings["concentration"]
                and sp_.has_only_substance_units
            ):
                plan[var] = (var, sp_.compartment)
            else:
                plan[var] = (var, None)
        extras: list[str] = []
        for name, comp in plan.values():
            for out in (name, comp):
                if out is not None and out not in reported and out not in extras:
                    extras.append(out)
        start, steps = settings["start"], settings["steps"]
        times = np.linspace(start, start + settings["duration"], steps + 1)
        traj = simulate(
            spec,
            times,
            backend=backend,
            options=SolverOptions(rtol=RTOL, atol=ATOL),
            outputs=extras or None,
            errors="raise",
            t0=start,
        )
    except (UnsupportedSBMLFeature, UnsupportedFeature) as exc:
        return "unsupported", _first_line(exc)
    except Exception as exc:  # noqa: BLE001 - every other error is a failed case
        return "failed", f"{type(exc).__name__}: {_first_line(exc)}"
    if len(expected) != len(times):
        return "failed", f"expected {len(expected)} rows, simulated {len(times)}"
    for var, (name, comp) in plan.items():
        if var not in expected.columns:
            return "failed", f"results file has no column '{var}'"
        try:
            got = np.asarray(traj[name], dtype=float)
            if comp is not None:
                got = got / np.asarray(traj[comp], dtype=float)
        except KeyError as exc:
            return "failed", f"no output for '{var}': {_first_line(exc)}"
        exp = pd.to_numeric(expected[var], errors="coerce").to_numpy(dtype=float)
        ok = _values_match(exp, got, settings["absolute"], settings["relative"])
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            return "failed", (
                f"mismatch in '{var}' at t={times[i]:g}: expected {exp[i]:.10g}, got {got[i]:.10g} "
                f"({int((~ok).sum())} of {ok.size} values off)"
            )
    return "passed", ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 240 else line[:237] + "..."


# ---------------------------------------------------------------------------- worker pool
def _worker(tasks: Any, results: Any, backend: str, max_tasks: int) -> None:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    import warnings

    warnings.simplefilter("ignore")
    done = 0
    while done < max_tasks:
        item = tasks.get()
        if item is None:
            return
        cid, case_dir = item
        results.put(("start", cid, os.getpid()))
        t = time.perf_counter()
        try:
            status, reason = run_case(case_dir, backend)
        except BaseException as exc:  # noqa: BLE001 - report, never die silently
            status, reason = "failed", f"{type(exc).__name__}: {_first_line(exc)}"
        results.put(("done", cid, (status, reason, time.perf_counter() - t)))
        done += 1
    results.put(("retire", None, os.getpid()))


class Pool:
    """Worker processes with a per-case timeout; a timed-out or crashed worker is replaced."""

    def __init__(self, backend: str, workers: int, timeout: float, tasks_per_worker: int) -> None:
        self.ctx = mp.get_context("spawn")
        self.tasks = self.ctx.Queue()
        self.results = self.ctx.Queue()
        self.backend = backend
        self.n_workers = workers
        self.timeout = timeout
        self.tasks_per_worker = tasks_per_worker
        self.procs: dict[int, Any] = {}
        self.running: dict[int, tuple[str, float]] = {}  # pid -> (case, started)
        self.pending: set[str] = set()
        self.on_result: Any = None

    def _spawn(self) -> None:
        p = self.ctx.Process(
            target=_worker,
            args=(self.tasks, self.results, self.backend, self.tasks_per_worker),
            daemon=True,
        )
        p.start()
        assert p.pid is not None
        self.procs[p.pid] = p

    def run(self, cases: list[tuple[str, str]], on_result: Any) -> None:
        """Run ``(case id, dir)`` pairs; call ``on_result(id, status, reason, seconds)`` for each."""
        for item in cases:
            self.tasks.put(item)
        self.pending = {cid for cid, _ in cases}
        self.on_result = on_result
        for _ in range(min(self.n_workers, len(cases))):
            self._spawn()
        while self.pending:
            self._drain(0.5)
            now = time.perf_counter()
            for pid, (c, started) in list(self.running.items()):
                proc = self.procs.get(pid)
                timed_out = now - started > self.timeout
                if not timed_out and (proc is None or proc.is_alive()):
                    continue
                if not timed_out:
                    self._drain(0.5)  # a worker that just finished may have left its result behind
                    if pid not in self.running:
                        continue
                if proc is not None:
                    if timed_out:
                        proc.kill()
                    proc.join(timeout=5)
                    self.procs.pop(pid, None)
                self.running.pop(pid, None)
                if c in self.pending:
                    self.pending.discard(c)
                    code = proc.exitcode if proc is not None else "?"
                    why = (
                        f"timeout (> {self.timeout:g} s)"
                        if timed_out
                        else f"worker died (exit code {code})"
                    )
                    on_result(c, "failed", why, now - started)
                if self.pending:
                    self._spawn()

    def _drain(self, wait: float) -> None:
        """Handle every message in the result queue (waiting up to ``wait`` s for the first)."""
        try:
            msg = self.results.get(timeout=wait)
        except queue.Empty:
            return
        while True:
            self._handle(*msg)
            try:
                msg = self.results.get_nowait()
            except queue.Empty:
                return

    def _handle(self, kind: str, cid: str | None, payload: Any) -> None:
        if kind == "start":
            self.running[payload] = (cid, time.perf_counter())
        elif kind == "done":
            status, reason, secs = payload
            for pid, (c, _) in list(self.running.items()):
                if c == cid:
                    del self.running[pid]
            if cid in self.pending:
                self.pending.discard(cid)
                self.on_result(cid, status, reason, secs)
        elif kind == "retire":
            proc = self.procs.pop(payload, None)
            if proc is not None:
                proc.join(timeout=5)
            if self.pending:
                self._spawn()

        for _ in self.procs:
            self.tasks.put(None)
        for proc in self.procs.values():
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


# ---------------------------------------------------------------------------- command line
def parse_ranges(text: str) -> set[int]:
    """``"1-200,305"`` -> the case numbers."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            out.update(range(int(m.group(1)), int(m.group(2)) + 1))
        else:
            out.add(int(part))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the suite and print the score."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases_dir", type=Path, help="folder of NNNNN/ case folders")
    ap.add_argument("--backend", choices=("compiled", "roadrunner"), default="compiled")
    ap.add_argument("--cases", default="", help="case numbers, e.g. 1-200 or 1-50,77")
    ap.add_argument("--json", type=Path, default=None, help="write per-case outcomes as JSON")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    ap.add_argument("--tasks-per-worker", type=int, default=50)
    ap.add_argument("--quiet", action="store_true", help="no per-case progress")
    args = ap.parse_args(argv)

    if not args.cases_dir.is_dir():
        print(f"error: {args.cases_dir} is not a folder", file=sys.stderr)
        return 2
    wanted = parse_ranges(args.cases) if args.cases else None
    dirs = sorted(d for d in args.cases_dir.iterdir() if d.is_dir() and d.name.isdigit())
    if wanted is not None:
        dirs = [d for d in dirs if int(d.name) in wanted]
    cases = {d.name: read_case(d) for d in dirs}
    outcomes: dict[str, Outcome] = {}
    to_run: list[tuple[str, str]] = []
    for cid, case in cases.items():
        why = skip_reason(case)
        tags = case.component_tags + case.test_tags
        if why is not None:
            outcomes[cid] = Outcome(cid, "skipped", why, tags=tags)
        else:
            to_run.append((cid, case.path))

    started = time.perf_counter()

    def on_result(cid: str, status: str, reason: str, secs: float) -> None:
        case = cases[cid]
        outcomes[cid] = Outcome(cid, status, reason, secs, case.component_tags + case.test_tags)
        if not args.quiet:
            mark = {"passed": ".", "failed": "F", "unsupported": "u"}.get(status, "?")
            print(mark, end="", flush=True)

    Pool(args.backend, args.workers, args.timeout, args.tasks_per_worker).run(to_run, on_result)
    wall = time.perf_counter() - started
    if not args.quiet and to_run:
        print()
    report(outcomes, args.backend, wall)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "backend": args.backend,
            "rtol": RTOL,
            "atol": ATOL,
            "wall_seconds": wall,
            "cases": [asdict(o) for o in sorted(outcomes.values(), key=lambda o: o.id)],
        }
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


def report(outcomes: dict[str, Outcome], backend: str, wall: float) -> None:
    """Print the score, the breakdown by tag and the failed cases."""
    counts: dict[str, int] = defaultdict(int)
    by_tag: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in outcomes.values():
        counts[o.status] += 1
        if o.status != "skipped":
            for tag in o.tags:
                by_tag[tag][o.status] += 1
    scored = counts["passed"] + counts["failed"] + counts["unsupported"]
    print(f"backend {backend}: {scored} scored cases, {counts['skipped']} skipped, {wall:.1f} s")
    if by_tag:
        print(f"\n{'tag':<34}{'passed':>8}{'failed':>8}{'unsupp.':>9}")
        for tag in sorted(by_tag):
            c = by_tag[tag]
            print(f"{tag:<34}{c['passed']:>8}{c['failed']:>8}{c['unsupported']:>9}")
    failed = sorted((o for o in outcomes.values() if o.status == "failed"), key=lambda o: o.id)
    if failed:
        print("\nfailed cases:")
        for o in failed:
            print(f"  {o.id}: {o.reason}")
    pct = 100.0 * counts["passed"] / scored if scored else 0.0
    print(
        f"\n{counts['passed']} passed, {counts['failed']} failed, {counts['unsupported']} unsupported ({pct:.1f}% passed)"
    )


if __name__ == "__main__":
    sys.exit(main())
