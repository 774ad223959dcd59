"""SBML import and export: the public entry points and the MathML <-> sympy converters.

:func:`from_sbml` reads SBML Level 1 to 3 core into a :class:`~immunetwin.model.ModelSpec`;
:func:`to_sbml` writes a spec as SBML Level 3 Version 2. Math is converted by walking
libsbml's ``ASTNode`` trees (never via formula strings). Reading builds sympy expressions
without evaluation so that the structure written in the file is kept (``x/x`` stays ``x/x``);
writing mirrors the sympy tree node by node, so that reading back what was written gives the
very same expressions.

What SBML cannot hold exactly (observables, parameter bounds and priors, free-text units,
notes and metadata, and the full precision of numbers: libsbml writes doubles with 15
significant digits) travels in an annotation of the model in the immunetwin namespace
(:data:`IMMUNETWIN_NS`), so that ``from_sbml(to_sbml(spec))`` gives back an equal spec.
"""

from __future__ import annotations

import os

from ._sbml_math import IMMUNETWIN_NS
from ._sbml_read import read_sbml
from ._sbml_write import write_sbml
from ._spec import ModelSpec

__all__ = ["IMMUNETWIN_NS", "from_sbml", "to_sbml"]


def from_sbml(source: str | os.PathLike[str]) -> ModelSpec:
    """Read an SBML model (Level 1 to 3 core) into a :class:`ModelSpec`.

    Parameters
    ----------
    source
        A path to an SBML file, or the SBML document itself as a string (a string whose first
        non-blank character is ``<``).

    Raises
    ------
    SBMLError
        If the file is missing, or libsbml reports errors reading it (the messages are kept).
    UnsupportedSBMLFeature
        For fast reactions, SBML packages (comp, fbc, ...), MathML elements that have no
        meaning here, and other constructs that cannot be imported without loss.
    """
    return read_sbml(source)


def to_sbml(spec: ModelSpec) -> str:
    """Write ``spec`` as an SBML Level 3 Version 2 document (a string).

    Observables, parameter bounds, priors, estimation flags and sources, units that SBML cannot
    express, notes and metadata go into an immunetwin annotation on the model, so that
    :func:`from_sbml` restores them.
    """
    return write_sbml(spec)
