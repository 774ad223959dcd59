"""The ``auto`` policy: start non-stiff, switch to a stiff method when the problem turns stiff.

It starts with Dormand-Prince 5(4) and, when Hairer's stiffness test fires (h*|lambda| > 3.25 on
15 accepted steps without 6 non-stiff ones in between; E. Hairer and G. Wanner, *Solving ODEs II*,
Sec. IV.2), switches to Rodas5 for the rest of the run. A policy, not a method: it runs two
solvers' kernels in the same driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._base import AbstractSolver
from ._dopri5 import DOPRI5
from ._records import SwitchPolicy
from ._rodas5 import RODAS5

__all__ = ["AUTO", "Auto"]


@dataclass(frozen=True, kw_only=True)
class Auto(AbstractSolver):
    """Run ``nonstiff`` until the stiffness test fires, then ``stiff`` for the rest of the run."""

    name: str = "auto"
    aliases: tuple[str, ...] = ()
    order: int = 5
    dense_order: int = 4
    stiff: bool = True
    nonstiff_method: AbstractSolver = field(default=DOPRI5)
    stiff_method: AbstractSolver = field(default=RODAS5)
    limit: float = 3.25
    stiff_steps: int = 15

    def kernel_records(self) -> tuple[Any, Any, SwitchPolicy]:
        """The non-stiff method's record, the stiff one's, and the switching rule."""
        first, _, _ = self.nonstiff_method.kernel_records()
        second, _, _ = self.stiff_method.kernel_records()
        return first, second, SwitchPolicy(True, self.limit, self.stiff_steps)


AUTO = Auto()
