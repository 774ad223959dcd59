"""Logical library models: same logic as the repository files, and the behaviour their pages report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from immunetwin.errors import ModelError
from immunetwin.model import from_ginml, from_sbml_qual, library, to_sbml_qual
from immunetwin.simulate import compile_network, fixpoints, trap_spaces


def same_logic(a, b, *, n: int = 20_000) -> list[str]:
    b = b.replace(species=tuple(b.species[b.index(s)] for s in a.species_ids))
    na, nb = compile_network(a), compile_network(b)
    x = (np.random.default_rng(0).random((n, na.n)) * (na.maxes.astype(float) + 1)).astype(np.int8)
    return [a.species_ids[i] for i in np.flatnonzero((na.targets(x) != nb.targets(x)).any(axis=0))]


def test_names_cards_and_round_trip() -> None:
    assert library.logical_names() == ["klamt2006_tcr", "mendoza2006_th"]
    for name in library.logical_names():
        spec = library.get_logical(name)
        assert spec.id == name and library.logical_card(name).doi
        assert from_sbml_qual(to_sbml_qual(spec)) == spec
    with pytest.raises(ModelError, match="no logical model"):
        library.get_logical("nope")


def test_klamt_tcr_matches_the_repository_file_and_page(shared_data: Path) -> None:
    spec = library.get_logical("klamt2006_tcr")
    ref = from_ginml(shared_data / "sbml-qual-ginsim/2006-mammal-tcell-activation/TCRsig40.zginml")
    assert same_logic(spec, ref) == []
    fps = fixpoints(spec).as_dicts()
    combos = {(f["CD8"], f["CD45"], f["TCRlig"]) for f in fps}
    # page: seven stable states, one per input combination except all three inputs on
    assert len(fps) == 7 and len(combos) == 7 and (1, 1, 1) not in combos
    full = trap_spaces(spec.mutate({"CD8": 1, "CD45": 1, "TCRlig": 1}))
    assert len(full.spaces) == 1 and full.cyclic == (0,)  # the oscillation under full activation
    free = {k for k, v in full.as_dicts()[0].items() if v is None}
    assert {"ZAP70", "cCbl"} <= free


def test_mendoza_th_matches_the_repository_file_and_has_th0_th1_th2(shared_data: Path) -> None:
    spec = library.get_logical("mendoza2006_th")
    ref = from_ginml(shared_data / "sbml-qual-ginsim/2006-mammal-th-differentiation/Th_17.zginml")
    # the repository file holds IL-12, IL-18 and IFN-beta at 0; the library makes them inputs
    no_env = spec.mutate({"IL12": 0, "IL18": 0, "IFNb": 0})
    assert same_logic(no_env, ref) == []
    fps = fixpoints(spec, inputs={"IL12": 0, "IL18": 0, "IFNb": 0}).as_dicts()
    key = sorted(ref.species_ids)
    assert {tuple(f[k] for k in key) for f in fps} == {
        tuple(f[k] for k in key) for f in fixpoints(ref).as_dicts()
    }
    th0 = [f for f in fps if not any(f.values())]
    th1 = [f for f in fps if f["Tbet"] >= 1 and f["IFNg"] >= 1 and f["GATA3"] == 0]
    th2 = [f for f in fps if f["GATA3"] == 1 and f["IL4"] == 1 and f["Tbet"] == 0]
    assert len(th0) == 1 and len(th1) >= 1 and len(th2) == 1
    assert len(th0) + len(th1) + len(th2) == len(fps)
