"""Stochastic simulation speed: GillesPy2 against ``simulate(method="ssa")``, in one run.

Usage::

    python benchmarks/ssa_gillespy2.py [--runs 2000] [--model tiv|dimer|both]

Both engines run Gillespie's direct method on the same reaction model, with the same kinetic laws
written as propensities, the same number of runs and output times. GillesPy2's fastest exact
solver that works is used: ``SSACSolver`` (C++; needs g++), else ``NumPySSASolver``; the line
says which. Compilation is excluded on both sides (each engine runs once untimed first), and each
timing is the best of ``--repeat`` runs. Prints runs per second of each engine and the ratio
(ours / theirs), and the mean final counts of both as a sanity check.

Models:

* ``tiv``: target-cell limited virus infection (T + V -> I, I -> I + V, V ->, I ->) from a few
  virions, 300 target cells, to day 3: early extinction or a burst;
* ``dimer``: the DSMTS dimerisation 2 P <-> P2 (100 monomers) to t = 50.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

from immunetwin.model import ModelBuilder, ModelSpec
from immunetwin.simulate import SSAOptions, simulate

MODELS: dict[str, dict[str, Any]] = {
    "tiv": {
        "params": {"beta": 5.0 / 300, "p": 10.0, "c": 5.0, "delta": 1.0},
        "species": {"T": 300, "I": 0, "V": 2},
        "reactions": [
            ("infection", {"T": 1, "V": 1}, {"I": 1}, "beta*T*V"),
            ("production", {"I": 1}, {"I": 1, "V": 1}, "p*I"),
            ("clearance", {"V": 1}, {}, "c*V"),
            ("death", {"I": 1}, {}, "delta*I"),
        ],
        "t_end": 3.0,
        "points": 31,
    },
    "dimer": {
        "params": {"k1": 0.001, "k2": 0.01},
        "species": {"P": 100, "P2": 0},
        "reactions": [
            ("dimerisation", {"P": 2}, {"P2": 1}, "k1*P*(P-1)/2"),
            ("dissociation", {"P2": 1}, {"P": 2}, "k2*P2"),
        ],
        "t_end": 50.0,
        "points": 51,
    },
}


def _equation(side: dict[str, int]) -> str:
    return " + ".join(f"{n} {s}" if n != 1 else s for s, n in side.items())


def ours(name: str) -> ModelSpec:
    """The model as a ModelSpec (amounts, propensities as kinetic laws)."""
    m = MODELS[name]
    b = ModelBuilder(name)
    for k, v in m["params"].items():
        b.parameter(k, v)
    for s, x in m["species"].items():
        b.species(s, x, amount=True, only_substance=True)
    for rid, lhs, rhs, law in m["reactions"]:
        b.reaction(rid, f"{_equation(lhs)} -> {_equation(rhs)}", law)
    return b.build()


def theirs(name: str) -> Any:
    """The same model in GillesPy2."""
    import gillespy2

    m = MODELS[name]
    model = gillespy2.Model(name=name)
    model.add_parameter([gillespy2.Parameter(name=k, expression=v) for k, v in m["params"].items()])
    species = {
        s: gillespy2.Species(name=s, initial_value=x, mode="discrete")
        for s, x in m["species"].items()
    }
    model.add_species(list(species.values()))
    for rid, lhs, rhs, law in m["reactions"]:
        model.add_reaction(
            gillespy2.Reaction(
                name=rid,
                reactants={species[s]: n for s, n in lhs.items()},
                products={species[s]: n for s, n in rhs.items()},
                propensity_function=law,
            )
        )
    model.timespan(gillespy2.TimeSpan.linspace(t=m["t_end"], num_points=m["points"]))
    return model


def _best(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench(name: str, runs: int, repeat: int) -> float:
    """Time both engines on model ``name``; print and return the ratio (our runs/s over theirs)."""
    import gillespy2

    m = MODELS[name]
    times = np.linspace(0.0, m["t_end"], m["points"])
    spec = ours(name)
    simulate(spec, times, method="ssa", runs=2, seed=0)  # compile (cached afterwards)
    t_ours = _best(lambda: simulate(spec, times, method="ssa", runs=runs, seed=1), repeat)
    serial = SSAOptions(parallel=False)
    t_ours1 = _best(
        lambda: simulate(spec, times, method="ssa", runs=runs, seed=1, options=serial), repeat
    )
    last = list(m["species"])[-1]
    our_final = simulate(spec, times, method="ssa", runs=runs, seed=1)[last][:, -1]

    model = theirs(name)
    try:
        solver = gillespy2.SSACSolver(model=model)
        model.run(solver=solver, number_of_trajectories=2, seed=7)
        which = "SSACSolver (C++)"
    except Exception as exc:  # noqa: BLE001 - any build failure means: fall back
        print(f"  SSACSolver unavailable ({type(exc).__name__}: {exc}); using NumPySSASolver")
        solver = gillespy2.NumPySSASolver(model=model)
        which = "NumPySSASolver"
    t_theirs = _best(lambda: model.run(solver=solver, number_of_trajectories=runs, seed=1), repeat)
    res = model.run(solver=solver, number_of_trajectories=runs, seed=1)
    their_final = np.asarray([traj[last][-1] for traj in res], dtype=float)
    ratio = t_theirs / t_ours
    se = np.sqrt(our_final.var() / runs + their_final.var() / runs)
    print(
        f"{name}: {runs} runs, {len(times)} output times | immunetwin {runs / t_ours:,.0f} runs/s"
        f" ({os.cpu_count()} cores; {runs / t_ours1:,.0f} on one thread) | GillesPy2 {which}"
        f" {runs / t_theirs:,.0f} runs/s (one process) | ratio (ours/theirs) {ratio:.2f}"
        f" (one thread: {t_theirs / t_ours1:.2f}) | mean final {last}: {our_final.mean():.2f}"
        f" vs {their_final.mean():.2f} (difference {abs(our_final.mean() - their_final.mean()) / se:.1f} SE)"
    )
    return ratio


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    # GillesPy2 finds SCons (its C++ build tool) on PATH: make the running environment's visible
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", choices=[*MODELS, "both"], default="both")
    args = ap.parse_args(argv)
    names = list(MODELS) if args.model == "both" else [args.model]
    for name in names:
        bench(name, args.runs, args.repeat)


if __name__ == "__main__":
    main()
