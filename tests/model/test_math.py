"""Expression parsing: names stay model ids, operators and reserved names are SBML's."""

from __future__ import annotations

import pytest
import sympy as sp

from immunetwin.errors import ModelError
from immunetwin.model import TIME, as_expr


def sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def test_names_that_clash_with_sympy_or_python_stay_symbols() -> None:
    e = as_expr("I + E + S + N + lambda + beta")
    assert e.free_symbols == {sym("I"), sym("E"), sym("S"), sym("N"), sym("lambda"), sym("beta")}


def test_powers_booleans_and_piecewise() -> None:
    assert as_expr("x^2") == sym("x") ** 2
    pw = as_expr("piecewise(1, time > 2 && x < 3, 0)")
    assert isinstance(pw, sp.Piecewise)
    assert pw.subs({TIME: 3, sym("x"): 1}) == 1
    assert pw.subs({TIME: 3, sym("x"): 5}) == 0
    assert as_expr("1 if x > 2 else 0").subs(sym("x"), 3) == 1


def test_time_is_reserved_and_log10_is_base_ten() -> None:
    assert as_expr("time") == TIME
    assert float(as_expr("log10(x)").subs(sym("x"), 1000)) == pytest.approx(3.0)


def test_bad_syntax_raises_model_error_naming_the_element() -> None:
    with pytest.raises(ModelError, match="r1"):
        as_expr("k * (A", where="r1")
    with pytest.raises(ModelError):
        as_expr("a[0]")
