"""Python source for numba from sympy expressions: the printer of the generated model code.

Math-module functions, conditional expressions for ``Piecewise``, and rewrites of functions the
math module lacks; ``time`` becomes the generated function's local ``t``.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..model import TIME

_T = sp.Symbol("t", real=True)


class _Printer(PythonCodePrinter):  # type: ignore[misc]
    """Python code for numba: math module functions, conditional expressions for Piecewise."""

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        out = "math.nan"
        for value, cond in reversed(expr.args):
            if cond == sp.true:
                out = f"({self._print(value)})"
            else:
                out = f"(({self._print(value)}) if ({self._print(cond)}) else {out})"
        return out

    def _print_Heaviside(self, expr: sp.Basic) -> str:
        return f"(1.0 if ({self._print(expr.args[0])}) > 0 else 0.0)"

    def _print_DiracDelta(self, expr: sp.Basic) -> str:
        return "0.0"

    def _print_Derivative(self, expr: sp.Basic) -> str:
        return "0.0"

    def _print_sign(self, expr: sp.Basic) -> str:
        a = self._print(expr.args[0])
        return f"(0.0 if ({a}) == 0 else math.copysign(1.0, {a}))"

    def _print_gamma(self, expr: sp.Basic) -> str:
        return f"math.gamma({self._print(expr.args[0])})"

    def _print_polygamma(self, expr: sp.Basic) -> str:
        # only reached through derivatives of factorial/gamma; digamma by a central difference
        order, x = expr.args
        if order != 0:
            return "math.nan"
        a = self._print(x)
        return f"((math.lgamma(({a}) + 1e-6) - math.lgamma(({a}) - 1e-6)) / 2e-6)"

    def _print_factorial(self, expr: sp.Basic) -> str:
        return f"math.gamma(({self._print(expr.args[0])}) + 1.0)"

    def _print_Xor(self, expr: sp.Basic) -> str:
        return "(" + " != ".join(f"bool({self._print(a)})" for a in expr.args) + ")"

    def _print_BooleanTrue(self, expr: sp.Basic) -> str:
        return "True"

    def _print_BooleanFalse(self, expr: sp.Basic) -> str:
        return "False"

    def _print_Rational(self, expr: sp.Rational) -> str:
        return f"({float(expr.p)!r}/{float(expr.q)!r})"

    def _print_Integer(self, expr: sp.Integer) -> str:
        return f"{float(expr)!r}"

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Infinity(self, expr: sp.Basic) -> str:
        return "math.inf"

    def _print_NegativeInfinity(self, expr: sp.Basic) -> str:
        return "(-math.inf)"

    def _print_NaN(self, expr: sp.Basic) -> str:
        return "math.nan"

    def _print_Min(self, expr: sp.Basic) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Max(self, expr: sp.Basic) -> str:
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.args
        if exp == sp.Rational(1, 2):
            return f"math.sqrt({self._print(base)})"
        if exp.is_Integer and -4 <= int(exp) <= 4 and int(exp) != 0:
            b = self._print(base)
            k = abs(int(exp))
            prod = "*".join([f"({b})"] * k)
            return f"(1.0/({prod}))" if int(exp) < 0 else f"({prod})"
        return f"(({self._print(base)})**({self._print(exp)}))"


_REWRITES = {
    "sec": lambda a: 1 / sp.cos(a),
    "csc": lambda a: 1 / sp.sin(a),
    "cot": lambda a: 1 / sp.tan(a),
    "sech": lambda a: 1 / sp.cosh(a),
    "csch": lambda a: 1 / sp.sinh(a),
    "coth": lambda a: 1 / sp.tanh(a),
    "asec": lambda a: sp.acos(1 / a),
    "acsc": lambda a: sp.asin(1 / a),
    "acot": lambda a: sp.atan(1 / a),
    "asech": lambda a: sp.acosh(1 / a),
    "acsch": lambda a: sp.asinh(1 / a),
    "acoth": lambda a: sp.atanh(1 / a),
}


def _prepare(expr: sp.Basic) -> sp.Basic:
    """Rewrite functions the math module lacks; replace ``time`` by the local ``t``."""
    fns = [f for f in expr.atoms(sp.Function) if type(f).__name__ in _REWRITES]
    if fns:
        expr = expr.xreplace({f: _REWRITES[type(f).__name__](*f.args) for f in fns})
    return expr.xreplace({TIME: _T})
