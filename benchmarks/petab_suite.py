"""The PEtab test suite through immunetwin's PEtab reader.

For every case of ``../shared/data/petab-test-suite`` (``v1.0.0/sbml`` and ``v2.0.0/sbml``) this
script reads the problem with :class:`immunetwin.inference.PetabProblem`, simulates it at the
nominal parameters and compares with the case's solution file, with the suite's tolerances:

* simulations: ``|ours - expected| <= tol_simulations * max(1, |expected|)`` on every row;
* log-likelihood: ``|llh - llh_expected| <= tol_llh``;
* chi2: ``|chi2 - chi2_expected| <= tol_chi2``.

A case passes when all three hold. A case whose problem immunetwin refuses (an
:class:`~immunetwin.errors.UnsupportedPetabFeature` or a PEtab format version it does not read)
counts as unsupported. Prints one line per case that fails or is unsupported, and last
``N passed, M failed, K unsupported``.

Run: ``.venv/bin/python benchmarks/petab_suite.py [SUITE_FOLDER]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from immunetwin.errors import ImmunetwinError, UnsupportedPetabFeature
from immunetwin.inference import PetabProblem

ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "petab-test-suite"


def check_case(folder: Path) -> tuple[str, str]:
    """``(status, detail)`` of one case; status is ``passed``, ``failed`` or ``unsupported``."""
    name = folder.name
    sol = yaml.safe_load((folder / f"_{name}_solution.yaml").read_text())
    try:
        pr = PetabProblem(folder / f"_{name}.yaml")
    except UnsupportedPetabFeature as exc:
        return "unsupported", str(exc)
    except ImmunetwinError as exc:
        return "failed", f"cannot read: {exc}"
    try:
        sim = pr.simulation_table()
        llh = -float(pr.nllh()[0])
        chi2 = float(pr.chi2()[0])
    except ImmunetwinError as exc:
        return "failed", f"cannot simulate: {exc}"
    ref = pd.concat(
        [pd.read_csv(folder / f, sep="\t") for f in sol["simulation_files"]], ignore_index=True
    )
    ok_sim, worst = compare_simulations(sim, ref, float(sol["tol_simulations"]))
    ok_llh = abs(llh - float(sol["llh"])) <= float(sol["tol_llh"])
    ok_chi2 = abs(chi2 - float(sol["chi2"])) <= float(sol["tol_chi2"])
    detail = (
        f"llh {llh:.6g} (expected {sol['llh']:.6g}), chi2 {chi2:.6g} (expected "
        f"{sol['chi2']:.6g}), worst simulation difference {worst:.2e}"
    )
    return ("passed" if ok_sim and ok_llh and ok_chi2 else "failed"), detail


def compare_simulations(sim: pd.DataFrame, ref: pd.DataFrame, tol: float) -> tuple[bool, float]:
    """Whether two simulation tables agree row by row (matched on observable, conditions, time)."""
    keys = [
        c
        for c in ("observableId", "preequilibrationConditionId", "simulationConditionId", "time")
        if c in ref.columns and c in sim.columns
    ]

    def ordered(df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        for c in keys:
            if c != "time":
                out[c] = out[c].fillna("").astype(str)
        out["_n"] = out.groupby(keys).cumcount()
        return out.sort_values([*keys, "_n"]).reset_index(drop=True)

    a, b = ordered(sim), ordered(ref)
    if len(a) != len(b):
        return False, float("inf")
    same = all((a[c] == b[c]).all() for c in keys if c != "time") and np.allclose(
        a["time"].to_numpy(float), b["time"].to_numpy(float)
    )
    if not same:
        return False, float("inf")
    x, y = a["simulation"].to_numpy(float), b["simulation"].to_numpy(float)
    diff = np.abs(x - y) / np.maximum(1.0, np.abs(y))
    worst = float(np.max(diff)) if diff.size else 0.0
    return worst <= tol, worst


def main(argv: list[str]) -> int:
    """Run every case; print failures, unsupported cases and the summary line."""
    root = Path(argv[1]) if len(argv) > 1 else ROOT
    counts: dict[str, int] = {"passed": 0, "failed": 0, "unsupported": 0}
    by_version: dict[str, dict[str, int]] = {}
    for version in ("v1.0.0", "v2.0.0"):
        cases = sorted(p for p in (root / version / "sbml").iterdir() if p.is_dir())
        for case in cases:
            status, detail = check_case(case)
            counts[status] += 1
            by_version.setdefault(version, {"passed": 0, "failed": 0, "unsupported": 0})
            by_version[version][status] += 1
            if status != "passed":
                print(f"{version}/{case.name}: {status}: {detail}")
    for version, c in by_version.items():
        print(
            f"{version}: {c['passed']} passed, {c['failed']} failed, {c['unsupported']} unsupported"
        )
    print(
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['unsupported']} unsupported"
    )
    return 0 if counts["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
