"""Stable states, trap spaces, discrete and stochastic dynamics of logical models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from immunetwin.errors import ModelError
from immunetwin.model import LogicalModelBuilder, from_sbml_qual
from immunetwin.simulate import (
    compile_network,
    fixpoints,
    mp_attractors,
    reachable,
    run_logical,
    stochastic_logical,
    trap_spaces,
)


def qual_specs(shared_data: Path):
    return [
        (p.name, from_sbml_qual(p))
        for p in sorted((shared_data / "sbml-qual-ginsim").glob("*/*.sbml"))
    ]


def test_fixpoints_of_every_shared_model_agree_between_two_solvers(shared_data: Path) -> None:
    for name, spec in qual_specs(shared_data):
        a = fixpoints(spec, method="mpbn")
        b = fixpoints(spec, method="search")
        assert a.complete and b.complete
        assert a.states == b.states, name
        assert len(a) > 0, name
        net = compile_network(spec)
        states = np.array(a.states, dtype=np.int8)
        assert np.array_equal(net.targets(states), states), (
            f"{name}: a listed state is not a fixpoint"
        )
        sizes = np.prod(np.array(spec.max_levels, dtype=float) + 1)
        if sizes <= 2**20:
            assert fixpoints(spec, method="brute").states == a.states, name


def mv_toy():
    b = LogicalModelBuilder("mv")
    b.species("A", max_level=2)
    b.species("B")
    b.rule("A", {2: "A:2 & !B", 1: "A & !A:2 | B"})
    b.rule("B", "!A:2")
    return b.build()


def test_multivalued_fixpoints_match_hand_enumeration() -> None:
    spec = mv_toy()
    # A=2,B=0: A target 2 (A:2 & !B), B target 0 -> fixed. A=1,B=1: A target 1 (B), B target 1 -> fixed.
    # A=0,B=1: A target 1 -> not fixed. A=0,B=0: B target 1 -> not fixed.
    expected = ((1, 1), (2, 0))
    for method in ("brute", "search", "mpbn"):
        assert fixpoints(spec, method=method).states == expected, method


def test_cap_sets_complete_false_and_conditions_apply() -> None:
    b = LogicalModelBuilder("inputs")
    for s in "ABC":
        b.species(s)
    b.species("D")
    b.rule("D", "A & B | C")
    spec = b.build()
    assert len(fixpoints(spec)) == 8
    capped = fixpoints(spec, max_count=3)
    assert len(capped) == 3 and not capped.complete
    assert fixpoints(spec, inputs={"A": 1, "B": 1, "C": 0}).as_dicts() == [
        {"A": 1, "B": 1, "C": 0, "D": 1}
    ]
    assert (
        fixpoints(spec, inputs={"A": 1, "B": 1, "C": 0}, mutations={"D": 0}).as_dicts()[0]["D"] == 0
    )
    with pytest.raises(ModelError, match="not an input"):
        fixpoints(spec, inputs={"D": 1})


def oscillator():
    b = LogicalModelBuilder("osc")
    b.species("A")
    b.species("B")
    b.rule("A", "!B")
    b.rule("B", "A")
    return b.build()


def test_cyclic_attractor_is_a_free_trap_space_and_sync_cycles() -> None:
    spec = oscillator()
    assert len(fixpoints(spec)) == 0
    ts = trap_spaces(spec)
    assert ts.as_dicts() == [{"A": None, "B": None}] and ts.cyclic == (0,)
    tr = run_logical(spec, {"A": 0, "B": 0}, mode="sync")
    assert tr.stopped == "cycle" and tr.cycle_start == 0 and tr.states.shape == (5, 2)
    with pytest.raises(ValueError):
        tr.states[0, 0] = 1
    assert list(tr.to_pandas().columns) == ["A", "B"]
    tr = run_logical(spec, {"A": 0, "B": 0}, mode="async", seed=3, max_steps=20)
    assert tr.stopped == "max_steps" and tr.states.shape == (21, 2)
    np.testing.assert_array_equal(
        tr.states, run_logical(spec, {}, mode="async", seed=3, max_steps=20).states
    )
    assert reachable(spec, {"A": 0, "B": 0}, {"A": 0, "B": 1}, mode="async")
    assert reachable(spec, {"A": 0, "B": 0}, {"A": 0, "B": 1}, mode="mp")
    assert mp_attractors(spec, {"A": 1, "B": 1}).as_dicts() == [{"A": None, "B": None}]


def test_async_run_ends_in_a_fixpoint_of_the_multivalued_toy() -> None:
    tr = run_logical(mv_toy(), {"A": 2, "B": 1}, mode="async", seed=0)
    assert tr.stopped == "fixpoint"
    assert (tr.final["A"], tr.final["B"]) in ((1, 1), (2, 0))
    steps = np.abs(np.diff(tr.states.astype(int), axis=0)).sum(axis=1)
    assert set(steps.tolist()) == {1}  # one species moves one level per step


def test_stochastic_matches_the_exact_two_state_solution() -> None:
    b = LogicalModelBuilder("flip")
    b.species("A")
    b.rule("A", "true")
    times = np.linspace(0.0, 3.0, 7)
    res = stochastic_logical(
        b.build(),
        times=times,
        phenotypes={"on": {"A": 1}},
        rates={"A": (2.0, 1.0)},
        n_cells=20_000,
        seed=1,
    )
    exact = 1.0 - np.exp(-2.0 * times)
    sd = np.sqrt(exact * (1 - exact) / 20_000) + 1e-12
    assert np.all(np.abs(res.probability("on") - exact) <= 5 * sd + 1e-9)
    np.testing.assert_allclose(res.mean_levels[:, 0], res.probability("on"))


def test_stochastic_probabilities_converge_with_the_number_of_cells() -> None:
    b = LogicalModelBuilder("switch")
    for s in ("X", "Y"):
        b.species(s)
    b.rule("X", "!Y")
    b.rule("Y", "!X")
    spec = b.build()
    times = np.array([0.0, 0.5, 1.0, 2.0])
    kw = {"times": times, "phenotypes": {"X": {"X": 1, "Y": 0}}, "initial": {"X": 0, "Y": 0}}

    def spread(n: int) -> float:
        est = [
            stochastic_logical(spec, n_cells=n, seed=s, **kw).probability("X")[-1] for s in range(8)
        ]
        return float(np.std(est))

    # by symmetry the probability tends to 1/2; the spread over seeds falls like 1/sqrt(n)
    big = stochastic_logical(spec, n_cells=40_000, seed=99, **kw).probability("X")[-1]
    assert abs(big - 0.5) < 0.02
    assert spread(100) > 2.0 * spread(1600)
    r1 = stochastic_logical(spec, n_cells=50, seed=5, **kw)
    r2 = stochastic_logical(spec, n_cells=50, seed=5, **kw)
    np.testing.assert_array_equal(r1.probabilities, r2.probabilities)
    assert list(r1.to_pandas().columns) == ["X", "mean:X", "mean:Y"]


LARGE = (
    "2010-mammal-th-differentiation/Th_differentiation_full_annotated_model.zginml",
    "2014-mammal-th-differentiation/Frontiers-Th-Full-model-annotated.zginml",
)


def test_large_ginsim_models_agree_between_solvers_under_input_conditions(
    shared_data: Path,
) -> None:
    from immunetwin.model import from_ginml

    for rel in LARGE:
        spec = from_ginml(shared_data / "sbml-qual-ginsim" / rel)
        rng = np.random.default_rng(3)
        for trial in range(3):
            inputs = {
                s: (int(rng.integers(0, spec.species[spec.index(s)].levels)) if trial else 0)
                for s in spec.inputs
            }
            a = fixpoints(spec, method="mpbn", inputs=inputs)
            b = fixpoints(spec, method="search", inputs=inputs)
            assert a.complete and a.states == b.states, (rel, inputs)
            states = np.array(a.states, dtype=np.int8).reshape(-1, len(spec.species))
            net = compile_network(spec.mutate(inputs))
            assert np.array_equal(net.targets(states), states)


@pytest.mark.slow
def test_pyboolnet_agrees_on_the_booleanized_models(shared_data: Path) -> None:
    pytest.importorskip("pyboolnet")
    from pyboolnet.file_exchange import bnet2primes
    from pyboolnet.trap_spaces import compute_steady_states

    from immunetwin.model import from_ginml
    from immunetwin.simulate import booleanize

    for rel in (*LARGE, "2006-mammal-tcell-activation/TCRsig40.zginml"):
        spec = from_ginml(shared_data / "sbml-qual-ginsim" / rel)
        spec = spec.mutate(dict.fromkeys(spec.inputs, 0))
        bnet = "\n".join(f"{k}, {v}" for k, v in booleanize(spec).items())
        got = set()
        for st in compute_steady_states(bnet2primes(bnet), max_output=100_000):
            got.add(
                tuple(
                    int(st[s.id])
                    if s.levels == 2
                    else sum(int(st[f"{s.id}_b{k}"]) for k in range(1, s.levels))
                    for s in spec.species
                )
            )
        assert got == set(fixpoints(spec, method="search").states), rel


def test_a_condition_may_name_a_species_missing_from_the_inputs() -> None:
    spec = mv_toy()
    t = spec.transition_of("B")
    # drop B's declared inputs: the condition still names A, which becomes a regulator
    bare = t.__class__(id=t.id, inputs=(), outputs=t.outputs, terms=t.terms, default=t.default)
    spec2 = spec.replace(transitions=(spec.transition_of("A"), bare))
    assert fixpoints(spec2, method="search").states == fixpoints(spec, method="search").states
    assert fixpoints(spec2, method="mpbn").states == ((1, 1), (2, 0))
