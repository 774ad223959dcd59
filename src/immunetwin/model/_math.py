"""Symbolic math for model specifications.

Expressions are held as sympy expressions whose free symbols are model ids. A few symbols and
functions are reserved and carry SBML's special meanings:

``time`` (:data:`TIME`)
    The simulation time (SBML ``csymbol time``).
``avogadro`` (:data:`AVOGADRO`)
    Avogadro's constant (SBML ``csymbol avogadro``).
``rateOf(x)`` (:data:`RATE_OF`)
    The time derivative of ``x`` (SBML L3V2 ``csymbol rateOf``).
``delay(x, d)`` (:data:`DELAY`)
    The value of ``x`` at ``time - d`` (SBML ``csymbol delay``).
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..errors import ModelError

__all__ = [
    "AVOGADRO",
    "AVOGADRO_VALUE",
    "DELAY",
    "RATE_OF",
    "TIME",
    "Expr",
    "as_expr",
    "expr_to_str",
    "free_names",
]

Expr = sp.Basic
"""Type of a symbolic expression (numeric, relational or boolean)."""

TIME = sp.Symbol("time", real=True)
AVOGADRO = sp.Symbol("avogadro", real=True)
AVOGADRO_VALUE = 6.02214179e23
"""Avogadro's constant as the SBML Level 3 specification defines it (CODATA 2006)."""
RATE_OF = sp.Function("rateOf")
DELAY = sp.Function("delay")

_RESERVED: dict[str, Any] = {
    "time": TIME,
    "avogadro": AVOGADRO,
    "rateOf": RATE_OF,
    "delay": DELAY,
    "exp": sp.exp,
    "log": sp.log,
    "ln": sp.log,
    "log10": lambda x: sp.log(x, 10),
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "Abs": sp.Abs,
    "min": sp.Min,
    "max": sp.Max,
    "Min": sp.Min,
    "Max": sp.Max,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "tanh": sp.tanh,
    "floor": sp.floor,
    "ceil": sp.ceiling,
    "ceiling": sp.ceiling,
    "pi": sp.pi,
    "Piecewise": sp.Piecewise,
    "piecewise": sp.Piecewise,
    "And": sp.And,
    "Or": sp.Or,
    "Not": sp.Not,
    "true": sp.true,
    "false": sp.false,
}

_OPERATOR_WORDS = {"and", "or", "not", "if", "else", "True", "False"}
_KW_RE = re.compile(
    r"\b(" + "|".join(sorted(set(keyword.kwlist) - _OPERATOR_WORDS, key=len, reverse=True)) + r")\b"
)
_BINOPS: dict[type, Any] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
    ast.Mod: lambda a, b: sp.Mod(a, b),
}
_CMPOPS: dict[type, Any] = {
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
    ast.Eq: sp.Eq,
    ast.NotEq: sp.Ne,
}


def _symbol(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def _name(raw: str) -> str:
    return raw[: -len("_kw__")] if raw.endswith("_kw__") else raw


def _convert(node: ast.AST, text: str) -> Any:  # noqa: C901 - one branch per syntax node
    if isinstance(node, ast.Expression):
        return _convert(node.body, text)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        if isinstance(node.value, int):
            return sp.Integer(node.value)
        if isinstance(node.value, float):
            return sp.Float(node.value)
    if isinstance(node, ast.Name):
        name = _name(node.id)
        reserved = _RESERVED.get(name)
        if reserved is not None and isinstance(reserved, sp.Basic):
            return reserved
        return _symbol(name)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_convert(node.left, text), _convert(node.right, text))
    if isinstance(node, ast.UnaryOp):
        val = _convert(node.operand, text)
        if isinstance(node.op, ast.USub):
            return -val
        if isinstance(node.op, ast.UAdd):
            return val
        if isinstance(node.op, ast.Not):
            return sp.Not(val)
    if isinstance(node, ast.BoolOp):
        vals = [_convert(v, text) for v in node.values]
        return sp.And(*vals) if isinstance(node.op, ast.And) else sp.Or(*vals)
    if isinstance(node, ast.Compare):
        parts = []
        left = _convert(node.left, text)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _convert(comp, text)
            parts.append(_CMPOPS[type(op)](left, right))
            left = right
        return parts[0] if len(parts) == 1 else sp.And(*parts)
    if isinstance(node, ast.IfExp):
        return sp.Piecewise(
            (_convert(node.body, text), _convert(node.test, text)),
            (_convert(node.orelse, text), True),
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        fname = _name(node.func.id)
        args = [_convert(a, text) for a in node.args]
        if fname in ("Piecewise", "piecewise"):
            return _piecewise(args)
        fn = _RESERVED.get(fname)
        if fn is not None and not isinstance(fn, sp.Basic):
            return fn(*args)
        return sp.Function(fname)(*args)
    if isinstance(node, ast.Tuple):
        return tuple(_convert(e, text) for e in node.elts)
    raise ModelError(f"unsupported syntax {type(node).__name__} in {text!r}")


def _piecewise(args: list[Any]) -> sp.Basic:
    """``piecewise(v1, c1, v2, c2, ..., otherwise)`` or sympy's ``Piecewise((v, c), ...)``."""
    if args and all(isinstance(a, tuple) for a in args):
        return sp.Piecewise(*args)
    pairs: list[tuple[Any, Any]] = [(args[i], args[i + 1]) for i in range(0, len(args) - 1, 2)]
    if len(args) % 2:
        pairs.append((args[-1], sp.true))
    return sp.Piecewise(*pairs)


def as_expr(value: str | float | int | sp.Basic, *, where: str = "") -> sp.Basic:
    """Turn a number, a string or a sympy expression into a model expression.

    Strings use Python/sympy syntax (``^`` is accepted for powers). Every unknown name becomes a
    real symbol named by the model id; reserved names are listed in the module docstring.

    Parameters
    ----------
    value
        The expression.
    where
        The element the expression belongs to, used in error messages.

    Raises
    ------
    ModelError
        If the string cannot be parsed.
    """
    if isinstance(value, sp.Basic):
        return _realify(value)
    if isinstance(value, bool):
        return sp.true if value else sp.false
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return sp.nan if math.isnan(value) else (sp.oo if value > 0 else -sp.oo)
        return sp.Float(value) if isinstance(value, float) else sp.Integer(value)
    if not isinstance(value, str):
        raise ModelError(f"{where or 'expression'}: expected a string or number, got {value!r}")
    text = value.replace("^", "**").replace("&&", " and ").replace("||", " or ")
    text = _KW_RE.sub(lambda m: m.group(1) + "_kw__", text)
    try:
        out = _convert(ast.parse(text.strip(), mode="eval"), value)
    except ModelError as exc:
        raise ModelError(f"{where or 'expression'}: {exc}") from exc
    except (SyntaxError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ModelError(f"{where or 'expression'}: cannot parse {value!r}: {exc}") from exc
    if not isinstance(out, sp.Basic):
        raise ModelError(f"{where or 'expression'}: {value!r} is not an expression")
    return _realify(out)


def _realify(expr: sp.Basic) -> sp.Basic:
    """Replace plain symbols by real symbols of the same name (so that equal names compare equal)."""
    subs = {
        s: _symbol(s.name) for s in expr.free_symbols if isinstance(s, sp.Symbol) and not s.is_real
    }
    return expr.xreplace(subs) if subs else expr


def free_names(expr: sp.Basic) -> frozenset[str]:
    """Names of the free symbols of ``expr`` (model ids), without the reserved ``time``."""
    return frozenset(s.name for s in expr.free_symbols if isinstance(s, sp.Symbol)) - {
        "time",
        "avogadro",
    }


def function_names(expr: sp.Basic) -> frozenset[str]:
    """Names of the undefined (user) functions applied in ``expr``."""
    return frozenset(
        f.func.__name__
        for f in expr.atoms(sp.Function)
        if isinstance(f.func, sp.core.function.UndefinedFunction)
    )


def expr_to_str(expr: sp.Basic) -> str:
    """A canonical, parseable string for ``expr`` (used for hashing and display)."""
    return str(sp.srepr(expr))


def substitute(expr: sp.Basic, mapping: Mapping[str, sp.Basic]) -> sp.Basic:
    """Substitute symbols by name."""
    subs = {
        s: mapping[s.name]
        for s in expr.free_symbols
        if isinstance(s, sp.Symbol) and s.name in mapping
    }
    return expr.xreplace(subs) if subs else expr
