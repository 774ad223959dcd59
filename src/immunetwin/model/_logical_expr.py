"""Conditions of logical (SBML-qual) function terms: a small immutable expression tree.

A condition compares species levels with integer levels (``A >= 2``) and combines comparisons
with ``and``, ``or``, ``xor`` and ``not``. The tree maps one to one onto the MathML subset that
SBML-qual uses, so reading and writing SBML-qual is lossless. :func:`parse_condition` reads the
GINsim-style text form used by the library builders (``"STAT1:2 & !GATA3"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ..errors import ModelError

__all__ = [
    "CMP_OPS",
    "LOGIC_OPS",
    "QCmp",
    "QConst",
    "QLogic",
    "QExpr",
    "QRef",
    "evaluate_condition",
    "parse_condition",
    "condition_refs",
    "render_condition",
]

CMP_OPS: tuple[str, ...] = ("eq", "neq", "lt", "leq", "gt", "geq")
"""Relational operators of SBML-qual conditions (MathML element names)."""
LOGIC_OPS: tuple[str, ...] = ("and", "or", "xor", "not")
"""Logical operators of SBML-qual conditions (MathML element names)."""


@dataclass(frozen=True, slots=True)
class QConst:
    """An integer level (``<cn type="integer">``) or a Boolean constant (``true``/``false``)."""

    value: int
    boolean: bool = False


@dataclass(frozen=True, slots=True)
class QRef:
    """The level of a species, or the threshold of a transition input (``<ci>``)."""

    name: str


@dataclass(frozen=True, slots=True)
class QCmp:
    """``left op right`` with ``op`` in :data:`CMP_OPS`."""

    op: str
    left: QConst | QRef
    right: QConst | QRef

    def __post_init__(self) -> None:
        if self.op not in CMP_OPS:
            raise ModelError(f"condition: unknown comparison '{self.op}'")


@dataclass(frozen=True, slots=True)
class QLogic:
    """``op(args...)`` with ``op`` in :data:`LOGIC_OPS` (``not`` takes one argument)."""

    op: str
    args: tuple[QExpr, ...]

    def __post_init__(self) -> None:
        if self.op not in LOGIC_OPS:
            raise ModelError(f"condition: unknown logical operator '{self.op}'")
        if self.op == "not" and len(self.args) != 1:
            raise ModelError("condition: 'not' takes exactly one argument")


QExpr = QConst | QRef | QCmp | QLogic
"""A condition (or one of its operands)."""


def condition_refs(expr: QExpr) -> Iterator[str]:
    """Every name referenced by ``expr`` (in order, with repeats)."""
    if isinstance(expr, QRef):
        yield expr.name
    elif isinstance(expr, QCmp):
        yield from condition_refs(expr.left)
        yield from condition_refs(expr.right)
    elif isinstance(expr, QLogic):
        for a in expr.args:
            yield from condition_refs(a)


_CMP = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "leq": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "geq": lambda a, b: a >= b,
}


def evaluate_condition(expr: QExpr, levels: Mapping[str, int]) -> int:
    """Evaluate ``expr`` given the levels (and thresholds) of the names it references.

    A comparison or logical operation gives 1 (true) or 0 (false); a bare reference gives its
    level, which counts as true when non-zero.
    """
    if isinstance(expr, QConst):
        return expr.value
    if isinstance(expr, QRef):
        try:
            return int(levels[expr.name])
        except KeyError:
            raise ModelError(f"condition: unknown name '{expr.name}'") from None
    if isinstance(expr, QCmp):
        return int(
            _CMP[expr.op](
                evaluate_condition(expr.left, levels), evaluate_condition(expr.right, levels)
            )
        )
    vals = [evaluate_condition(a, levels) != 0 for a in expr.args]
    if expr.op == "and":
        return int(all(vals))
    if expr.op == "or":
        return int(any(vals))
    if expr.op == "xor":
        return int(sum(vals) % 2 == 1)
    return int(not vals[0])


_SYM = {"eq": "==", "neq": "!=", "lt": "<", "leq": "<=", "gt": ">", "geq": ">="}


def render_condition(expr: QExpr) -> str:
    """A readable infix form (``(A >= 1 & !(B == 2))``), for messages and reports."""
    if isinstance(expr, QConst):
        return ("true" if expr.value else "false") if expr.boolean else str(expr.value)
    if isinstance(expr, QRef):
        return expr.name
    if isinstance(expr, QCmp):
        return f"{render_condition(expr.left)} {_SYM[expr.op]} {render_condition(expr.right)}"
    if expr.op == "not":
        return f"!({render_condition(expr.args[0])})"
    sep = {"and": " & ", "or": " | ", "xor": " ^ "}[expr.op]
    return "(" + sep.join(render_condition(a) for a in expr.args) + ")"


# ------------------------------------------------------------------ text form
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<lvl>\d+))?|(?P<op>[!&|()]))")


def parse_condition(text: str) -> QExpr:
    """Parse the GINsim-style text form of a condition.

    ``A`` means ``A >= 1``, ``A:2`` means ``A >= 2``, ``!`` negates, ``&`` binds tighter than
    ``|``, parentheses group; ``true``/``false`` are constants.

    Raises
    ------
    ModelError
        On a syntax error, naming the position.
    """
    tokens: list[tuple[str, str, int | None]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ModelError(f"condition {text!r}: unexpected character at position {pos}")
        if m.group("name"):
            lvl = m.group("lvl")
            tokens.append(("name", m.group("name"), int(lvl) if lvl else None))
        else:
            tokens.append(("op", m.group("op"), None))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    parser = _Parser(tokens, text)
    expr = parser.disjunction()
    if parser.i != len(tokens):
        raise ModelError(f"condition {text!r}: unexpected '{tokens[parser.i][1]}'")
    return expr


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int | None]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.i = 0

    def _peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def disjunction(self) -> QExpr:
        args = [self.conjunction()]
        while self._peek() == "|":
            self.i += 1
            args.append(self.conjunction())
        return args[0] if len(args) == 1 else QLogic("or", tuple(args))

    def conjunction(self) -> QExpr:
        args = [self.atom()]
        while self._peek() == "&":
            self.i += 1
            args.append(self.atom())
        return args[0] if len(args) == 1 else QLogic("and", tuple(args))

    def atom(self) -> QExpr:
        if self.i >= len(self.tokens):
            raise ModelError(f"condition {self.text!r}: unexpected end")
        kind, value, lvl = self.tokens[self.i]
        self.i += 1
        if kind == "op" and value == "!":
            return QLogic("not", (self.atom(),))
        if kind == "op" and value == "(":
            inner = self.disjunction()
            if self._peek() != ")":
                raise ModelError(f"condition {self.text!r}: missing ')'")
            self.i += 1
            return inner
        if kind == "name":
            if value in ("true", "false") and lvl is None:
                return QConst(int(value == "true"), boolean=True)
            return QCmp("geq", QRef(value), QConst(1 if lvl is None else lvl))
        raise ModelError(f"condition {self.text!r}: unexpected '{value}'")
