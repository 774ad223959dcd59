"""MathML <-> sympy converters of the SBML reader and writer, and the numbers' round trip.

Math is converted by walking libsbml's ``ASTNode`` trees (never via formula strings). Reading
builds sympy expressions without evaluation so that the structure written in the file is kept
(``x/x`` stays ``x/x``); writing mirrors the sympy tree node by node, so that reading back what
was written gives the very same expressions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import libsbml
import sympy as sp
from sympy.core.function import UndefinedFunction
from sympy.logic.boolalg import Boolean

from ..errors import ModelError, UnsupportedSBMLFeature
from ._distrib import DISTRIBUTIONS, from_libsbml_type
from ._math import AVOGADRO, DELAY, RATE_OF, TIME

__all__ = [
    "IMMUNETWIN_NS",
    "RESERVED_IDS",
    "MathReader",
    "MathWriter",
    "float_key",
    "restore_float",
]

IMMUNETWIN_NS = "https://immunetwin.org/sbml/1"
"""Namespace of the immunetwin annotation that carries what SBML core cannot."""

RESERVED_IDS = frozenset({"time", "avogadro", "rateOf", "delay"})
"""Ids that clash with immunetwin's reserved symbols and functions."""


# ---------------------------------------------------------------------------- numbers
def float_key(value: float) -> str:
    """How a double looks after libsbml wrote it (15 significant digits) and read it back."""
    return repr(float(f"{value:.15g}"))


def restore_float(value: float, fixes: Mapping[str, str]) -> float:
    """The exact double that the writer recorded for ``value`` (or ``value`` itself)."""
    exact = fixes.get(repr(value))
    return float(exact) if exact is not None else value


# ---------------------------------------------------------------------------- MathML -> sympy
def _sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


_FUNCS1: dict[int, Any] = {
    libsbml.AST_FUNCTION_ABS: sp.Abs,
    libsbml.AST_FUNCTION_EXP: sp.exp,
    libsbml.AST_FUNCTION_LN: sp.log,
    libsbml.AST_FUNCTION_FLOOR: sp.floor,
    libsbml.AST_FUNCTION_CEILING: sp.ceiling,
    libsbml.AST_FUNCTION_FACTORIAL: sp.factorial,
    libsbml.AST_FUNCTION_SIN: sp.sin,
    libsbml.AST_FUNCTION_COS: sp.cos,
    libsbml.AST_FUNCTION_TAN: sp.tan,
    libsbml.AST_FUNCTION_SEC: sp.sec,
    libsbml.AST_FUNCTION_CSC: sp.csc,
    libsbml.AST_FUNCTION_COT: sp.cot,
    libsbml.AST_FUNCTION_SINH: sp.sinh,
    libsbml.AST_FUNCTION_COSH: sp.cosh,
    libsbml.AST_FUNCTION_TANH: sp.tanh,
    libsbml.AST_FUNCTION_SECH: sp.sech,
    libsbml.AST_FUNCTION_CSCH: sp.csch,
    libsbml.AST_FUNCTION_COTH: sp.coth,
    libsbml.AST_FUNCTION_ARCSIN: sp.asin,
    libsbml.AST_FUNCTION_ARCCOS: sp.acos,
    libsbml.AST_FUNCTION_ARCTAN: sp.atan,
    libsbml.AST_FUNCTION_ARCSEC: sp.asec,
    libsbml.AST_FUNCTION_ARCCSC: sp.acsc,
    libsbml.AST_FUNCTION_ARCCOT: sp.acot,
    libsbml.AST_FUNCTION_ARCSINH: sp.asinh,
    libsbml.AST_FUNCTION_ARCCOSH: sp.acosh,
    libsbml.AST_FUNCTION_ARCTANH: sp.atanh,
    libsbml.AST_FUNCTION_ARCSECH: sp.asech,
    libsbml.AST_FUNCTION_ARCCSCH: sp.acsch,
    libsbml.AST_FUNCTION_ARCCOTH: sp.acoth,
}

_RELATIONS: dict[int, Any] = {
    libsbml.AST_RELATIONAL_EQ: sp.Eq,
    libsbml.AST_RELATIONAL_NEQ: sp.Ne,
    libsbml.AST_RELATIONAL_LT: sp.Lt,
    libsbml.AST_RELATIONAL_LEQ: sp.Le,
    libsbml.AST_RELATIONAL_GT: sp.Gt,
    libsbml.AST_RELATIONAL_GEQ: sp.Ge,
}

_LOGICAL: dict[int, Any] = {
    libsbml.AST_LOGICAL_AND: sp.And,
    libsbml.AST_LOGICAL_OR: sp.Or,
    libsbml.AST_LOGICAL_XOR: sp.Xor,
}

_AST_NAMES: dict[int, str] = {
    v: k[4:].lower()
    for k, v in vars(libsbml).items()
    if k.startswith("AST_") and isinstance(v, int)
}


def _flat(cls: type[sp.Basic], args: tuple[sp.Basic, ...]) -> list[sp.Basic]:
    if any(isinstance(a, Boolean) and not isinstance(a, sp.Expr) for a in args):
        raise TypeError("a boolean is used as a number")
    """Arguments with nested ``cls`` nodes spliced in.

    libsbml writes nested ``times``/``plus`` as one n-ary element and reads n-ary ones as nested
    binary trees, so sums and products are kept flat to read back what was written.
    """
    out: list[sp.Basic] = []
    for a in args:
        out.extend(a.args if type(a) is cls else (a,))
    return out


def _mul(*args: sp.Basic) -> sp.Basic:
    return sp.Mul(*_flat(sp.Mul, args), evaluate=False)


def _add(*args: sp.Basic) -> sp.Basic:
    return sp.Add(*_flat(sp.Add, args), evaluate=False)


def _pow(base: sp.Basic, exp: sp.Basic) -> sp.Basic:
    _flat(sp.Pow, (base, exp))  # type check only
    return sp.Pow(base, exp, evaluate=False)


def _neg(x: sp.Basic) -> sp.Basic:
    return _mul(sp.S.NegativeOne, x)


def _quotient(a: sp.Basic, b: sp.Basic) -> sp.Basic:
    """``quotient(a, b)``: the integer part of a / b, truncated towards zero."""
    q = _mul(a, _pow(b, sp.S.NegativeOne))
    return sp.Piecewise(
        (sp.floor(q, evaluate=False), sp.Ge(q, sp.S.Zero, evaluate=False)),
        (sp.ceiling(q, evaluate=False), sp.true),
        evaluate=False,
    )


class MathReader:
    """Converts libsbml ``ASTNode`` trees to sympy.

    Parameters
    ----------
    element
        The id of the element whose math is read (for error messages).
    fixes
        Exact float values recorded by :func:`to_sbml` (see :func:`restore_float`).
    """

    def __init__(self, fixes: Mapping[str, str] | None = None, source: str | None = None) -> None:
        self.fixes: Mapping[str, str] = fixes or {}
        self.source = source
        self._names: Mapping[str, str] = {}

    def convert(
        self, node: libsbml.ASTNode | None, element: str, names: Mapping[str, str] | None = None
    ) -> sp.Basic:
        """The sympy expression of ``node`` (the math of ``element``).

        ``names`` renames identifiers (``ci`` elements only), e.g. promoted local parameters.
        """
        if node is None:
            raise UnsupportedSBMLFeature("element without math", element, source=self.source)
        self._names = names or {}
        try:
            return self._conv(node, element)
        except UnsupportedSBMLFeature:
            raise
        except (TypeError, ValueError, AttributeError) as exc:
            raise UnsupportedSBMLFeature(
                f"MathML that sympy cannot represent ({exc})", element, source=self.source
            ) from exc

    def _unsupported(self, node: libsbml.ASTNode, element: str) -> UnsupportedSBMLFeature:
        name = _AST_NAMES.get(node.getType(), str(node.getType()))
        extra = f" '{node.getName()}'" if node.getName() else ""
        return UnsupportedSBMLFeature(f"MathML element {name}{extra}", element, source=self.source)

    def _conv(self, node: libsbml.ASTNode, element: str) -> sp.Basic:  # noqa: C901 - one branch per node type
        t = node.getType()
        kids = [self._conv(node.getChild(i), element) for i in range(node.getNumChildren())]
        if t == libsbml.AST_INTEGER:
            return sp.Integer(node.getInteger())
        if t == libsbml.AST_REAL:
            return self._real(node.getReal())
        if t == libsbml.AST_REAL_E:
            return self._real(float(f"{node.getMantissa()!r}e{node.getExponent()}"))
        if t == libsbml.AST_RATIONAL:
            return sp.Rational(node.getNumerator(), node.getDenominator())
        if t == libsbml.AST_NAME:
            return _sym(self._names.get(node.getName(), node.getName()))
        if t == libsbml.AST_NAME_TIME:
            return TIME
        if t == libsbml.AST_NAME_AVOGADRO:
            return AVOGADRO
        if t == libsbml.AST_CONSTANT_E:
            return sp.E
        if t == libsbml.AST_CONSTANT_PI:
            return sp.pi
        if t == libsbml.AST_CONSTANT_TRUE:
            return sp.true
        if t == libsbml.AST_CONSTANT_FALSE:
            return sp.false
        if t == libsbml.AST_PLUS:
            return sp.S.Zero if not kids else kids[0] if len(kids) == 1 else _add(*kids)
        if t == libsbml.AST_TIMES:
            return sp.S.One if not kids else kids[0] if len(kids) == 1 else _mul(*kids)
        if t == libsbml.AST_MINUS:
            if len(kids) == 1:
                return _neg(kids[0])
            if len(kids) == 2:
                return _add(kids[0], _neg(kids[1]))
        if t == libsbml.AST_DIVIDE and len(kids) == 2:
            return _mul(kids[0], _pow(kids[1], sp.S.NegativeOne))
        if t in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER) and len(kids) == 2:
            return _pow(kids[0], kids[1])
        if t == libsbml.AST_FUNCTION_ROOT:
            if len(kids) == 1:
                return _pow(kids[0], sp.S.Half)
            if len(kids) == 2:
                degree = kids[0]
                exp = (
                    sp.Rational(1, int(degree))
                    if isinstance(degree, sp.Integer) and degree != 0
                    else _pow(degree, sp.S.NegativeOne)
                )
                return _pow(kids[1], exp)
        if t == libsbml.AST_FUNCTION_LOG:
            if len(kids) == 1:
                kids = [sp.Integer(10), kids[0]]
            if len(kids) == 2:
                return _mul(
                    sp.log(kids[1], evaluate=False),
                    _pow(sp.log(kids[0], evaluate=False), sp.S.NegativeOne),
                )
        if t in _FUNCS1 and len(kids) == 1:
            return _FUNCS1[t](kids[0], evaluate=False)
        if t in (libsbml.AST_FUNCTION_MIN, libsbml.AST_FUNCTION_MAX) and kids:
            fn = sp.Min if t == libsbml.AST_FUNCTION_MIN else sp.Max
            return kids[0] if len(kids) == 1 else fn(*kids, evaluate=False)
        if t == libsbml.AST_FUNCTION_QUOTIENT and len(kids) == 2:
            return _quotient(kids[0], kids[1])
        if t == libsbml.AST_FUNCTION_REM and len(kids) == 2:
            return _add(kids[0], _neg(_mul(kids[1], _quotient(kids[0], kids[1]))))
        if t == libsbml.AST_FUNCTION_PIECEWISE:
            pairs: list[tuple[sp.Basic, sp.Basic]] = [
                (kids[i], kids[i + 1]) for i in range(0, len(kids) - 1, 2)
            ]
            if len(kids) % 2:
                pairs.append((kids[-1], sp.true))
            if not pairs:
                raise self._unsupported(node, element)
            return sp.Piecewise(*pairs, evaluate=False)
        if t in _RELATIONS and len(kids) >= 2:
            rel = _RELATIONS[t]
            if t == libsbml.AST_RELATIONAL_NEQ and len(kids) != 2:
                raise self._unsupported(node, element)
            parts = [rel(kids[i], kids[i + 1], evaluate=False) for i in range(len(kids) - 1)]
            return parts[0] if len(parts) == 1 else sp.And(*parts)
        if t in _LOGICAL:
            if not kids:
                return sp.false if t != libsbml.AST_LOGICAL_AND else sp.true
            return kids[0] if len(kids) == 1 else _LOGICAL[t](*kids)
        if t == libsbml.AST_LOGICAL_NOT and len(kids) == 1:
            return sp.Not(kids[0], evaluate=False)
        if t == libsbml.AST_LOGICAL_IMPLIES and len(kids) == 2:
            return sp.Implies(kids[0], kids[1], evaluate=False)
        if t == libsbml.AST_FUNCTION_DELAY and len(kids) == 2:
            return DELAY(*kids)
        if t == libsbml.AST_FUNCTION_RATE_OF and len(kids) == 1:
            return RATE_OF(*kids)
        if t == libsbml.AST_FUNCTION and node.getName():
            return sp.Function(node.getName())(*kids)
        draw = from_libsbml_type(t)
        if draw is not None:
            return sp.Function(draw)(*kids)  # a distrib package draw (see _distrib.py)
        raise self._unsupported(node, element)

    def _real(self, value: float) -> sp.Basic:
        if math.isnan(value):
            return sp.nan
        if math.isinf(value):
            return sp.oo if value > 0 else sp.S.NegativeInfinity
        return sp.Float(restore_float(value, self.fixes))


# ---------------------------------------------------------------------------- sympy -> MathML
_FUNCS1_OUT: dict[Any, int] = {v: k for k, v in _FUNCS1.items()}
_RELATIONS_OUT: dict[Any, int] = {v: k for k, v in _RELATIONS.items()}
_LOGICAL_OUT: dict[Any, int] = {v: k for k, v in _LOGICAL.items()}


class MathWriter:
    """Converts sympy expressions to libsbml ``ASTNode`` trees, node by node.

    Every double written is passed to ``note_float`` so that its exact value can be recorded.
    """

    def __init__(self, note_float: Callable[[float], None]) -> None:
        self.note_float = note_float

    def convert(self, expr: sp.Basic, element: str) -> libsbml.ASTNode:
        """The ASTNode of ``expr`` (the math of ``element``)."""
        return self._conv(expr, element)

    def lambda_(self, args: tuple[str, ...], body: sp.Basic, element: str) -> libsbml.ASTNode:
        """A MathML ``lambda`` for a function definition."""
        node = libsbml.ASTNode(libsbml.AST_LAMBDA)
        for a in args:
            bvar = libsbml.ASTNode(libsbml.AST_NAME)
            bvar.setName(a)
            node.addChild(bvar)
        node.addChild(self._conv(body, element))
        return node

    @staticmethod
    def _node(t: int, *children: libsbml.ASTNode) -> libsbml.ASTNode:
        node = libsbml.ASTNode(t)
        for c in children:
            node.addChild(c)
        return node

    def _real(self, value: float) -> libsbml.ASTNode:
        node = libsbml.ASTNode(libsbml.AST_REAL)
        node.setValue(value)
        if math.isfinite(value):
            self.note_float(value)
        return node

    def _conv(self, e: sp.Basic, where: str) -> libsbml.ASTNode:  # noqa: C901 - one branch per node type
        c = self._conv
        if e is sp.true or e is sp.false:
            return libsbml.ASTNode(
                libsbml.AST_CONSTANT_TRUE if e is sp.true else libsbml.AST_CONSTANT_FALSE
            )
        if isinstance(e, sp.Integer):
            if abs(int(e)) < 2**62:
                node = libsbml.ASTNode(libsbml.AST_INTEGER)
                node.setValue(int(e))
                return node
            return self._real(float(e))
        if isinstance(e, sp.Rational):
            if abs(e.p) < 2**62 and e.q < 2**62:
                node = libsbml.ASTNode(libsbml.AST_RATIONAL)
                node.setValue(int(e.p), int(e.q))
                return node
            return self._real(float(e))
        if isinstance(e, sp.Float):
            return self._real(float(e))
        if e is sp.pi:
            return libsbml.ASTNode(libsbml.AST_CONSTANT_PI)
        if e is sp.E:
            return libsbml.ASTNode(libsbml.AST_CONSTANT_E)
        if e is sp.oo or e is sp.S.NegativeInfinity or e is sp.nan:
            return self._real(float(e))
        if isinstance(e, sp.Symbol):
            if e == TIME:
                node = libsbml.ASTNode(libsbml.AST_NAME_TIME)
                node.setName("time")
                return node
            if e == AVOGADRO:
                node = libsbml.ASTNode(libsbml.AST_NAME_AVOGADRO)
                node.setName("avogadro")
                return node
            node = libsbml.ASTNode(libsbml.AST_NAME)
            node.setName(e.name)
            return node
        args = e.args
        if isinstance(e, sp.Add):
            return self._node(libsbml.AST_PLUS, *(c(a, where) for a in args))
        if isinstance(e, sp.Mul):
            return self._node(libsbml.AST_TIMES, *(c(a, where) for a in args))
        if isinstance(e, sp.Pow):
            return self._node(libsbml.AST_POWER, c(args[0], where), c(args[1], where))
        if isinstance(e, sp.Piecewise):
            node = libsbml.ASTNode(libsbml.AST_FUNCTION_PIECEWISE)
            for i, (val, cond) in enumerate(args):
                node.addChild(c(val, where))
                if not (cond is sp.true and i == len(args) - 1):
                    node.addChild(c(cond, where))
            return node
        if type(e) in _RELATIONS_OUT:
            return self._node(_RELATIONS_OUT[type(e)], c(args[0], where), c(args[1], where))
        if type(e) in _LOGICAL_OUT:
            return self._node(_LOGICAL_OUT[type(e)], *(c(a, where) for a in args))
        if isinstance(e, sp.Not):
            return self._node(libsbml.AST_LOGICAL_NOT, c(args[0], where))
        if isinstance(e, sp.Implies):
            return self._node(libsbml.AST_LOGICAL_IMPLIES, c(args[0], where), c(args[1], where))
        if isinstance(e, sp.log):
            if len(args) == 1:
                return self._node(libsbml.AST_FUNCTION_LN, c(args[0], where))
            return self._node(libsbml.AST_FUNCTION_LOG, c(args[1], where), c(args[0], where))
        if type(e) in _FUNCS1_OUT and len(args) == 1:
            return self._node(_FUNCS1_OUT[type(e)], c(args[0], where))
        if isinstance(e, sp.Min | sp.Max):
            t = libsbml.AST_FUNCTION_MIN if isinstance(e, sp.Min) else libsbml.AST_FUNCTION_MAX
            return self._node(t, *(c(a, where) for a in args))
        if isinstance(e, sp.Mod):
            a, b = args
            q = _mul(a, _pow(b, sp.S.NegativeOne))
            return c(_add(a, _neg(_mul(b, sp.floor(q, evaluate=False)))), where)
        if isinstance(e, sp.sign):
            x = args[0]
            pw = sp.Piecewise(
                (sp.S.One, sp.Gt(x, 0, evaluate=False)),
                (sp.S.NegativeOne, sp.Lt(x, 0, evaluate=False)),
                (sp.S.Zero, sp.true),
                evaluate=False,
            )
            return c(pw, where)
        if isinstance(e, sp.Function) and isinstance(e.func, UndefinedFunction):
            name = e.func.__name__
            if name == "delay" and len(args) == 2:
                node = self._node(libsbml.AST_FUNCTION_DELAY, c(args[0], where), c(args[1], where))
                node.setName("delay")
                return node
            if name == "rateOf" and len(args) == 1:
                node = self._node(libsbml.AST_FUNCTION_RATE_OF, c(args[0], where))
                node.setName("rateOf")
                return node
            if name in DISTRIBUTIONS:
                raise UnsupportedSBMLFeature(f"writing the distrib draw {name}() to SBML", where)
            node = self._node(libsbml.AST_FUNCTION, *(c(a, where) for a in args))
            node.setName(name)
            return node
        raise ModelError(f"'{where}': cannot write {type(e).__name__} ({e}) as MathML")
