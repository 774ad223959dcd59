"""Stable states of the shared logical models: immunetwin (mpbn, search) against PyBoolNet.

Usage::

    python benchmarks/logical_fixpoints.py [DATA_DIR] [--max 10000]

For every SBML-qual file and the GINsim-only immune models under ``DATA_DIR``
(default ``../shared/data/sbml-qual-ginsim``), lists the stable states with
``immunetwin.simulate.fixpoints`` (``method="mpbn"`` and ``method="search"``) and with PyBoolNet
(``bnet2primes`` + ``compute_steady_states`` on the same van Ham booleanization), checks that
all three lists agree, and prints the wall times and the ratio PyBoolNet / immunetwin(mpbn).
Models with many free inputs are also run with all inputs fixed at 0.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from immunetwin.model import LogicalModelSpec, from_ginml, from_sbml_qual
from immunetwin.simulate import booleanize, fixpoints


def _pyboolnet(spec: LogicalModelSpec, cap: int) -> tuple[set[tuple[int, ...]], float]:
    from pyboolnet.file_exchange import bnet2primes
    from pyboolnet.trap_spaces import compute_steady_states

    started = time.perf_counter()
    bnet = "\n".join(f"{k}, {v}" for k, v in booleanize(spec).items())
    states = compute_steady_states(bnet2primes(bnet), max_output=cap + 1)
    out = set()
    for st in states:
        levels = []
        for s in spec.species:
            bits = [s.id] if s.levels == 2 else [f"{s.id}_b{k}" for k in range(1, s.levels)]
            levels.append(sum(int(st[b]) for b in bits))
        out.add(tuple(levels))
    return out, time.perf_counter() - started


def _row(name: str, spec: LogicalModelSpec, cap: int) -> None:
    times = {}
    lists = {}
    for method in ("mpbn", "search"):
        started = time.perf_counter()
        res = fixpoints(spec, method=method, max_count=cap)
        times[method] = time.perf_counter() - started
        lists[method] = (set(res.states), res.complete)
    pb, times["pyboolnet"] = _pyboolnet(spec, cap)
    complete = lists["mpbn"][1]
    agree = lists["mpbn"][0] == lists["search"][0] == pb if complete else "capped"
    print(
        f"{name:48s} {len(spec.species):4d} {len(lists['mpbn'][0]):6d}{'' if complete else '+'} "
        f"{times['mpbn']:8.2f} {times['search']:8.2f} {times['pyboolnet']:9.2f} "
        f"{times['pyboolnet'] / times['mpbn']:6.2f} {agree}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "sbml-qual-ginsim"
    parser.add_argument("data", nargs="?", type=Path, default=default)
    parser.add_argument("--max", type=int, default=10_000)
    args = parser.parse_args()
    print(
        f"{'model':48s} {'n':>4s} {'fixpts':>7s} {'mpbn s':>8s} {'search s':>8s} {'pyboolnet s':>9s} {'ratio':>6s} agree"
    )
    for f in sorted(args.data.glob("*/*.sbml")):
        _row(f.name, from_sbml_qual(f), args.max)
    for rel in (
        "2006-mammal-tcell-activation/TCRsig40.zginml",
        "2006-mammal-th-differentiation/Th_17.zginml",
        "2010-mammal-th-differentiation/Th_differentiation_full_annotated_model.zginml",
        "2014-mammal-th-differentiation/Frontiers-Th-Full-model-annotated.zginml",
    ):
        spec = from_ginml(args.data / rel)
        if spec.inputs:
            fixed = spec.mutate(dict.fromkeys(spec.inputs, 0))
            _row(f"{Path(rel).name} (inputs 0)", fixed, args.max)
        if len(spec.inputs) <= 4:
            _row(Path(rel).name, spec, args.max)


if __name__ == "__main__":
    main()
