"""Random draws in math: the functions of SBML Level 3's ``distrib`` package.

The ``distrib`` package lets math draw from a distribution, written as a MathML ``csymbol``
(``normal(mean, sd)``, ``uniform(a, b)``...). In a :class:`~immunetwin.model.ModelSpec` such a
draw is an application of a sympy function named as in the package (``normal``, ``uniform``,
``bernoulli``, ``binomial``, ``cauchy``, ``chisquare``, ``exponential``, ``gamma``, ``laplace``,
``lognormal``, ``poisson``, ``rayleigh``); the same names work in strings given to
:func:`~immunetwin.model.as_expr` and the builder. Every draw is fresh each time the math is
evaluated (an event assignment draws once per execution).

Arguments (the last two, when given, truncate the distribution to ``[lower, upper]``):

=============  ===========================================  ======================
function       arguments                                    truncated form
=============  ===========================================  ======================
normal         mean, standard deviation                     + lower, upper
uniform        minimum, maximum                             (none)
bernoulli      probability                                  (none)
binomial       number of trials, probability                + lower, upper
cauchy         scale (location 0) or location, scale        + lower, upper
chisquare      degrees of freedom                           + lower, upper
exponential    rate                                         + lower, upper
gamma          shape, scale                                 + lower, upper
laplace        scale (location 0) or location, scale        + lower, upper
lognormal      mean and sd of the logarithm                 + lower, upper
poisson        rate (mean)                                  + lower, upper
rayleigh       scale                                        + lower, upper
=============  ===========================================  ======================

Only the stochastic simulator (``simulate(..., method="ssa")``) evaluates them; the ODE
backends refuse a model that draws.
"""

from __future__ import annotations

import libsbml
import sympy as sp

__all__ = ["DISTRIBUTION_ARITY", "DISTRIBUTIONS", "distrib_draws", "from_libsbml_type"]

DISTRIBUTION_ARITY: dict[str, tuple[int, ...]] = {
    "normal": (2, 4),
    "uniform": (2,),
    "bernoulli": (1,),
    "binomial": (2, 4),
    "cauchy": (1, 2, 4),
    "chisquare": (1, 3),
    "exponential": (1, 3),
    "gamma": (2, 4),
    "laplace": (1, 2, 4),
    "lognormal": (2, 4),
    "poisson": (1, 3),
    "rayleigh": (1, 3),
}
"""The accepted numbers of arguments of each distribution function."""

DISTRIBUTIONS = frozenset(DISTRIBUTION_ARITY)
"""Names of the distribution functions (SBML ``distrib`` csymbols)."""

_LIBSBML_TYPES: dict[int, str] = {
    getattr(libsbml, f"AST_DISTRIB_FUNCTION_{name.upper()}"): name
    for name in DISTRIBUTIONS
    if hasattr(libsbml, f"AST_DISTRIB_FUNCTION_{name.upper()}")
}


def from_libsbml_type(ast_type: int) -> str | None:
    """The distribution name of a libsbml ``AST_DISTRIB_FUNCTION_*`` node type, else ``None``."""
    return _LIBSBML_TYPES.get(ast_type)


def distrib_draws(expr: sp.Basic) -> list[sp.Function]:
    """The applications of distribution functions in ``expr``."""
    return [
        f
        for f in expr.atoms(sp.Function)
        if isinstance(f.func, sp.core.function.UndefinedFunction)
        and f.func.__name__ in DISTRIBUTIONS
    ]
