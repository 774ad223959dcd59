"""GINsim .zginml reader: same logic as the repository's own SBML-qual exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from immunetwin.errors import SBMLError
from immunetwin.model import from_ginml, from_sbml_qual
from immunetwin.simulate import compile_network


def test_every_zginml_with_an_sbml_export_has_the_same_logic(shared_data: Path) -> None:
    pairs = 0
    for sbml in sorted((shared_data / "sbml-qual-ginsim").glob("*/*.sbml")):
        a = from_sbml_qual(sbml)
        for zg in sorted(sbml.parent.glob("*.zginml")):
            b = from_ginml(zg)
            if set(b.species_ids) != set(a.species_ids):
                continue
            pairs += 1
            assert a.inputs == tuple(s for s in a.species_ids if s in b.inputs), zg.name
            b = b.replace(species=tuple(b.species[b.index(s)] for s in a.species_ids))
            na, nb = compile_network(a), compile_network(b)
            rng = np.random.default_rng(1)
            x = (rng.random((20_000, na.n)) * (na.maxes.astype(float) + 1)).astype(np.int8)
            bad = np.flatnonzero((na.targets(x) != nb.targets(x)).any(axis=0))
            assert bad.size == 0, f"{zg.name}: {[a.species_ids[i] for i in bad]}"
    assert pairs == 7


def test_every_zginml_reads(shared_data: Path) -> None:
    files = sorted((shared_data / "sbml-qual-ginsim").glob("*/*.zginml"))
    assert len(files) == 13
    for f in files:
        spec = from_ginml(f)
        assert spec.species and spec.transitions, f.name


def test_bad_files_name_themselves(tmp_path: Path) -> None:
    with pytest.raises(SBMLError, match="not found"):
        from_ginml(tmp_path / "x.zginml")
    bad = tmp_path / "bad.zginml"
    bad.write_text("<gxl><nothing/></gxl>")
    with pytest.raises(SBMLError, match="bad.zginml"):
        from_ginml(bad)
